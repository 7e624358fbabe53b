"""The residual stream across depth: its norm at every layer boundary, and how fast it grows.

Residual norms. The residual stream is the sum of the embeddings and of everything each block
writes. In GPT-2-style (pre-LayerNorm) models its norm grows roughly exponentially with depth:
each block reads through a LayerNorm, so it sees the direction, not the size, and writes outputs
that grow too (Heimersheim & Turner, "Residual stream norms grow exponentially over the forward
pass"). We measure the L2 norm at every boundary — the input of each block (`resid_pre`), after
its attention (`resid_mid`, optional) and the final output (`resid_post` of the last block) — per
position, and fit `norm ≈ a · factor^layer` by least squares on the log norms, reporting the
factor and the fit's R². The BOS position is left out by default: its norm is an outlier.
Prompts of different lengths in one batch are padded at the end; pass their `attention_mask`
(1 = real token, 0 = padding) so padding never enters the mean or the fit. A batch that looks
padded but comes without a mask is refused, since its averages would be silently wrong.
Beside the stream, the norms of what each block writes (attention and MLP outputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import hook_names, starts_with_bos
from interp_widgets.errors import InterpWidgetsError


@dataclass(frozen=True)
class ExponentialFit:
    """`norm ≈ scale · factor ** layer`, fitted on log norms; `r2` is the fit's R² on the logs."""

    factor: float
    scale: float
    r2: float

    def at(self, layer: float) -> float:
        return self.scale * self.factor**layer


def exponential_fit(values: Tensor, layers: Tensor | None = None) -> ExponentialFit:
    """Least-squares line through `(layer, log value)`; `values [n]` must be positive, n ≥ 2."""
    values = values.detach().double().flatten()
    if values.numel() < 2:
        raise InterpWidgetsError("an exponential fit needs at least two layer boundaries.")
    if not (values > 0).all():
        raise InterpWidgetsError("an exponential fit needs positive norms (a norm of 0 has no logarithm).")
    x = torch.arange(values.numel(), dtype=torch.float64) if layers is None else layers.double().flatten()
    y = values.log()
    dx, dy = x - x.mean(), y - y.mean()
    slope = float((dx * dy).sum() / (dx**2).sum())
    intercept = float(y.mean() - slope * x.mean())
    residual = y - (intercept + slope * x)
    total = float((dy**2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0
    return ExponentialFit(factor=math.exp(slope), scale=math.exp(intercept), r2=r2)


def boundary_hooks(n_layers: int, mid: bool = False) -> tuple[list[str], list[str], list[float]]:
    """Hook names of the layer boundaries, their labels and their depth in layers (mid-block: +0.5)."""
    names, labels, depths = [], [], []
    for layer in range(n_layers):
        names.append(f"blocks.{layer}.hook_resid_pre")
        labels.append(f"{layer}_pre")
        depths.append(float(layer))
        if mid:
            names.append(f"blocks.{layer}.hook_resid_mid")
            labels.append(f"{layer}_mid")
            depths.append(layer + 0.5)
    names.append(f"blocks.{n_layers - 1}.hook_resid_post")
    labels.append("final_post")
    depths.append(float(n_layers))
    return names, labels, depths


@dataclass(frozen=True)
class ResidualNorms:
    """Norms of the residual stream at each boundary and of what each block writes.

    stream  `[n_boundaries, batch, pos]` L2 norm of the stream
    attn    `[n_layers, batch, pos]`     L2 norm of each block's attention output
    mlp     `[n_layers, batch, pos]`     L2 norm of each block's MLP output (zeros for attention-only models)
    mask    `[batch, pos]`               True at real tokens, False at padding; padded norms are NaN
    """

    labels: list[str]
    depths: list[float]
    stream: Tensor
    attn: Tensor
    mlp: Tensor
    include_bos: bool
    mask: Tensor | None = None

    def positions(self) -> slice:
        return slice(0 if self.include_bos else 1, None)

    def mean(self) -> Tensor:
        """Mean stream norm per boundary over prompts and real positions (BOS left out unless included), `[n_boundaries]`."""
        return self.stream[:, :, self.positions()].nanmean(dim=(1, 2))

    def fit(self) -> ExponentialFit:
        """The exponential fit of the mean norms against depth."""
        return exponential_fit(self.mean(), torch.tensor(self.depths))


def real_token_mask(model: object, tokens: Tensor, attention_mask: Tensor | None) -> Tensor:
    """`[batch, pos]` True at real tokens: the given mask checked (padding only at the end), or all True.

    Without a mask, a batch of several prompts in which a row ends with the pad token, or has it right
    after the first position, was padded by `to_tokens`: it is refused rather than averaged with its padding.
    """
    if attention_mask is None:
        pad_id = getattr(getattr(model, "tokenizer", None), "pad_token_id", None)
        if tokens.shape[0] > 1 and pad_id is not None and tokens.shape[1] > 2:
            padded_rows = ((tokens[:, -1] == pad_id) | (tokens[:, 1] == pad_id)).nonzero().flatten().tolist()
            if padded_rows:
                raise InterpWidgetsError(
                    f"this batch looks padded (row(s) {padded_rows} hold the pad token {pad_id} at the start or end), "
                    "and padding would be averaged into the norms and the fit. Pass "
                    "attention_mask=[batch, pos] (1 = real token, 0 = padding), or measure one prompt at a time.")
        return torch.ones(tokens.shape, dtype=torch.bool)
    mask = torch.as_tensor(attention_mask).to("cpu")
    if mask.shape != tokens.shape:
        raise InterpWidgetsError(f"attention_mask must have the tokens' shape {list(tokens.shape)}, got {list(mask.shape)}.")
    mask = mask.bool()
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        raise InterpWidgetsError("attention_mask has padding before real tokens (left padding): pad at the end "
                                 "(tokenizer padding_side='right') so each prompt's tokens keep their positions.")
    if not mask[:, 0].all():
        raise InterpWidgetsError("attention_mask marks a whole prompt as padding: leave empty prompts out of the batch.")
    return mask


def residual_norms(model: object, tokens: Tensor, mid: bool = False, include_bos: bool = False,
                   attention_mask: Tensor | None = None) -> ResidualNorms:
    """Residual-stream norms for `tokens [batch, pos]` at every layer boundary, and the blocks' output norms.

    `attention_mask [batch, pos]` (1 = real token, 0 = padding at the end) is needed for a padded
    batch of prompts of different lengths; padded positions get NaN norms and stay out of `mean()`/`fit()`.
    """
    n_layers = model.cfg.n_layers  # type: ignore[attr-defined]
    if tokens.ndim != 2:
        raise InterpWidgetsError(f"tokens must be [batch, pos], got shape {list(tokens.shape)}.")
    include_bos = include_bos or not starts_with_bos(model, tokens)  # no BOS to leave out (Pythia, Qwen): every token counts
    if not include_bos and tokens.shape[1] < 2:
        raise InterpWidgetsError("the prompt has only the BOS token, which is left out: give a longer prompt or include_bos=True.")
    mask = real_token_mask(model, tokens, attention_mask)
    names, labels, depths = boundary_hooks(n_layers, mid)
    if mid and "blocks.0.hook_resid_mid" not in hook_names(model):
        raise InterpWidgetsError("this model has no residual stream between attention and MLP (no blocks.L.hook_resid_mid): "
                                 "its attention and MLP read the same stream (parallel attention: Pythia, GPT-J, Phi, Falcon) "
                                 "or it has no MLP. Show the block boundaries only (mid=False).")
    writes = [f"blocks.{layer}.hook_{part}_out" for layer in range(n_layers) for part in ("attn", "mlp")]
    wanted = set(names) | set(writes)
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in wanted)  # type: ignore[attr-defined]
    # norms leave each block's device (a split model caches every block on its own) for the CPU
    stream = torch.stack([cache[name].float().norm(dim=-1).cpu() for name in names])

    def written(part: str) -> Tensor:
        zeros = torch.zeros_like(stream[0])
        return torch.stack([cache[f"blocks.{layer}.hook_{part}_out"].float().norm(dim=-1).cpu()
                            if f"blocks.{layer}.hook_{part}_out" in cache else zeros for layer in range(n_layers)])

    def real(norms: Tensor) -> Tensor:  # [n, batch, pos], NaN at padding
        return norms.cpu().masked_fill(~mask, float("nan"))

    return ResidualNorms(labels, depths, real(stream), real(written("attn")), real(written("mlp")), include_bos, mask)


def mean_residual_norms(model: object, tokens: Tensor) -> Tensor:
    """Mean residual-stream norm before block 0 and after each block: `[n_layers + 1]` (BOS excluded)."""
    return residual_norms(model, tokens).mean()


def growth_factor(norms: Tensor) -> float:
    """Per-layer factor of an exponential fitted to the norms (least squares on log norm)."""
    return exponential_fit(norms).factor

