"""How good is an SAE? Reconstruction, sparsity, and what splicing it into the model costs.

- `reconstruction_metrics(sae, x)`: MSE, explained variance, L0 (active features per token), and
  the fractions of dead features (never active on `x`) and dense ones (active on over
  `dense_threshold` of the tokens).
- `spliced_loss(model, sae, tokens)`: the model's next-token cross-entropy when the activation at
  the SAE's hook is replaced by the SAE's reconstruction, against the clean model and against
  zero-ablating that activation. "CE loss recovered" = (zero - spliced) / (zero - clean): 1 means
  the SAE loses nothing the model needs, 0 means it is as bad as deleting the activation.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import resolve_hook_name
from interp_widgets.compute.core.readouts import sae_hook_name, sae_shape
from interp_widgets.errors import InterpWidgetsError


@torch.inference_mode()
def reconstruction_metrics(sae: Any, x: Tensor, dense_threshold: float = 0.1, batch_size: int = 8192) -> dict[str, float]:
    """Metrics of `sae` on activations `x [n, d_in]` (works for SAELens SAEs too)."""
    d_in, d_sae = sae_shape(sae)
    if x.ndim != 2 or x.shape[-1] != d_in:
        raise InterpWidgetsError(f"activations must be [n, {d_in}] for this SAE, got {list(x.shape)}.")
    if x.shape[0] == 0:
        raise InterpWidgetsError("no activations to evaluate on.")
    weight = sae.W_enc
    squared_error = total_variance = l0 = 0.0
    fire_counts = torch.zeros(d_sae, device=weight.device)
    mean = x.mean(0)
    for first in range(0, x.shape[0], batch_size):
        chunk = x[first : first + batch_size].to(weight.device, weight.dtype)
        features = sae.encode(chunk)
        error = (chunk - sae.decode(features)).float()
        squared_error += float(error.pow(2).sum())
        total_variance += float((chunk.float() - mean.to(chunk.device)).pow(2).sum())
        active = features != 0
        l0 += float(active.sum())
        fire_counts += active.sum(0).float()
    n = x.shape[0]
    frequency = fire_counts / n
    return {
        "mse": squared_error / (n * d_in),
        "explained_variance": 1 - squared_error / max(total_variance, 1e-12),
        "l0": l0 / n,
        "dead_fraction": float((frequency == 0).float().mean()),
        "dense_fraction": float((frequency > dense_threshold).float().mean()),
    }


@torch.inference_mode()
def spliced_loss(model: Any, sae: Any, tokens: Tensor, hook_name: str | None = None, splice_bos: bool = False) -> dict[str, float]:
    """Cross-entropy of `model` on `tokens [batch, pos]`: clean, SAE spliced in, and activation zeroed."""
    hook_name = resolve_hook_name(model, hook_name or sae_hook_name(sae) or "")
    d_in, _ = sae_shape(sae)
    first = 0 if splice_bos else 1

    def splice(activation: Tensor, hook: Any) -> Tensor:
        if activation.shape[-1] != d_in:
            raise InterpWidgetsError(f"the SAE reads width {d_in} but {hook_name!r} has width {activation.shape[-1]}.")
        patched = activation.clone()
        weight = sae.W_enc
        inner = activation[:, first:].to(weight.device, weight.dtype)
        patched[:, first:] = sae.decode(sae.encode(inner)).to(activation.dtype).to(activation.device)
        return patched

    def zero(activation: Tensor, hook: Any) -> Tensor:
        patched = activation.clone()
        patched[:, first:] = 0
        return patched

    def loss(hooks: list) -> float:
        with model.hooks(fwd_hooks=hooks):
            return float(model(tokens, return_type="loss"))

    clean, spliced, zeroed = loss([]), loss([(hook_name, splice)]), loss([(hook_name, zero)])
    recovered = (zeroed - spliced) / (zeroed - clean) if zeroed != clean else float("nan")
    return {
        "ce_clean": clean,
        "ce_spliced": spliced,
        "ce_zero_ablated": zeroed,
        "ce_loss_recovered": recovered,
        "perplexity_clean": math.exp(clean),
        "perplexity_spliced": math.exp(spliced),
        "perplexity_change": math.exp(spliced) - math.exp(clean),
    }
