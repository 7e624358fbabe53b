"""Re-running a causal model on edited prompts, reusing the clean prefix (exact, not approximate).

An edit at position `s` (a deleted or replaced token) leaves every earlier position unchanged at
every layer: the model is causal. So a variant = `clean prefix [0, s)` + `new suffix` needs only
the suffix recomputed, attending over the clean run's cached keys and values for the prefix.
And when only the value at the variant's last position is read at layer L, layer L needs its
keys and values for the whole suffix but its query, attention output and MLP for one position.
In the first layer a key or value depends only on (token, position), so variants that share
such pairs (a deletion shifts every later token by the same one position) share that work.

For a leave-one-out map of n tokens read at the first block this is about n single-position
block evaluations plus n key/value projections, instead of n forward passes of n tokens.
Variants of different lengths share a batch: the per-token maths (norms, key/value projections,
MLPs) runs on their real positions only, packed (`[n_real, d]`), and only attention sees the
padded batch, where padding sits after every real query (as the patching engine does).

`PrefixRunner(model, hook)` supports every model `block_maths.model_maths` reads: TransformerLens
native models (the embedded ones) and, from Hugging Face weights, GPT-2, GPT-NeoX, Llama, Mistral,
Qwen 2/3 and Gemma 1/2/3 (grouped-query attention, q/k norms, sandwich norms, soft-caps, sliding
windows, parallel attention), with hooks at the residual stream (`hook_resid_pre/mid/post`) and at
attention/MLP outputs of a block. `runner.reason` says why a model or hook is not supported;
callers then run plain batched forwards. Each use checks itself: the clean prompt re-run through
the runner must give the clean activation.

Shapes: prompt `[pos]`; a batch of B variants has `starts [B]`, suffix tokens `[B, M]` (padded
after each suffix's end), `lengths [B]`; the result is the hook's activation at each variant's
last token, `[B, d]`.
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from interp_widgets.compute.core.block_maths import Block, model_maths, raw_module

__all__ = ["PrefixRunner", "ROWS_PER_CHUNK", "SITE_ALIASES", "SUPPORTED_HOOK", "raw_module"]

# The hooks the runner reads and edits at: residual boundaries, attention and MLP outputs, and the
# bridge's names for them (`SITE_ALIASES` maps those onto the TransformerLens names).
SUPPORTED_HOOK = re.compile(r"^blocks\.(\d+)\.(hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out|hook_in|hook_out|attn\.hook_out|mlp\.hook_out)$")
SITE_ALIASES = {"hook_in": "hook_resid_pre", "hook_out": "hook_resid_post", "attn.hook_out": "hook_attn_out", "mlp.hook_out": "hook_mlp_out"}
ROWS_PER_CHUNK = 4096  # suffix positions (variants x padded length) per batch


class PrefixRunner:
    """Activations at one hook for many edited copies of one prompt, reusing its clean prefix."""

    def __init__(self, model: Any, hook: str) -> None:
        self.model = model
        self.reason: str | None = None
        match = SUPPORTED_HOOK.match(hook)
        if not match:
            self.reason = f"hook {hook!r} is not a residual-stream or block-output hook"
            return
        self.layer, site = int(match.group(1)), SITE_ALIASES.get(match.group(2), match.group(2))
        self.site = site.removeprefix("hook_")
        maths = model_maths(model)
        if isinstance(maths, str):
            self.reason = maths
            return
        self.maths, self.blocks = maths, maths.blocks[: self.layer + 1]
        if self.layer >= len(maths.blocks):
            self.reason = f"the model has no block {self.layer}"
        elif self.site == "resid_mid" and not maths.blocks[self.layer].has_mid:
            self.reason = "no stream between attention and MLP in this model (parallel attention or no MLP)"
        elif self.site == "mlp_out" and maths.blocks[self.layer].mlp is None:
            self.reason = "an attention-only block has no MLP output"

    # ---- pieces of a block ----------------------------------------------------------------

    def _embed(self, tokens: Tensor, positions: Tensor) -> Tensor:
        return self.maths.embed(tokens, positions)

    def keys_values(self, block: Block, x: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values `[B, T, heads, d_head]` of residual `x [B, T, d]` at `positions [B, T]`."""
        return block.keys_values(x, positions)

    def _mlp(self, block: Block, pre: Tensor, mid: Tensor) -> Tensor:
        return block.mlp_output(pre, mid)

    def _attend(self, block: Block, x: Tensor, positions: Tensor, query_index: Tensor | None, keys: Tensor, values: Tensor,
                prefix: tuple[Tensor, Tensor], starts: Tensor) -> Tensor:
        """Attention output for the suffix queries (all, or one per variant at `query_index`), `[B, Tq, d]`."""
        return block.attention_output(self.head_outputs(block, x, positions, query_index, keys, values, prefix, starts))

    def head_outputs(self, block: Block, x: Tensor, positions: Tensor, query_index: Tensor | None, keys: Tensor, values: Tensor,
                     prefix: tuple[Tensor, Tensor], starts: Tensor) -> Tensor:
        """Each head's output before W_O (TransformerLens' `hook_z`), `[B, Tq, heads, d_head]`.

        Keys: the clean prefix's `[P, heads, d_head]` (key j visible to variant b when j < starts[b])
        then the suffix's own `[B, M, heads, d_head]` (causal within the suffix); a sliding window
        hides keys `window` or more positions back.
        """
        prefix_keys, prefix_values = prefix
        batch, m = keys.shape[:2]
        if query_index is None:
            query_x, query_positions, query_slots = x, positions, torch.arange(m, device=x.device).expand(batch, m)
        else:
            rows = torch.arange(batch, device=x.device)
            query_x, query_positions, query_slots = x[rows, query_index][:, None], positions[rows, query_index][:, None], query_index[:, None]
        queries = block.queries(query_x, query_positions)
        # scores [B, heads, Tq, P + M]
        p = prefix_keys.shape[0]
        before = block.scores(torch.einsum("bqhd,khd->bhqk", queries, prefix_keys))
        within = block.scores(torch.einsum("bqhd,bkhd->bhqk", queries, keys))
        prefix_positions = torch.arange(p, device=x.device)
        hidden_before = prefix_positions[None, None, :] >= starts[:, None, None]  # [B, 1, P]
        hidden_within = torch.arange(m, device=x.device)[None, None, :] > query_slots[:, :, None]  # [B, Tq, M]
        if block.window:
            hidden_before = hidden_before | block.hidden(query_positions, prefix_positions.expand(batch, p))
            hidden_within = hidden_within | block.hidden(query_positions, positions)
        before = before.masked_fill(hidden_before[:, None], float("-inf"))
        within = within.masked_fill(hidden_within[:, None], float("-inf"))
        pattern = F.softmax(torch.cat([before, within], dim=-1), dim=-1)
        return torch.einsum("bhqk,khd->bqhd", pattern[..., :p], prefix_values) + torch.einsum("bhqk,bkhd->bqhd", pattern[..., p:], values)

    # ---- the clean prefix and the variants ------------------------------------------------

    def prepare(self, tokens: Tensor) -> Tensor:
        """Cache the clean prompt's per-layer keys and values, `tokens [pos]`; returns the hook's activation `[pos, d]`."""
        with torch.inference_mode():
            positions = torch.arange(tokens.shape[0], device=tokens.device)[None]
            self.prefix: list[tuple[Tensor, Tensor]] = []
            empty = torch.zeros(1, dtype=torch.long, device=tokens.device)

            def remember(index: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
                self.prefix.append((k[0], v[0]))
                return k[0, :0], v[0, :0]  # nothing before the clean prompt

            return self._forward(tokens[None], positions, empty, None, remember)[0]

    def last_activations(self, starts: Tensor, suffix: Tensor, lengths: Tensor) -> Tensor:
        """The hook's activation at each variant's last suffix token, `[B, d]` (see the module doc for shapes)."""
        batch, m = suffix.shape
        positions = (starts[:, None] + torch.arange(m, device=suffix.device)[None]).clamp(max=self.maths.n_ctx - 1)
        real = torch.arange(m, device=suffix.device)[None] < lengths[:, None]  # [B, M]
        first_keys = self._first_layer_keys_values(suffix, positions, real)

        def cached(index: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
            return self.prefix[index]

        return self._forward(suffix, positions, starts, lengths - 1, cached, first_keys, real)

    def _forward(self, tokens: Tensor, positions: Tensor, starts: Tensor, last: Tensor | None, prefix_of: Any,
                 first_keys: tuple[Tensor, Tensor] | None = None, real: Tensor | None = None) -> Tensor:
        """Blocks up to the hook: every position before the hook's layer; there, all positions
        (`last` None, `[B, T, d]`) or each row's position `last` only (`[B, d]`). `real [B, T]`: the
        positions that are not padding (per-token maths runs on those alone)."""
        x = self._packed(lambda xs, ps: self._embed(xs, ps), tokens, positions, real)
        rows = torch.arange(tokens.shape[0], device=tokens.device)
        pick = (lambda t: t) if last is None else (lambda t: t[rows, last])  # noqa: E731
        final = self.layer if self.site != "resid_pre" else self.layer - 1
        if final < 0:
            return pick(x)
        for index, block in enumerate(self.blocks[: final + 1]):
            if index == 0 and first_keys is not None:
                k, v = first_keys
            else:
                k, v = self._packed_pair(block, x, positions, real)
            prefix = prefix_of(index, k, v)
            if index < final:
                mid = x + self._attend(block, x, positions, None, k, v, prefix, starts)
                x = self._packed(lambda a, b, block=block, x=x: block.mlp_output(a, b), x, mid, real, out=mid)
                continue
            attn_out = self._attend(block, x, positions, last, k, v, prefix, starts)
            attn_out = attn_out if last is None else attn_out[:, 0]
            if self.site == "attn_out":
                return attn_out
            pre = pick(x)
            mid = pre + attn_out
            if self.site == "resid_mid":
                return mid
            mlp_out = block.mlp_output(pre, mid)
            return mlp_out if self.site == "mlp_out" else mid + mlp_out
        return pick(x)  # resid_pre: the output of the block before

    @staticmethod
    def _packed(fn: Any, a: Tensor, b: Tensor, real: Tensor | None, out: Tensor | None = None) -> Tensor:
        """`fn(a, b)` per position, on the real positions only where `real` is given; `out + fn(..)` when `out` is."""
        if real is None or bool(real.all()):
            value = fn(a, b)
            return value if out is None else out + value
        value = fn(a[real], b[real])
        result = (torch.zeros(*real.shape, value.shape[-1], dtype=value.dtype, device=value.device) if out is None else out.clone())
        result[real] = value if out is None else result[real] + value
        return result

    def _packed_pair(self, block: Block, x: Tensor, positions: Tensor, real: Tensor | None) -> tuple[Tensor, Tensor]:
        """Keys and values `[B, T, heads, d_head]`, computed at the real positions only (zeros in the padding, never attended)."""
        if real is None or bool(real.all()):
            return block.keys_values(x, positions)
        k, v = block.keys_values(x[real][None], positions[real][None])  # [1, n_real, heads, d_head]
        shape = (*x.shape[:2], *k.shape[2:])
        padded_k, padded_v = k.new_zeros(shape), v.new_zeros(shape)
        padded_k[real], padded_v[real] = k[0], v[0]
        return padded_k, padded_v

    def _first_layer_keys_values(self, suffix: Tensor, positions: Tensor, real: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """First-layer keys/values depend on (token, position) only: compute each distinct pair once."""
        n_ctx = self.maths.n_ctx
        pairs = suffix * n_ctx + positions
        if real is not None:
            pairs = torch.where(real, pairs, pairs[:, :1])  # padding: any real pair (never attended)
        unique, inverse = torch.unique(pairs, return_inverse=True)
        tokens, at = unique // n_ctx, unique % n_ctx
        k, v = self.keys_values(self.blocks[0], self._embed(tokens[None], at[None]), at[None])
        return k[0][inverse], v[0][inverse]

    def run(self, starts: Tensor, suffixes: list[Tensor], stop: Any = None) -> Tensor:
        """Activations `[B, d]` for variants `prefix[:starts[b]] + suffixes[b]`, in chunks of similar length.

        `stop()`, if given, is asked between chunks; when it answers True the rest is skipped (NaN).
        """
        order = torch.argsort(starts, stable=True)
        out: Tensor | None = None
        chunk: list[int] = []
        longest = 0

        def flush() -> None:
            nonlocal out, chunk, longest
            if not chunk:
                return
            index = torch.tensor(chunk, device=starts.device)
            lengths = torch.tensor([len(suffixes[i]) for i in chunk], device=starts.device)
            padded = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long, device=starts.device)
            for row, i in enumerate(chunk):
                padded[row, : len(suffixes[i])] = suffixes[i]
            values = self.last_activations(starts[index], padded, lengths)
            if out is None:
                out = torch.full((len(suffixes), values.shape[-1]), float("nan"), dtype=values.dtype, device=values.device)
            out[index] = values
            chunk, longest = [], 0

        with torch.inference_mode():
            for i in order.tolist():
                length = len(suffixes[i])
                if chunk and max(longest, length) * (len(chunk) + 1) > ROWS_PER_CHUNK:
                    flush()
                    if stop is not None and stop():
                        break
                chunk.append(i)
                longest = max(longest, length)
            flush()
        assert out is not None
        return out
