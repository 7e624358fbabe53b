"""Logit lens (nostalgebraist, 2020). Read the stream after each block as if it were the last: apply
the final LayerNorm with statistics recomputed from that layer's stream, then the unembedding
(and the final logit soft-cap where the model has one, Gemma 2).
The prediction builds up layer by layer; the KL divergence of each layer's next-token
distribution from the final one says how far it still has to go. Only the top-k ids and
probabilities per (layer, position) leave this module — never the full vocabulary distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from interp_widgets.compute.residual.norms import boundary_hooks
from interp_widgets.errors import InterpWidgetsError


@dataclass(frozen=True)
class LogitLens:
    """Top-k next-token predictions read off the stream at each layer boundary.

    top_ids    `[n_boundaries, pos, k]` token ids, most probable first
    top_probs  `[n_boundaries, pos, k]` their probabilities
    kl         `[n_boundaries, pos]`    KL(final ‖ this layer) in nats; 0 at the final boundary
    """

    labels: list[str]
    top_ids: Tensor
    top_probs: Tensor
    kl: Tensor


def layer_logits(model: object, tokens: Tensor) -> tuple[list[str], Tensor]:
    """Logits `[n_boundaries, pos, d_vocab]` of the stream at each boundary, final LayerNorm recomputed per layer.

    Equal to transformer-lens' `cache.accumulated_resid(apply_ln=True)` followed by the unembedding.
    For one prompt `tokens [1, pos]`.
    """
    if tokens.ndim != 2 or tokens.shape[0] != 1:
        raise InterpWidgetsError(f"the logit lens reads one prompt: tokens must be [1, pos], got {list(tokens.shape)}.")
    n_layers = model.cfg.n_layers  # type: ignore[attr-defined]
    names, labels, _ = boundary_hooks(n_layers)
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in set(names))  # type: ignore[attr-defined]
        # a model split across GPUs caches each block's stream on its own device: gather on the last one's
        device = cache[names[-1]].device
        stack = torch.cat([cache[name].to(device) for name in names])  # [n_boundaries, pos, d_model]
        logits = soft_capped(model, model.unembed(model.ln_final(stack)))  # type: ignore[attr-defined]
    return labels, logits.float()


def soft_capped(model: object, logits: Tensor) -> Tensor:
    """The model's final logit soft-cap, `cap * tanh(logits / cap)` (Gemma 2: cap 30), where it has one.

    The model applies it after the unembedding; a lens that left it out would report other
    probabilities, ranks and KL than the model's own at the last boundary.
    """
    cap = float(getattr(model.cfg, "output_logits_soft_cap", -1.0) or -1.0)  # type: ignore[attr-defined]
    return cap * torch.tanh(logits / cap) if cap > 0 else logits


def logit_lens(model: object, tokens: Tensor, k: int = 5) -> LogitLens:
    """The logit lens of one prompt, reduced to top-k per cell and the KL from the final layer."""
    d_vocab = model.cfg.d_vocab  # type: ignore[attr-defined]
    if not 1 <= k <= d_vocab:
        raise InterpWidgetsError(f"k must be between 1 and the vocabulary size {d_vocab}, got {k}.")
    labels, logits = layer_logits(model, tokens)
    log_probs = logits.log_softmax(dim=-1)
    final = log_probs[-1]
    kl = (final.exp() * (final - log_probs)).sum(dim=-1).clamp_min(0)
    top_log_probs, top_ids = log_probs.topk(k, dim=-1)
    return LogitLens(labels, top_ids.cpu(), top_log_probs.exp().cpu(), kl.cpu())


def token_rank(model: object, tokens: Tensor, token_id: int) -> tuple[Tensor, Tensor]:
    """Rank (0 = top) and probability of one token at each boundary and position: two `[n_boundaries, pos]`."""
    d_vocab = model.cfg.d_vocab  # type: ignore[attr-defined]
    if not 0 <= token_id < d_vocab:
        raise InterpWidgetsError(f"token id {token_id} is outside the vocabulary (0 to {d_vocab - 1}).")
    _, logits = layer_logits(model, tokens)
    target = logits[..., token_id : token_id + 1]
    rank = (logits > target).sum(dim=-1)
    return rank.cpu(), logits.softmax(dim=-1)[..., token_id].cpu()


def logit_lens_agreement(model: object, tokens: Tensor) -> Tensor:
    """`[n_layers + 1]`: per boundary, the share of positions (BOS excluded) whose logit-lens top-1 is the final top-1."""
    agree = []
    for row in tokens:
        _, logits = layer_logits(model, row[None])  # [boundaries, pos, vocab]
        top = logits[:, 1:].argmax(dim=-1)
        agree.append((top == top[-1]).float())
    return torch.cat(agree, dim=1).mean(dim=1)

