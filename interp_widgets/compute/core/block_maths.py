"""One transformer block as plain torch pieces, read from a TransformerLens native model or a Hugging Face one.

The fast paths (`prefix_runner.PrefixRunner`, `decoding.CachedDecoder`, the patching engine)
recompute parts of a forward pass themselves: embed, then per block attention over cached keys
and values and the MLP, then the final norm and unembedding. They need each block's pieces, not
its forward: `Block` holds them, whatever the model they came from.

    attention:  n = ln1(x); q, k, v = q(n), k(n), v(n)           [.., heads | kv_heads, d_head]
                (q/k norms inside q and k, rotary on q and k, grouped-query heads repeated)
                scores = q.k / scale, soft-capped (cap * tanh(s / cap)), causal, sliding window
                attn_out = post_attn(o(pattern @ v))                                   [.., d]
    MLP:        mlp_out = post_mlp(mlp(ln2(x + attn_out)))   or, parallel, mlp(ln2(x))  [.., d]
    block:      x + attn_out + mlp_out

`model_maths(model)` returns `ModelMaths` (embedding, blocks, final norm + unembedding + logit
soft-cap) or a string saying why the model is not covered; callers then run the model itself
(hooked forwards: exact, slower). Covered: the native models (`boot_native`, the embedded ones)
and, from Hugging Face weights, GPT-2, GPT-NeoX (Pythia), Llama, Mistral, Qwen 2, Qwen 3, Gemma,
Gemma 2 and Gemma 3 (`hf_blocks.py`). Each caller checks its maths against the model's own forward
once per model before trusting it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from interp_widgets.compute.core.linear import FastLinear, linear

Fn = Callable[[Tensor], Tensor]


def raw_module(module: Any) -> Any:
    """The plain torch module inside a TransformerBridge component (itself if not wrapped)."""
    return getattr(module, "_original_component", module)


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Rotary:
    """Rotary positions on the first `dims` of each head, from `cos`/`sin` tables `[n, dims]`; `turn` pairs the
    dimensions (halves, as GPT-NeoX and Llama; adjacent pairs, as TransformerLens' native rotary).
    `tables(n)` gives tables covering positions 0..n-1 (at least)."""

    def __init__(self, tables: Callable[[int], tuple[Tensor, Tensor]], turn: Fn = rotate_half) -> None:
        self._tables, self._turn = tables, turn
        self._cos: Tensor | None = None
        self._sin: Tensor | None = None

    def __call__(self, x: Tensor, positions: Tensor) -> Tensor:
        """`x [B, T, heads, d_head]` rotated at `positions [B, T]`."""
        needed = int(positions.max()) + 1 if positions.numel() else 1
        if self._cos is None or self._cos.shape[0] < needed or self._cos.device != positions.device:  # longer, or moved
            self._cos, self._sin = self._tables(max(needed, 64))
        cos = self._cos[positions].to(x.dtype)[:, :, None]
        sin = self._sin[positions].to(x.dtype)[:, :, None]
        dims = cos.shape[-1]
        turned, kept = x[..., :dims], x[..., dims:]
        turned = turned * cos + self._turn(turned) * sin
        return torch.cat([turned, kept], dim=-1) if kept.shape[-1] else turned


class projection:
    """`x @ weight.T + bias` with `(weight [out, in], bias) = parts()` read at every call: views of the model's own
    tensors (a Conv1D's transpose, a fused projection's rows), so edits, `.to(...)` and reloads show."""

    def __init__(self, parts: Callable[[], tuple[Tensor, Tensor | None]]) -> None:
        self.parts = parts

    @property
    def weight(self) -> Tensor:
        return self.parts()[0]

    @property
    def bias(self) -> Tensor | None:
        return self.parts()[1]

    def __call__(self, x: Tensor) -> Tensor:
        weight, bias = self.parts()
        # a strided view (a Conv1D's transposed slice) goes to torch's BLAS, which reads it in place; oneDNN
        # would reorder it on every call (measured: 1000x slower for GPT-2's query rows)
        return linear(x, weight, bias) if weight.is_contiguous() else F.linear(x, weight, bias)


def heads_of(linear: Callable[[Tensor], Tensor], heads: int, d_head: int, norm: Fn | None = None, norm_width: bool = False) -> Fn:
    """`[.., d] -> [.., heads, d_head]` through `linear`, then a per-head norm (`norm_width`: over all heads at once)."""
    def project(x: Tensor) -> Tensor:
        y = linear(x)
        if norm is not None and norm_width:
            y = norm(y)
        y = y.unflatten(-1, (heads, d_head))
        return norm(y) if norm is not None and not norm_width else y
    return project


@dataclass
class Block:
    """One block's pieces (see the module doc). `None` for a piece the block does not have."""

    ln1: Fn | None
    q: Fn
    k: Fn
    v: Fn
    o: Callable[[Tensor], Tensor]  # [.., heads * d_head] -> [.., d]
    heads: int
    kv_heads: int
    d_head: int
    scale: float
    rotary: Rotary | None = None
    softcap: float | None = None
    window: int | None = None
    post_attn: Fn | None = None
    ln2: Fn | None = None
    mlp: Fn | None = None  # None: attention only
    post_mlp: Fn | None = None
    parallel: bool = False
    qkv: Callable[[Tensor], tuple[Tensor, Tensor, Tensor]] | None = None  # a fused projection: (q, k, v) at once

    def _project(self, normed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.qkv(normed) if self.qkv is not None else (self.q(normed), self.k(normed), self.v(normed))

    def attn_in(self, x: Tensor) -> Tensor:
        return self.ln1(x) if self.ln1 is not None else x

    def keys_values(self, x: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Keys (rotated) and values `[B, T, heads, d_head]` (grouped heads repeated) of residual `x [B, T, d]`."""
        normed = self.attn_in(x)
        k, v = self.qkv(normed)[1:] if self.qkv is not None else (self.k(normed), self.v(normed))
        if self.rotary is not None:
            k = self.rotary(k, positions)
        return self.repeat(k), self.repeat(v)

    def queries_keys_values(self, x: Tensor, positions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """`queries(x)` and `keys_values(x)` at once (the norm once)."""
        q, k, v = self._project(self.attn_in(x))
        if self.rotary is not None:
            q, k = self.rotary(q, positions), self.rotary(k, positions)
        return q, self.repeat(k), self.repeat(v)

    def queries(self, x: Tensor, positions: Tensor) -> Tensor:
        normed = self.attn_in(x)
        q = self.qkv(normed)[0] if self.qkv is not None else self.q(normed)
        return self.rotary(q, positions) if self.rotary is not None else q

    def repeat(self, kv: Tensor) -> Tensor:
        return kv if self.kv_heads == self.heads else kv.repeat_interleave(self.heads // self.kv_heads, dim=-2)

    def scores(self, raw: Tensor) -> Tensor:
        """Attention scores from query-key products: scaled, then soft-capped where the block caps them."""
        scores = raw / self.scale
        return self.softcap * torch.tanh(scores / self.softcap) if self.softcap else scores

    def hidden(self, query_positions: Tensor, key_positions: Tensor) -> Tensor:
        """Which keys a query may not see: later ones, and (sliding window) those `window` or more positions back."""
        gap = query_positions[..., :, None] - key_positions[..., None, :]
        return (gap < 0) | (gap >= self.window) if self.window else gap < 0

    def attention_output(self, z: Tensor) -> Tensor:
        """What attention adds to the residual stream, from the heads' outputs `z [.., heads, d_head]`."""
        out = self.o(z.flatten(-2))
        return self.post_attn(out) if self.post_attn is not None else out

    def mlp_output(self, pre: Tensor, mid: Tensor) -> Tensor:
        """What the MLP adds: it reads `mid` (the stream after attention), or `pre` in a parallel block."""
        if self.mlp is None:
            return torch.zeros_like(mid)
        source = pre if self.parallel else mid
        out = self.mlp(self.ln2(source) if self.ln2 is not None else source)
        return self.post_mlp(out) if self.post_mlp is not None else out

    @property
    def has_mid(self) -> bool:
        """Whether the model has a stream between attention and MLP (`hook_resid_mid`)."""
        return self.mlp is not None and not self.parallel


@dataclass
class ModelMaths:
    """The pieces of a whole model: `embed(tokens, positions)`, the blocks, `final(x)` -> logits."""

    embed: Callable[[Tensor, Tensor], Tensor]
    blocks: list[Block]
    norm: Fn | None
    unembed: FastLinear | Any
    n_ctx: int
    logit_cap: float | None = None

    def final(self, x: Tensor) -> Tensor:
        logits = self.unembed(self.norm(x) if self.norm is not None else x)
        return self.logit_cap * torch.tanh(logits / self.logit_cap) if self.logit_cap else logits


_MATHS: "weakref.WeakKeyDictionary[Any, ModelMaths | str]" = weakref.WeakKeyDictionary()


def model_maths(model: Any) -> ModelMaths | str:
    """The model's pieces, or why they cannot be read (cached per model)."""
    cached = _MATHS.get(model)
    if cached is not None:
        return cached
    from interp_widgets.compute.core.hf_blocks import hf_maths, native_maths

    native = getattr(model, "original_model", None)
    if native is None:
        maths: ModelMaths | str = "not a TransformerBridge"
    elif type(native).__name__ == "NativeModel":
        maths = native_maths(model)
    else:
        maths = hf_maths(model)
    _MATHS[model] = maths
    return maths
