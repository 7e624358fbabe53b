"""Attention patterns for a view: one layer at a time, packed to what a causal model can attend to.

A causal head's pattern `[query, key]` is zero above the diagonal (a token never attends to later
ones), so only the lower triangle — `T(T+1)/2` of the `T²` numbers — carries information. The view
receives each layer's heads as that triangle in float16 (2 bytes a weight; attention weights lie in
[0, 1], where float16 keeps about three significant digits), and only for the layer on screen.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.errors import InterpWidgetsError


def check_layer(model: Any, layer: int) -> None:
    n_layers = model.cfg.n_layers
    if not 0 <= layer < n_layers:
        raise InterpWidgetsError(f"layer {layer} is out of range: the model has {n_layers} layers (0 to {n_layers - 1}).")


def check_head(model: Any, head: int) -> None:
    n_heads = model.cfg.n_heads
    if not 0 <= head < n_heads:
        raise InterpWidgetsError(f"head {head} is out of range: each layer has {n_heads} heads (0 to {n_heads - 1}).")


def layer_patterns(model: Any, tokens: Tensor, layer: int) -> Tensor:
    """One prompt's attention patterns at `layer`, `[n_heads, query, key]`, running the model only that far."""
    check_layer(model, layer)
    if tokens.ndim != 2 or tokens.shape[0] != 1:
        raise InterpWidgetsError(f"attention patterns are read for one prompt: tokens must be [1, pos], got {list(tokens.shape)}.")
    hook = f"blocks.{layer}.attn.hook_pattern"
    try:
        pattern = activations_at(model, tokens, hook)
    except InterpWidgetsError as error:
        raise InterpWidgetsError(f"this model has no attention pattern at {hook!r} ({error})") from None
    if pattern.ndim != 4 or pattern.shape[-1] != pattern.shape[-2]:
        raise InterpWidgetsError(f"{hook!r} gives shape {list(pattern.shape)}, not [batch, heads, query, key].")
    return pattern[0].float()


def pack_lower_triangle(patterns: Tensor) -> Tensor:
    """`[.., T, T]` -> `[.., T(T+1)/2]`: row q's keys 0..q, row after row (the view unpacks them)."""
    size = patterns.shape[-1]
    rows, cols = torch.tril_indices(size, size)
    return patterns[..., rows, cols]


def unpack_lower_triangle(packed: Tensor, size: int) -> Tensor:
    """Inverse of `pack_lower_triangle`, zeros above the diagonal."""
    out = packed.new_zeros(*packed.shape[:-1], size, size)
    rows, cols = torch.tril_indices(size, size)
    out[..., rows, cols] = packed
    return out
