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

`PrefixRunner(model, hook)` supports TransformerLens native models (`TransformerBridge.boot_native`,
the embedded models): learned or rotary positions, LayerNorm/RMSNorm, plain MLPs, hooks at the
residual stream (`hook_resid_pre/mid/post`) and at attention/MLP outputs of a block. `runner.reason`
says why a model or hook is not supported; callers then run plain batched forwards. Each use
checks itself: the clean prompt re-run through the runner must give the clean activation.

Shapes: prompt `[pos]`; a batch of B variants has `starts [B]`, suffix tokens `[B, M]` (padded
after each suffix's end), `lengths [B]`; the result is the hook's activation at each variant's
last token, `[B, d]`.
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from interp_widgets.compute.core.linear import FastLinear

# The hooks the runner reads and edits at: residual boundaries, attention and MLP outputs, and the
# bridge's names for them (`SITE_ALIASES` maps those onto the TransformerLens names).
SUPPORTED_HOOK = re.compile(r"^blocks\.(\d+)\.(hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out|hook_in|hook_out|attn\.hook_out|mlp\.hook_out)$")
SITE_ALIASES = {"hook_in": "hook_resid_pre", "hook_out": "hook_resid_post", "attn.hook_out": "hook_attn_out", "mlp.hook_out": "hook_mlp_out"}
ROWS_PER_CHUNK = 4096  # suffix positions (variants x padded length) per batch


def raw_module(module: Any) -> Any:
    """The plain torch module inside a TransformerBridge component (itself if not wrapped)."""
    return getattr(module, "_original_component", module)


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
        self.reason = self._collect_modules()

    def _collect_modules(self) -> str | None:
        native = getattr(self.model, "original_model", None)
        cfg = getattr(native, "cfg", None)
        if native is None or type(native).__name__ != "NativeModel" or cfg is None:
            return "not a TransformerLens native model"
        if getattr(cfg, "parallel_attn_mlp", False) or float(getattr(cfg, "attn_scores_soft_cap", -1.0)) > 0:
            return "parallel attention/MLP or attention soft-capping"
        self.token_embedding = raw_module(native.tok_embed)
        self.position_embedding = raw_module(native.pos) if native.pos is not None else None
        self.blocks = []
        for bridge in self.model.blocks[: self.layer + 1]:
            block = raw_module(bridge)
            attn = raw_module(block.attn)
            mlp = None if block.cfg.attn_only else raw_module(block.mlp)  # an attention-only block has no MLP at all
            if getattr(attn, "kv_repeats", 1) != 1 or not getattr(attn, "causal", False):
                return "grouped-query or non-causal attention"
            if not block.cfg.attn_only and (not hasattr(mlp, "fc_in") or getattr(mlp, "ln", None) is not None):
                return "a gated or SoLU MLP"
            self.blocks.append({
                "ln1": raw_module(block.ln1), "ln2": None if block.cfg.attn_only else raw_module(block.ln2), "attn_only": block.cfg.attn_only,
                # the projections through `linear`: oneDNN's fp32 kernel where it is faster (compute/core/linear.py)
                "q": FastLinear(raw_module(attn.q)), "k": FastLinear(raw_module(attn.k)), "v": FastLinear(raw_module(attn.v)),
                "o": FastLinear(raw_module(attn.o)),
                "rotary": attn.rotary, "scale": float(attn.scale), "heads": attn.n_heads, "d_head": attn.d_head,
                "fc_in": FastLinear(raw_module(mlp.fc_in)) if hasattr(mlp, "fc_in") else None,
                "fc_out": FastLinear(raw_module(mlp.fc_out)) if hasattr(mlp, "fc_out") else None,
                "act": getattr(mlp, "act", None),
            })
        return None

    # ---- pieces of a block ----------------------------------------------------------------

    def _embed(self, tokens: Tensor, positions: Tensor) -> Tensor:
        x = self.token_embedding(tokens)
        return x + self.position_embedding(positions) if self.position_embedding is not None else x

    def _heads(self, block: dict, linear: nn.Module, x: Tensor) -> Tensor:
        """`[..., d_model]` -> `[..., heads, d_head]`."""
        return linear(x).unflatten(-1, (block["heads"], block["d_head"]))

    def _rotate(self, block: dict, x: Tensor, positions: Tensor) -> Tensor:
        """Rotary positions on `x [B, T, heads, d_head]` at `positions [B, T]`, as the model does."""
        rotary = block["rotary"]
        if rotary is None:
            return x
        cos = rotary.cos_cached[positions].to(x.dtype)[:, :, None]
        sin = rotary.sin_cached[positions].to(x.dtype)[:, :, None]
        dims = rotary.rotary_dim
        turned, kept = x[..., :dims], x[..., dims:]
        turned = turned * cos + rotary._rotate_half(turned) * sin
        return torch.cat([turned, kept], dim=-1) if kept.shape[-1] else turned

    def keys_values(self, block: dict, x: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values `[B, T, heads, d_head]` of residual `x [B, T, d]` at `positions [B, T]`."""
        normed = block["ln1"](x)
        return self._rotate(block, self._heads(block, block["k"], normed), positions), self._heads(block, block["v"], normed)

    def _mlp(self, block: dict, x: Tensor) -> Tensor:
        if block["attn_only"]:
            return torch.zeros_like(x)
        return block["fc_out"](block["act"](block["fc_in"](block["ln2"](x))))

    def _attend(self, block: dict, x: Tensor, positions: Tensor, query_index: Tensor | None, keys: Tensor, values: Tensor,
                prefix: tuple[Tensor, Tensor], starts: Tensor) -> Tensor:
        """Attention output for the suffix queries (all, or one per variant at `query_index`), `[B, Tq, d]`."""
        return block["o"](self.head_outputs(block, x, positions, query_index, keys, values, prefix, starts).flatten(-2))

    def head_outputs(self, block: dict, x: Tensor, positions: Tensor, query_index: Tensor | None, keys: Tensor, values: Tensor,
                     prefix: tuple[Tensor, Tensor], starts: Tensor) -> Tensor:
        """Each head's output before W_O (TransformerLens' `hook_z`), `[B, Tq, heads, d_head]`.

        Keys: the clean prefix's `[P, heads, d_head]` (key j visible to variant b when j < starts[b])
        then the suffix's own `[B, M, heads, d_head]` (causal within the suffix).
        """
        prefix_keys, prefix_values = prefix
        batch, m = keys.shape[:2]
        if query_index is None:
            query_x, query_positions, query_slots = x, positions, torch.arange(m, device=x.device).expand(batch, m)
        else:
            rows = torch.arange(batch, device=x.device)
            query_x, query_positions, query_slots = x[rows, query_index][:, None], positions[rows, query_index][:, None], query_index[:, None]
        queries = self._rotate(block, self._heads(block, block["q"], block["ln1"](query_x)), query_positions)
        # scores [B, heads, Tq, P + M]
        before = torch.einsum("bqhd,khd->bhqk", queries, prefix_keys)
        within = torch.einsum("bqhd,bkhd->bhqk", queries, keys)
        hidden_before = torch.arange(prefix_keys.shape[0], device=x.device)[None, :] >= starts[:, None]  # [B, P]
        hidden_within = torch.arange(m, device=x.device)[None, None, :] > query_slots[:, :, None]  # [B, Tq, M]
        before = before.masked_fill(hidden_before[:, None, None, :], float("-inf"))
        within = within.masked_fill(hidden_within[:, None], float("-inf"))
        pattern = F.softmax(torch.cat([before, within], dim=-1) / block["scale"], dim=-1)
        p = prefix_keys.shape[0]
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
        positions = (starts[:, None] + torch.arange(m, device=suffix.device)[None]).clamp(max=self.model.cfg.n_ctx - 1)
        first_keys = self._first_layer_keys_values(suffix, positions)

        def cached(index: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
            return self.prefix[index]

        return self._forward(suffix, positions, starts, lengths - 1, cached, first_keys)

    def _forward(self, tokens: Tensor, positions: Tensor, starts: Tensor, last: Tensor | None, prefix_of: Any,
                 first_keys: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """Blocks up to the hook: every position before the hook's layer; there, all positions
        (`last` None, `[B, T, d]`) or each row's position `last` only (`[B, d]`)."""
        x = self._embed(tokens, positions)
        rows = torch.arange(tokens.shape[0], device=tokens.device)
        pick = (lambda t: t) if last is None else (lambda t: t[rows, last])  # noqa: E731
        final = self.layer if self.site != "resid_pre" else self.layer - 1
        if final < 0:
            return pick(x)
        for index, block in enumerate(self.blocks[: final + 1]):
            k, v = first_keys if index == 0 and first_keys is not None else self.keys_values(block, x, positions)
            prefix = prefix_of(index, k, v)
            if index < final:
                x = x + self._attend(block, x, positions, None, k, v, prefix, starts)
                x = x + self._mlp(block, x)
                continue
            attn_out = self._attend(block, x, positions, last, k, v, prefix, starts)
            attn_out = attn_out if last is None else attn_out[:, 0]
            if self.site == "attn_out":
                return attn_out
            mid = pick(x) + attn_out
            if self.site == "resid_mid":
                return mid
            mlp_out = self._mlp(block, mid)
            return mlp_out if self.site == "mlp_out" else mid + mlp_out
        return pick(x)  # resid_pre: the output of the block before

    def _first_layer_keys_values(self, suffix: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        """First-layer keys/values depend on (token, position) only: compute each distinct pair once."""
        pairs = suffix * self.model.cfg.n_ctx + positions
        unique, inverse = torch.unique(pairs, return_inverse=True)
        tokens, at = unique // self.model.cfg.n_ctx, unique % self.model.cfg.n_ctx
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
