"""What a model, an SAE or an activation cache holds, as plain numbers (for the rich displays of `%load_ext interp_widgets`).

- `hook_shapes(model)`: every hook point in the order the forward pass reaches it, with its
  activation's shape, `pos` standing for the sequence length. Found by one forward pass over a
  few BOS tokens (a length no dimension of the model has), remembered per model.
- `model_facts(model)`: parameter count, device, dtype, context and the config's shape numbers.
- `cache_norms(cache)`: per cached activation, its shape and the mean L2 norm of its vectors
  (over the last dimension; for `[batch, pos, d_model]` the mean norm of a residual vector).
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

CONFIG_FIELDS = ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "d_vocab", "act_fn", "normalization_type", "positional_embedding_type")
_SHAPES: "weakref.WeakKeyDictionary[Any, list[tuple[str, tuple[int | str, ...]]]]" = weakref.WeakKeyDictionary()


def model_facts(model: Any) -> dict[str, Any]:
    """Architecture, size and placement of a TransformerLens model or bridge (cheap: no forward pass)."""
    cfg = model.cfg
    parameter = next(model.parameters(), None)
    facts: dict[str, Any] = {
        "name": str(getattr(cfg, "model_name", "") or type(model).__name__),
        "architecture": str(getattr(cfg, "original_architecture", None) or type(model).__name__),
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(parameter.device) if parameter is not None else str(getattr(cfg, "device", "?")),
        "dtype": str(parameter.dtype).removeprefix("torch.") if parameter is not None else "?",
        "context": int(getattr(cfg, "n_ctx", 0) or 0),
    }
    facts.update({name: getattr(cfg, name) for name in CONFIG_FIELDS if getattr(cfg, name, None) is not None})
    return facts


def _sequence_length(model: Any) -> int:
    """A length no dimension of the model has, so `pos` is recognisable in a shape."""
    cfg = model.cfg
    taken = {int(getattr(cfg, name, 0) or 0) for name in ("n_heads", "d_head", "d_model", "d_mlp", "d_vocab", "n_ctx", "n_layers", "n_key_value_heads")}
    length = 5
    while length in taken:
        length += 1
    return min(length, max(2, int(getattr(cfg, "n_ctx", length) or length)))


def hook_shapes(model: Any) -> list[tuple[str, tuple[int | str, ...]]]:
    """`[(hook name, shape)]` in forward order, `batch` and `pos` named (one short forward pass, then remembered)."""
    if model in _SHAPES:
        return _SHAPES[model]
    length = _sequence_length(model)
    bos = getattr(model.tokenizer, "bos_token_id", None) if getattr(model, "tokenizer", None) is not None else None
    tokens = torch.full((1, length), int(bos or 0), dtype=torch.long, device=next(model.parameters()).device)  # [1, pos]
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens, return_type=None)
    shapes = []
    for name in cache.keys():
        value = cache[name]
        if isinstance(value, torch.Tensor):
            dims = tuple("batch" if i == 0 and d == 1 else "pos" if d == length else int(d) for i, d in enumerate(value.shape))
            shapes.append((name, dims))
    _SHAPES[model] = shapes
    return shapes


def cache_norms(cache: Any) -> list[tuple[str, tuple[int, ...], float]]:
    """`[(hook, shape, mean L2 norm over the last dimension)]` for every tensor in an activation cache."""
    out = []
    with torch.inference_mode():
        for name in cache.keys():
            value = cache[name]
            if isinstance(value, torch.Tensor):
                norm = float(value.float().norm(dim=-1).mean()) if value.ndim and value.numel() else float("nan")
                out.append((name, tuple(value.shape), norm))
    return out
