"""The two ways patched runs go through the model, many per forward pass (see `compute.patching.activation`).

- `HookEngine`: any TransformerLens model. A batch of full forwards, one hook per layer writing
  each row's patched cell (the registry's `write`).
- `NativeEngine`: every model `block_maths.model_maths` reads (TransformerLens native models, and
  from Hugging Face weights GPT-2, GPT-NeoX, Llama, Mistral, Qwen 2/3, Gemma 1/2/3). A patch at
  layer L, position p leaves everything
  before p and before L untouched, so each patched run starts from the target run's cached
  residual stream (the registry's `start`), recomputes only positions p.. (attending over the
  target's cached keys and values for earlier positions), and runs batch by batch, chunked to
  `ROWS_PER_CHUNK` suffix positions (`prefix_runner.PrefixRunner` does the block maths).

`checked_engine` picks the fast one where it reproduces the model's own logits (checked once per model).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch
from torch import Tensor

from interp_widgets.compute.core.prefix_runner import PrefixRunner
from interp_widgets.compute.patching.components import COMPONENTS
from interp_widgets.errors import Superseded

ROWS_PER_CHUNK = 4096


class Pace:
    """Called between chunks of patched runs: raises `Superseded` once `should_stop()` answers True,
    and reports `progress(done, total, what)`."""

    def __init__(self, progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None,
                 what: str = "patching") -> None:
        self.progress, self.should_stop, self.what = progress, should_stop, what

    def __call__(self, done: int, total: int) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Superseded()
        if self.progress is not None:
            self.progress(done, total, self.what)


class HookEngine:
    """Any TransformerLens model: patched runs as a batch of full forwards, one hook per layer editing its rows."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def cache(self, tokens: Tensor, component: str) -> dict[str, Tensor]:
        names = {COMPONENTS[component].hook_name(layer) for layer in range(self.model.cfg.n_layers)}
        with torch.inference_mode():
            logits, cache = self.model.run_with_cache(tokens, names_filter=lambda name: name in names)
        return {"logits": logits[0], **{name: cache[name][0] for name in names}}

    def run(self, component: str, cells: list[tuple[int, ...]], source: dict, target: dict, tokens: Tensor, metric: Any,
            pace: Pace | None = None) -> Tensor:
        values = []
        n_pos = tokens.shape[1]
        per_chunk = max(1, ROWS_PER_CHUNK // n_pos)
        pace = pace or Pace()
        for start in range(0, len(cells), per_chunk):
            pace(start, len(cells))
            chunk = cells[start : start + per_chunk]
            hooks = []
            for layer in sorted({cell[0] for cell in chunk}):
                rows = [(row, cell) for row, cell in enumerate(chunk) if cell[0] == layer]
                name = COMPONENTS[component].hook_name(layer)
                hooks.append((name, row_patcher(component, rows, source[name])))
            with torch.inference_mode(), self.model.hooks(fwd_hooks=hooks):
                logits = self.model(tokens.expand(len(chunk), -1))
            values.append(evaluate(metric, logits))
        return torch.cat(values)


def row_patcher(component: str, rows: list[tuple[int, tuple[int, ...]]], source: Tensor) -> Callable[[Tensor, Any], Tensor]:
    """A hook that writes each `(row, cell)`'s source value into that row of the batch (the registry's `write`)."""
    write = COMPONENTS[component].write

    def hook(activation: Tensor, hook: Any) -> Tensor:
        activation = activation.clone()
        for row, cell in rows:
            write(activation, row, cell, source)
        return activation

    return hook


def evaluate(metric: Any, logits: Tensor) -> Tensor:
    """The metric of each run: on the last position's logits `[runs, vocab]` or all of them `[runs, pos, vocab]`."""
    return (metric(logits[:, -1]) if metric.last_only else metric(logits)).float().cpu()


class NativeEngine:
    """Models whose blocks the runner reads: each patched run recomputes only what the patch changes."""

    def __init__(self, model: Any, runner: PrefixRunner) -> None:
        self.model, self.runner = model, runner
        self.maths = runner.maths

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
                attn_out = block.attention_output(z)
                mid = x + attn_out
                mlp_out = block.mlp_output(x, mid)
                layers.append({"pre": x[0], "k": k[0], "v": v[0], "z": z[0], "attn_out": attn_out[0], "mid": mid[0],
                               "mlp_out": mlp_out[0], "post": (mid + mlp_out)[0]})
                x = mid + mlp_out
            logits = self.maths.final(x)
        return {"layers": layers, "logits": logits[0]}

    def post(self, layer: int, pre: Tensor, mid: Tensor) -> Tensor:
        """The residual after block `layer`, from the stream entering it and the stream after attention
        (`mid = pre + attn_out`; the MLP reads `mid`, or `pre` in a parallel block)."""
        return mid + self.runner.blocks[layer].mlp_output(pre, mid)

    def attention_from_heads(self, layer: int, z: Tensor) -> Tensor:
        """Block `layer`'s attention output from its heads' outputs `z [.., heads, d_head]` (after any post-attention norm)."""
        return self.runner.blocks[layer].attention_output(z)

    def patched_start(self, component: str, cell: tuple[int, ...], source: dict, target: dict) -> tuple[int, str, int, Tensor]:
        """(layer, "pre" | "post", first changed position, the residual from there on `[m, d]`): the registry's `start`."""
        layer = cell[0]
        stage, first, x = COMPONENTS[component].start(self, cell, source["layers"][layer], target["layers"][layer])
        return layer, stage, first, x

    def run(self, component: str, cells: list[tuple[int, ...]], source: dict, target: dict, tokens: Tensor, metric: Any,
            pace: Pace | None = None) -> Tensor:
        pace = pace or Pace()
        with torch.inference_mode():
            starts = [self.patched_start(component, cell, source, target) for cell in cells]
        first_block = [layer if stage == "pre" else layer + 1 for layer, stage, _, _ in starts]
        values = torch.zeros(len(cells))
        # a patch that writes what the target already has (e.g. the stream before the first differing
        # token) leaves the target's run as it is: its value is the target's, no run needed
        unchanged = [torch.equal(x, target["layers"][layer][stage][first:]) for layer, stage, first, x in starts]
        if any(unchanged):
            values[torch.tensor(unchanged)] = evaluate(metric, target["logits"][None])[0]
        order = sorted((i for i in range(len(cells)) if not unchanged[i]), key=lambda i: (first_block[i], starts[i][2]))
        n_pos = tokens.shape[1]
        chunk: list[int] = []
        done = 0
        for i in order + [None]:  # type: ignore[list-item]
            # a chunk holds up to ROWS_PER_CHUNK suffix positions, padded to its first (longest) suffix
            longest = starts[chunk[0]][3].shape[0] if chunk else n_pos
            if chunk and (i is None or first_block[i] != first_block[chunk[0]] or (len(chunk) + 1) * longest > ROWS_PER_CHUNK):
                pace(done, len(cells))
                values[chunk] = self._run_chunk([starts[j] for j in chunk], first_block[chunk[0]], target, metric)
                done += len(chunk)
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
            # per-token maths (LayerNorms, keys/values, MLPs) runs on the real suffix positions only, packed
            # `[n_real, d]`; attention runs on the padded batch, where padding sits after every real query
            real = torch.arange(m)[None] < lengths[:, None]  # [B, m]
            n_blocks = len(r.blocks)
            if metric.last_only and first == n_blocks:  # patched after the last block: only the last position is read
                return self._last_metric(metric, x[rows, last])
            for layer in range(first, n_blocks):
                block, cached = r.blocks[layer], target["layers"][layer]
                k, v = self._packed_keys_values(block, x, positions, real)
                if metric.last_only and layer == n_blocks - 1:
                    # the last block: keys and values for the whole suffix, everything else at the last position only
                    pre = x[rows, last]
                    mid = pre + r._attend(block, x, positions, last, k, v, (cached["k"], cached["v"]), begin)[:, 0]
                    return self._last_metric(metric, mid + block.mlp_output(pre, mid))
                mid = x + r._attend(block, x, positions, None, k, v, (cached["k"], cached["v"]), begin)
                mid[real] = mid[real] + block.mlp_output(x[real], mid[real])
                x = mid
            suffix_logits = self.maths.final(x)  # [B, m, vocab]
            full = target["logits"].expand(len(starts), -1, -1).clone()
            for row, p in enumerate(begin.tolist()):
                full[row, p:] = suffix_logits[row, : lengths[row]]
            return metric(full).float().cpu()


    def _last_metric(self, metric: Any, last: Tensor) -> Tensor:
        """`metric` of the final residual at the last position `[B, d]`: where the metric names the few
        vocabulary entries it reads (a logit difference: 2 of the vocabulary), only their unembedding rows."""
        reads = getattr(metric, "reads_tokens", None)
        if reads is None:
            return metric(self.maths.final(last)).float().cpu()
        maths = self.maths
        normed = maths.norm(last) if maths.norm is not None else last
        rows = torch.tensor(reads, device=normed.device)
        bias = maths.unembed.bias[rows] if maths.unembed.bias is not None else None
        read = torch.nn.functional.linear(normed, maths.unembed.weight[rows], bias)
        read = maths.logit_cap * torch.tanh(read / maths.logit_cap) if maths.logit_cap else read
        return metric.on_read_logits(read).float().cpu()

    def _packed_keys_values(self, block: dict, x: Tensor, positions: Tensor, real: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values `[B, m, heads, d_head]` computed at the real positions only (zeros in the padding, never attended)."""
        k, v = self.runner.keys_values(block, x[real][None], positions[real][None])  # [1, n_real, heads, d_head]
        shape = (*x.shape[:2], *k.shape[2:])
        padded_k, padded_v = k.new_zeros(shape), v.new_zeros(shape)
        padded_k[real], padded_v[real] = k[0], v[0]
        return padded_k, padded_v


def fast_engine(model: Any) -> NativeEngine | HookEngine:
    last = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"
    runner = PrefixRunner(model, last)
    if runner.reason is None:
        return NativeEngine(model, runner)
    return HookEngine(model)


_CHECKED: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def checked_engine(model: Any, tokens: Tensor) -> NativeEngine | HookEngine:
    """The fast engine where it reproduces the model's own logits on this prompt (checked once per model)."""
    engine = fast_engine(model)
    if isinstance(engine, NativeEngine) and model not in _CHECKED:
        with torch.inference_mode():
            ours = engine.cache(tokens, "resid_pre")["logits"]
            theirs = model(tokens)[0]
        _CHECKED[model] = bool(torch.allclose(ours, theirs, atol=1e-3, rtol=1e-4))
    if isinstance(engine, NativeEngine) and not _CHECKED[model]:
        return HookEngine(model)
    return engine
