"""Activation patching in both directions, many patches per forward pass.

Two runs of the same length: *clean* (the model gets it right) and *corrupt* (one detail changed).
Patching copies one activation from a *source* run into a *target* run and measures the target's
output:

- denoising (`direction="denoise"`): clean activation into the corrupt run. A cell that restores
  the clean answer is *sufficient* to carry the information.
- noising (`direction="noise"`): corrupt activation into the clean run. A cell that destroys the
  answer is *necessary*.

An AND of two heads shows only in denoising's opposite (noising either one breaks it; restoring
one alone does not), an OR the other way round, so look at both (the seeds: "really you should
check both").

Components (cell axes): `resid_pre` (layer, pos), `attn_out` (layer, pos), `mlp_out` (layer,
pos), `head_out` (layer, head: one head's output `hook_z` at every position), `head_out_by_pos`
(layer, pos, head). Results equal transformer-lens' `patching.get_act_patch_*` on the same inputs.

Work: a patch at layer L, position p leaves every position before p untouched at every layer and
everything before layer L untouched. So each patched run starts from the target run's cached
residual stream at layer L, recomputes only positions p.. (attending over the target's cached keys
and values for earlier positions), and many runs go through the model as one batch, chunked to
`rows_per_chunk` suffix positions (`incremental.PrefixRunner` does the block maths). Models where
that does not apply (not a TransformerLens native model) patch with hooks, batched the same way.

Metrics, evaluated on each patched run's logits: `LogitDiff(answer, wrong)` (last position),
`AnswerProb(answer)`, or any function of the logits `[runs, pos, vocab] -> [runs]` (checked).
`normalised` maps the metric so the clean run is 1 and the corrupt run 0.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.ablation import as_tokens
from interp_widgets.compute.hooks import one_token_id
from interp_widgets.compute.incremental import PrefixRunner
from interp_widgets.errors import InterpWidgetsError

COMPONENTS = {
    "resid_pre": ("layer", "pos"),
    "attn_out": ("layer", "pos"),
    "mlp_out": ("layer", "pos"),
    "head_out": ("layer", "head"),
    "head_out_by_pos": ("layer", "pos", "head"),
}
HOOKS = {"resid_pre": "blocks.{}.hook_resid_pre", "attn_out": "blocks.{}.hook_attn_out", "mlp_out": "blocks.{}.hook_mlp_out",
         "head_out": "blocks.{}.attn.hook_z", "head_out_by_pos": "blocks.{}.attn.hook_z"}
ROWS_PER_CHUNK = 4096


# ---- metrics ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogitDiff:
    """Logit of `answer` minus logit of `wrong` at the last position (token ids)."""

    answer: int
    wrong: int
    last_only = True

    def __call__(self, last_logits: Tensor) -> Tensor:
        return last_logits[:, self.answer] - last_logits[:, self.wrong]

    @property
    def label(self) -> str:
        return "logit difference"


@dataclass(frozen=True)
class AnswerProb:
    """Probability of `answer` at the last position."""

    answer: int
    last_only = True

    def __call__(self, last_logits: Tensor) -> Tensor:
        return last_logits.float().softmax(-1)[:, self.answer]

    @property
    def label(self) -> str:
        return "answer probability"


class UserMetric:
    """A function of the full logits `[runs, pos, vocab]` giving one number per run."""

    last_only = False
    label = "metric"

    def __init__(self, function: Callable[[Tensor], Tensor]) -> None:
        self.function = function

    def __call__(self, logits: Tensor) -> Tensor:
        out = torch.as_tensor(self.function(logits))
        if out.shape != (logits.shape[0],):
            raise InterpWidgetsError(f"the metric must return one number per run, a tensor of shape [{logits.shape[0]}] for logits "
                                     f"of shape {list(logits.shape)}; it returned shape {list(out.shape)}.")
        return out.float()


def as_metric(model: Any, metric: Any) -> LogitDiff | AnswerProb | UserMetric:
    """`(answer, wrong)` strings or ids -> LogitDiff; one string or id -> AnswerProb; a callable -> UserMetric."""
    if isinstance(metric, (LogitDiff, AnswerProb, UserMetric)):
        return metric
    if callable(metric):
        return UserMetric(metric)
    if isinstance(metric, tuple) and len(metric) == 2:
        return LogitDiff(single_token(model, metric[0]), single_token(model, metric[1]))
    if isinstance(metric, (str, int)):
        return AnswerProb(single_token(model, metric))
    raise InterpWidgetsError("metric: pass (answer, wrong) for a logit difference, one answer for its probability, "
                             "or a function of the logits [runs, pos, vocab] returning [runs].")


def single_token(model: Any, token: str | int) -> int:
    """The id of an answer given as one-token text (e.g. " Mary") or an id, checked."""
    return one_token_id(model, token, "answer")


# ---- result -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PatchingResult:
    """The metric of every patched run.

    values      `[layer, pos]`, `[layer, head]` or `[layer, pos, head]` (axes)
    clean, corrupt  the metric on the unpatched runs
    """

    component: str
    direction: str
    axes: tuple[str, ...]
    values: Tensor
    clean: float
    corrupt: float
    tokens: list[str]

    @property
    def normalised(self) -> Tensor:
        """`(value - corrupt) / (clean - corrupt)`: 1 where the patched run behaves like the clean one, 0 like the corrupt."""
        spread = self.clean - self.corrupt
        if abs(spread) < 1e-9:
            raise InterpWidgetsError("the metric is the same on the clean and the corrupt run, so it cannot be normalised: "
                                     "choose prompts that the model answers differently.")
        return (self.values - self.corrupt) / spread


# ---- checking a pair ----------------------------------------------------------------------

def token_pair(model: Any, clean: str | Tensor, corrupt: str | Tensor) -> tuple[Tensor, Tensor]:
    """Both prompts as `[1, pos]` tokens of the same length, or an error naming where they differ."""
    clean_tokens, corrupt_tokens = as_tokens(model, clean), as_tokens(model, corrupt)
    if clean_tokens.shape != corrupt_tokens.shape:
        a, b = [str(t) for t in model.to_str_tokens(clean_tokens[0])], [str(t) for t in model.to_str_tokens(corrupt_tokens[0])]
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise InterpWidgetsError(
            f"the clean prompt is {len(a)} tokens and the corrupt one {len(b)}: patching needs equal lengths. They first differ "
            f"at position {first}: {a[first:first + 3]} vs {b[first:first + 3]}. Choose a replacement that is as many tokens as "
            "the original (interp_widgets.compute.tasks.suggest_replacements lists single-token ones).")
    return clean_tokens, corrupt_tokens


# ---- engines ------------------------------------------------------------------------------

def cells_of(component: str, n_layers: int, n_pos: int, n_heads: int) -> list[tuple[int, ...]]:
    sizes = {"layer": n_layers, "pos": n_pos, "head": n_heads}
    shape = [sizes[axis] for axis in COMPONENTS[component]]
    return [tuple(index) for index in torch.cartesian_prod(*[torch.arange(n) for n in shape]).reshape(-1, len(shape)).tolist()]


class _HookEngine:
    """Any TransformerLens model: patched runs as a batch of full forwards, one hook per layer editing its rows."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def cache(self, tokens: Tensor, component: str) -> dict[str, Tensor]:
        names = {HOOKS[component].format(layer) for layer in range(self.model.cfg.n_layers)}
        with torch.inference_mode():
            logits, cache = self.model.run_with_cache(tokens, names_filter=lambda name: name in names)
        return {"logits": logits[0], **{name: cache[name][0] for name in names}}

    def run(self, component: str, cells: list[tuple[int, ...]], source: dict, target: dict, tokens: Tensor, metric: Any) -> Tensor:
        values = []
        n_pos = tokens.shape[1]
        per_chunk = max(1, ROWS_PER_CHUNK // n_pos)
        for start in range(0, len(cells), per_chunk):
            chunk = cells[start : start + per_chunk]
            hooks = []
            for layer in sorted({cell[0] for cell in chunk}):
                rows = [(row, cell) for row, cell in enumerate(chunk) if cell[0] == layer]
                name = HOOKS[component].format(layer)
                hooks.append((name, _row_patcher(component, rows, source[name])))
            with torch.inference_mode(), self.model.hooks(fwd_hooks=hooks):
                logits = self.model(tokens.expand(len(chunk), -1))
            values.append(_evaluate(metric, logits))
        return torch.cat(values)


def _row_patcher(component: str, rows: list[tuple[int, tuple[int, ...]]], source: Tensor):
    def hook(activation: Tensor, hook: Any) -> Tensor:
        activation = activation.clone()
        for row, cell in rows:
            if component == "head_out":
                activation[row, :, cell[1]] = source[:, cell[1]]
            elif component == "head_out_by_pos":
                activation[row, cell[1], cell[2]] = source[cell[1], cell[2]]
            else:
                activation[row, cell[1]] = source[cell[1]]
        return activation

    return hook


def _evaluate(metric: Any, logits: Tensor) -> Tensor:
    return (metric(logits[:, -1]) if metric.last_only else metric(logits)).float().cpu()


class _NativeEngine:
    """TransformerLens native models: each patched run recomputes only what the patch changes."""

    def __init__(self, model: Any, runner: PrefixRunner) -> None:
        self.model, self.runner = model, runner
        native = model.original_model
        self.ln_out = getattr(native.ln_out, "_original_component", native.ln_out)
        self.head = getattr(native.head, "_original_component", native.head)

    def cache(self, tokens: Tensor, component: str) -> dict[str, Any]:
        """Per layer: residual before/after attention and after the block, head outputs, attention and MLP
        outputs, keys and values; and the logits."""
        r = self.runner
        with torch.inference_mode():
            positions = torch.arange(tokens.shape[1], device=tokens.device)[None]
            x = r._embed(tokens, positions)
            empty = torch.zeros(1, dtype=torch.long, device=tokens.device)
            layers = []
            for block in r.blocks:
                k, v = r.keys_values(block, x, positions)
                z = r.head_outputs(block, x, positions, None, k, v, (k[0, :0], v[0, :0]), empty)
                attn_out = block["o"](z.flatten(-2))
                mid = x + attn_out
                mlp_out = r._mlp(block, mid)
                layers.append({"pre": x[0], "k": k[0], "v": v[0], "z": z[0], "attn_out": attn_out[0], "mid": mid[0],
                               "mlp_out": mlp_out[0], "post": (mid + mlp_out)[0]})
                x = mid + mlp_out
            logits = self.head(self.ln_out(x))
        return {"layers": layers, "logits": logits[0]}

    def _post(self, layer: int, mid: Tensor) -> Tensor:
        block = self.runner.blocks[layer]
        return mid + self.runner._mlp(block, mid)

    def _head_delta(self, layer: int, head: int, dz: Tensor) -> Tensor:
        """What changing head `head`'s output by `dz [.., d_head]` adds to the attention output."""
        block = self.runner.blocks[layer]
        d_head = block["d_head"]
        return dz @ block["o"].weight[:, head * d_head : (head + 1) * d_head].T

    def patched_start(self, component: str, cell: tuple[int, ...], source: dict, target: dict) -> tuple[int, str, int, Tensor]:
        """(layer, "pre" | "post", first changed position, the residual from there on `[m, d]`)."""
        layer = cell[0]
        s, t = source["layers"][layer], target["layers"][layer]
        if component == "head_out":
            head = cell[1]
            mid = t["mid"] + self._head_delta(layer, head, s["z"][:, head] - t["z"][:, head])
            return layer, "post", 0, self._post(layer, mid)
        p = cell[1]
        if component == "resid_pre":
            x = t["pre"][p:].clone()
            x[0] = s["pre"][p]
            return layer, "pre", p, x
        if component == "attn_out":
            mid = t["pre"][p] + s["attn_out"][p]
        elif component == "mlp_out":
            mid = None
            post = t["mid"][p] + s["mlp_out"][p]
        else:  # head_out_by_pos
            head = cell[2]
            mid = t["mid"][p] + self._head_delta(layer, head, s["z"][p, head] - t["z"][p, head])
        x = t["post"][p:].clone()
        x[0] = self._post(layer, mid) if mid is not None else post
        return layer, "post", p, x

    def run(self, component: str, cells: list[tuple[int, ...]], source: dict, target: dict, tokens: Tensor, metric: Any) -> Tensor:
        with torch.inference_mode():
            starts = [self.patched_start(component, cell, source, target) for cell in cells]
        first_block = [layer if stage == "pre" else layer + 1 for layer, stage, _, _ in starts]
        values = torch.zeros(len(cells))
        order = sorted(range(len(cells)), key=lambda i: (first_block[i], starts[i][2]))
        n_pos = tokens.shape[1]
        chunk: list[int] = []
        for i in order + [None]:  # type: ignore[list-item]
            if chunk and (i is None or first_block[i] != first_block[chunk[0]] or (len(chunk) + 1) * n_pos > ROWS_PER_CHUNK):
                values[chunk] = self._run_chunk([starts[j] for j in chunk], first_block[chunk[0]], target, metric)
                chunk = []
            if i is not None:
                chunk.append(i)
        return values

    def _run_chunk(self, starts: list[tuple[int, str, int, Tensor]], first: int, target: dict, metric: Any) -> Tensor:
        r = self.runner
        with torch.inference_mode():
            lengths = torch.tensor([x.shape[0] for *_, x in starts])
            begin = torch.tensor([p for _, _, p, _ in starts])
            m = int(lengths.max())
            x = torch.zeros(len(starts), m, starts[0][3].shape[-1], dtype=starts[0][3].dtype)
            for row, (*_, rows) in enumerate(starts):
                x[row, : rows.shape[0]] = rows
            positions = (begin[:, None] + torch.arange(m)[None]).clamp(max=self.model.cfg.n_ctx - 1)
            rows, last = torch.arange(len(starts)), lengths - 1
            n_blocks = len(r.blocks)
            if metric.last_only and first == n_blocks:  # patched after the last block: only the last position is read
                return metric(self.head(self.ln_out(x[rows, last]))).float().cpu()
            for layer in range(first, n_blocks):
                block, cached = r.blocks[layer], target["layers"][layer]
                k, v = r.keys_values(block, x, positions)
                if metric.last_only and layer == n_blocks - 1:
                    # the last block: keys and values for the whole suffix, everything else at the last position only
                    mid = x[rows, last] + r._attend(block, x, positions, last, k, v, (cached["k"], cached["v"]), begin)[:, 0]
                    return metric(self.head(self.ln_out(mid + r._mlp(block, mid)))).float().cpu()
                x = x + r._attend(block, x, positions, None, k, v, (cached["k"], cached["v"]), begin)
                x = x + r._mlp(block, x)
            suffix_logits = self.head(self.ln_out(x))  # [B, m, vocab]
            full = target["logits"].expand(len(starts), -1, -1).clone()
            for row, p in enumerate(begin.tolist()):
                full[row, p:] = suffix_logits[row, : lengths[row]]
            return metric(full).float().cpu()


def _engine(model: Any) -> _NativeEngine | _HookEngine:
    last = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"
    runner = PrefixRunner(model, last)
    native = getattr(model, "original_model", None)
    if runner.reason is None and float(getattr(native.cfg, "output_logits_soft_cap", -1.0)) <= 0:
        return _NativeEngine(model, runner)
    return _HookEngine(model)


_CHECKED: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def _checked_engine(model: Any, tokens: Tensor) -> _NativeEngine | _HookEngine:
    """The fast engine where it reproduces the model's own logits on this prompt (checked once per model)."""
    engine = _engine(model)
    if isinstance(engine, _NativeEngine) and model not in _CHECKED:
        with torch.inference_mode():
            ours = engine.cache(tokens, "resid_pre")["logits"]
            theirs = model(tokens)[0]
        _CHECKED[model] = bool(torch.allclose(ours, theirs, atol=1e-3, rtol=1e-4))
    if isinstance(engine, _NativeEngine) and not _CHECKED[model]:
        return _HookEngine(model)
    return engine


def _check(component: str, direction: str) -> None:
    if component not in COMPONENTS:
        raise InterpWidgetsError(f"component must be one of {sorted(COMPONENTS)}, got {component!r}.")
    if direction not in ("denoise", "noise"):
        raise InterpWidgetsError(f'direction must be "denoise" (clean into corrupt) or "noise" (corrupt into clean), got {direction!r}.')


def _shape(model: Any, component: str, n_pos: int) -> list[int]:
    sizes = {"layer": model.cfg.n_layers, "pos": n_pos, "head": model.cfg.n_heads}
    return [sizes[axis] for axis in COMPONENTS[component]]


def patch(model: Any, clean: str | Tensor, corrupt: str | Tensor, metric: Any, component: str = "resid_pre",
          direction: str = "denoise", fast: bool = True, cells: Sequence[Sequence[int]] | None = None) -> PatchingResult:
    """Patch every cell of `component` (or only `cells`, the rest NaN) from one run into the other and
    measure `metric` on each patched run.

    `direction`: "denoise" (clean activations into the corrupt run) or "noise" (corrupt into clean).
    `fast=False` uses plain batched forwards with hooks (the reference the fast path is tested against).
    """
    _check(component, direction)
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    metric = as_metric(model, metric)
    engine = _checked_engine(model, clean_tokens) if fast else _HookEngine(model)
    clean_cache = engine.cache(clean_tokens, component)
    corrupt_cache = engine.cache(corrupt_tokens, component)
    source, target, tokens = (clean_cache, corrupt_cache, corrupt_tokens) if direction == "denoise" else (corrupt_cache, clean_cache, clean_tokens)
    shape = _shape(model, component, tokens.shape[1])
    every = cells_of(component, model.cfg.n_layers, tokens.shape[1], model.cfg.n_heads)
    chosen = every if cells is None else [tuple(int(i) for i in cell) for cell in cells]
    bad = [cell for cell in chosen if len(cell) != len(shape) or not all(0 <= i < n for i, n in zip(cell, shape))]
    if bad:
        raise InterpWidgetsError(f"cells {bad[:3]} are outside the {component} grid {shape} ({', '.join(COMPONENTS[component])}).")
    values = torch.full(shape, float("nan"))
    if chosen:
        patched = engine.run(component, chosen, source, target, tokens, metric)
        for cell, value in zip(chosen, patched.tolist()):
            values[cell] = value
    with torch.inference_mode():
        clean_value = float(_evaluate(metric, clean_cache["logits"][None])[0])
        corrupt_value = float(_evaluate(metric, corrupt_cache["logits"][None])[0])
    return PatchingResult(component, direction, COMPONENTS[component], values, clean_value, corrupt_value,
                          [str(t) for t in model.to_str_tokens(tokens[0])])


def attribution_patch(model: Any, clean: str | Tensor, corrupt: str | Tensor, metric: Any, component: str = "resid_pre",
                      direction: str = "denoise") -> PatchingResult:
    """A first-order estimate of every cell's patched metric from one forward of each run and one backward.

    Attribution patching (Nanda, 2023): metric(target with cell patched) is about
    metric(target) + (source activation - target activation) . d metric / d activation at the target,
    the sum taken over the cell (its position, head, and the model dimension). Exact where the
    metric is linear in the cell's activation; a map to pick cells from, then patch those exactly.
    """
    _check(component, direction)
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    metric = as_metric(model, metric)
    source_tokens, target_tokens = (clean_tokens, corrupt_tokens) if direction == "denoise" else (corrupt_tokens, clean_tokens)
    names = [HOOKS[component].format(layer) for layer in range(model.cfg.n_layers)]
    with torch.inference_mode():
        source_logits, source_cache = model.run_with_cache(source_tokens, names_filter=lambda name: name in names)
        source_acts = {name: source_cache[name].clone() for name in names}
    saved: dict[str, Tensor] = {}

    def keeper(name: str) -> Callable[[Tensor, Any], Tensor]:
        def keep(activation: Tensor, hook: Any) -> Tensor:
            # a leaf that wants its gradient, whether or not the weights do; saved under the name
            # asked for (a hook may be an alias of another)
            saved[name] = activation.detach().requires_grad_(True)
            return saved[name]

        return keep

    with torch.enable_grad(), model.hooks(fwd_hooks=[(name, keeper(name)) for name in names]):
        logits = model(target_tokens)
        value = _evaluate_with_grad(metric, logits)
        grads = torch.autograd.grad(value.sum(), [saved[name] for name in names], allow_unused=True)
    values = []
    for name, grad in zip(names, grads):
        delta = (source_acts[name] - saved[name].detach())[0]
        grad = torch.zeros_like(delta) if grad is None else grad[0]
        product = delta * grad  # [pos, d] or [pos, head, d_head]
        if component == "head_out":
            values.append(product.sum(dim=(0, 2)))
        elif component == "head_out_by_pos":
            values.append(product.sum(dim=2))
        else:
            values.append(product.sum(dim=1))
    target_value = float(value.detach()[0])
    estimate = target_value + torch.stack(values).detach().float().cpu()
    with torch.inference_mode():
        clean_logits = source_logits if direction == "denoise" else logits.detach()
        corrupt_logits = logits.detach() if direction == "denoise" else source_logits
        clean_value, corrupt_value = float(_evaluate(metric, clean_logits)[0]), float(_evaluate(metric, corrupt_logits)[0])
    return PatchingResult(component, direction, COMPONENTS[component], estimate, clean_value, corrupt_value,
                          [str(t) for t in model.to_str_tokens(target_tokens[0])])


def _evaluate_with_grad(metric: Any, logits: Tensor) -> Tensor:
    return (metric(logits[:, -1]) if metric.last_only else metric(logits)).float()


def patched_logits(model: Any, clean: str | Tensor, corrupt: str | Tensor, component: str, direction: str,
                   cell: Sequence[int]) -> Tensor:
    """The logits `[pos, vocab]` of one patched run (what a click on a heatmap cell shows)."""
    _check(component, direction)
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    source_tokens, target_tokens = (clean_tokens, corrupt_tokens) if direction == "denoise" else (corrupt_tokens, clean_tokens)
    shape = _shape(model, component, target_tokens.shape[1])
    cell = tuple(int(i) for i in cell)
    if len(cell) != len(shape) or not all(0 <= i < n for i, n in zip(cell, shape)):
        raise InterpWidgetsError(f"cell {list(cell)} is outside the {component} grid {shape} ({', '.join(COMPONENTS[component])}).")
    name = HOOKS[component].format(cell[0])
    with torch.inference_mode():
        _, cache = model.run_with_cache(source_tokens, names_filter=lambda hook: hook == name)
        with model.hooks(fwd_hooks=[(name, _row_patcher(component, [(0, cell)], cache[name][0]))]):
            return model(target_tokens)[0]
