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

Components (cell axes), one registry row each in `patching_components.COMPONENTS`: `resid_pre`
(layer, pos), `attn_out` (layer, pos), `mlp_out` (layer, pos), `head_out` (layer, head: one head's
output `hook_z` at every position), `head_out_by_pos` (layer, pos, head). Results equal
transformer-lens' `patching.get_act_patch_*` on the same inputs.

Work (`patching_engines`): a patch at layer L, position p leaves every position before p untouched
at every layer and everything before layer L untouched. So each patched run starts from the target
run's cached residual stream at layer L, recomputes only positions p.., and many runs go through
the model as one batch. Models where that does not apply patch with hooks, batched the same way.

Metrics, evaluated on each patched run's logits: `LogitDiff(answer, wrong)` (last position),
`AnswerProb(answer)`, or any function of the logits `[runs, pos, vocab] -> [runs]` (checked).
`normalised` maps the metric so the clean run is 1 and the corrupt run 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import as_tokens, hook_names, one_token_id, token_strings
from interp_widgets.compute.patching.components import COMPONENTS, Component, component
from interp_widgets.compute.patching.engines import HookEngine, Pace, checked_engine, evaluate, row_patcher
from interp_widgets.errors import InterpWidgetsError, Superseded

__all__ = ["COMPONENTS", "AnswerProb", "Component", "LogitDiff", "PatchingResult", "UserMetric", "as_metric", "attribution_patch",
           "patch", "patch_both_ways", "patched_logits", "patched_predictions", "token_pair"]


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
    def reads_tokens(self) -> tuple[int, int]:
        """The only vocabulary entries it reads: an engine may compute just these logits."""
        return self.answer, self.wrong

    def on_read_logits(self, read: Tensor) -> Tensor:
        """The metric from `read [runs, 2]`, the logits of `reads_tokens` alone."""
        return read[:, 0] - read[:, 1]

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
        a, b = token_strings(model, clean_tokens[0]), token_strings(model, corrupt_tokens[0])
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise InterpWidgetsError(
            f"the clean prompt is {len(a)} tokens and the corrupt one {len(b)}: patching needs equal lengths. They first differ "
            f"at position {first}: {a[first:first + 3]} vs {b[first:first + 3]}. Choose a replacement that is as many tokens as "
            "the original (interp_widgets.compute.patching.tasks.suggest_replacements lists single-token ones).")
    return clean_tokens, corrupt_tokens


# ---- the API ------------------------------------------------------------------------------

def _check(name: str, direction: str, model: Any = None) -> Component:
    if direction not in ("denoise", "noise"):
        raise InterpWidgetsError(f'direction must be "denoise" (clean into corrupt) or "noise" (corrupt into clean), got {direction!r}.')
    row = component(name)
    if model is not None and row.hook_name(0) not in hook_names(model):
        raise InterpWidgetsError(f"this model has no {row.hook_name(0)!r} (an attention-only model has no MLP output): "
                                 f"patch another component than {name!r}.")
    return row


def patch(model: Any, clean: str | Tensor, corrupt: str | Tensor, metric: Any, component: str = "resid_pre",
          direction: str = "denoise", fast: bool = True, cells: Sequence[Sequence[int]] | None = None,
          progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None) -> PatchingResult:
    """Patch every cell of `component` (or only `cells`, the rest NaN) from one run into the other and
    measure `metric` on each patched run.

    `direction`: "denoise" (clean activations into the corrupt run) or "noise" (corrupt into clean).
    `fast=False` uses plain batched forwards with hooks (the reference the fast path is tested against).
    Between batches of patched runs it reports `progress(done, total, what)` and asks `should_stop()`
    (raising `Superseded` when it answers True).
    """
    row = _check(component, direction, model)
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    metric = as_metric(model, metric)
    engine = checked_engine(model, clean_tokens) if fast else HookEngine(model)
    clean_cache = engine.cache(clean_tokens, component)
    corrupt_cache = engine.cache(corrupt_tokens, component)
    source, target, tokens = (clean_cache, corrupt_cache, corrupt_tokens) if direction == "denoise" else (corrupt_cache, clean_cache, clean_tokens)
    shape = row.shape(model.cfg.n_layers, tokens.shape[1], model.cfg.n_heads)
    every = row.cells(model.cfg.n_layers, tokens.shape[1], model.cfg.n_heads)
    chosen = every if cells is None else [tuple(int(i) for i in cell) for cell in cells]
    row.check_cells(chosen, shape)
    values = torch.full(shape, float("nan"))
    if chosen:
        patched = engine.run(component, chosen, source, target, tokens, metric, Pace(progress, should_stop, f"patching ({direction})"))
        for cell, value in zip(chosen, patched.tolist()):
            values[cell] = value
    with torch.inference_mode():
        clean_value = float(evaluate(metric, clean_cache["logits"][None])[0])
        corrupt_value = float(evaluate(metric, corrupt_cache["logits"][None])[0])
    return PatchingResult(component, direction, row.axes, values, clean_value, corrupt_value,
                          token_strings(model, tokens[0]))


def attribution_patch(model: Any, clean: str | Tensor, corrupt: str | Tensor, metric: Any, component: str = "resid_pre",
                      direction: str = "denoise") -> PatchingResult:
    """A first-order estimate of every cell's patched metric from one forward of each run and one backward.

    Attribution patching (Nanda, 2023): metric(target with cell patched) is about
    metric(target) + (source activation - target activation) . d metric / d activation at the target,
    the sum taken over the cell (its position, head, and the model dimension). Exact where the
    metric is linear in the cell's activation; a map to pick cells from, then patch those exactly.
    """
    row = _check(component, direction, model)
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    metric = as_metric(model, metric)
    source_tokens, target_tokens = (clean_tokens, corrupt_tokens) if direction == "denoise" else (corrupt_tokens, clean_tokens)
    names = [row.hook_name(layer) for layer in range(model.cfg.n_layers)]
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
        values.append(product.sum(dim=row.attribution_sum))
    target_value = float(value.detach()[0])
    estimate = target_value + torch.stack(values).detach().float().cpu()
    with torch.inference_mode():
        clean_logits = source_logits if direction == "denoise" else logits.detach()
        corrupt_logits = logits.detach() if direction == "denoise" else source_logits
        clean_value, corrupt_value = float(evaluate(metric, clean_logits)[0]), float(evaluate(metric, corrupt_logits)[0])
    return PatchingResult(component, direction, row.axes, estimate, clean_value, corrupt_value,
                          token_strings(model, target_tokens[0]))


def _evaluate_with_grad(metric: Any, logits: Tensor) -> Tensor:
    return (metric(logits[:, -1]) if metric.last_only else metric(logits)).float()


def patched_logits(model: Any, clean: str | Tensor, corrupt: str | Tensor, component: str, direction: str,
                   cell: Sequence[int]) -> Tensor:
    """The logits `[pos, vocab]` of one patched run (what a click on a heatmap cell shows)."""
    row = _check(component, direction, model)
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    source_tokens, target_tokens = (clean_tokens, corrupt_tokens) if direction == "denoise" else (corrupt_tokens, clean_tokens)
    cell = tuple(int(i) for i in cell)
    row.check_cells([cell], row.shape(model.cfg.n_layers, target_tokens.shape[1], model.cfg.n_heads))
    name = row.hook_name(cell[0])
    with torch.inference_mode():
        _, cache = model.run_with_cache(source_tokens, names_filter=lambda hook: hook == name)
        with model.hooks(fwd_hooks=[(name, row_patcher(component, [(0, cell)], cache[name][0]))]):
            return model(target_tokens)[0]


def patch_both_ways(model: Any, clean: str | Tensor, corrupt: str | Tensor, metric: Any, component: str = "resid_pre",
                    method: str = "exact", progress: Callable[..., None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> tuple[PatchingResult, PatchingResult]:
    """Denoising and noising maps of one component (what the patching view draws side by side).

    `method`: "exact" (`patch`, every cell) or "attribution" (`attribution_patch`, the estimate).
    Exact patching reports `progress` and asks `should_stop()` between batches of patched runs
    (as `patch` does); both methods ask between the two directions.
    """
    if method not in ("exact", "attribution"):
        raise InterpWidgetsError(f'method must be "exact" or "attribution", got {method!r}.')
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    if torch.equal(clean_tokens, corrupt_tokens):
        raise InterpWidgetsError("the clean and corrupt prompts are the same: change the corrupt one where it matters.")
    runs = []
    for direction in ("denoise", "noise"):
        if should_stop is not None and should_stop():
            raise Superseded()
        if method == "attribution":
            runs.append(attribution_patch(model, clean_tokens, corrupt_tokens, metric, component, direction))
        else:
            runs.append(patch(model, clean_tokens, corrupt_tokens, metric, component, direction, progress=progress, should_stop=should_stop))
    return runs[0], runs[1]


def patched_predictions(model: Any, clean: str | Tensor, corrupt: str | Tensor, metric: Any, component: str, direction: str,
                        cell: Sequence[int], k: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """One cell patched exactly: the metric of that run and its top-k next tokens with their probabilities (last position)."""
    metric = as_metric(model, metric)
    logits = patched_logits(model, clean, corrupt, component, direction, cell)
    value = float(evaluate(metric, logits[None])[0])
    top = logits[-1].float().softmax(-1).topk(k)
    return value, [(model.tokenizer.decode([int(i)]), float(p)) for p, i in zip(top.values, top.indices)]
