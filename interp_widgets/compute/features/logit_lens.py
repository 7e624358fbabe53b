"""Feature logit lens: which tokens a direction promotes and suppresses, read through the unembedding.

The seed: "directly unembed the feature direction". A direction `v [d_model]` written into the
residual stream (an SAE feature's decoder row, or any vector) changes the logits by about
`v @ W_U [d_vocab]` if it reached the end unchanged. Before the unembedding the model applies its
final LayerNorm: with `apply_ln=True` the direction is centred (LayerNorm subtracts the mean) and
multiplied by the final norm's scale (`w`, or Gemma's `1 + w`), as it would be on its way out (the division by the
stream's norm is a positive number per position, so it does not change the order). Whether that
was applied is reported.

Some tokens have unembedding columns of outlier norm and top every list ("I subtract out several
high norm tokens"): `exclude_outliers=True` leaves out tokens whose column norm lies more than
`outlier_z` robust standard deviations (median absolute deviation x 1.4826) from the median.
`reference_texts` leaves out tokens that the tokenizer never produces on those texts (tokens
ordinary text never contains); `reference_texts="python-docs"` uses the English prose and code of
Python's own documentation (`pydoc_data`, in every Python, offline). What was left out, and why,
is returned.

Shapes: direction `[d_model]`; `W_U [d_model, d_vocab]`; scores `[d_vocab]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.readouts import DirectionReadout, SAEFeatureReadout, as_readout
from interp_widgets.errors import InterpWidgetsError


@dataclass(frozen=True)
class FeatureLogitLens:
    """The top and bottom k tokens of `direction @ W_U`.

    top, bottom      lists of (token string, token id, score), strongest first
    ln_applied       whether the final LayerNorm's centring and scale were applied
    left_out         (token string, token id, reason) for every token the filters removed
    """

    top: list[tuple[str, int, float]]
    bottom: list[tuple[str, int, float]]
    ln_applied: bool
    left_out: list[tuple[str, int, str]] = field(default_factory=list)


def direction_of(model: Any, direction_or_feature: Any) -> Tensor:
    """The residual-stream direction `[d_model]`: an SAE feature's decoder row, or the vector given."""
    readout = as_readout(direction_or_feature)
    if isinstance(readout, SAEFeatureReadout):
        readout.validate(int(readout.sae.W_enc.shape[0]), "the SAE's hook")
        direction = readout.sae.W_dec[readout.feature].detach().float()
    elif isinstance(readout, DirectionReadout):
        direction = readout.vector
    else:
        raise InterpWidgetsError("the logit lens needs a direction: a vector of shape [d_model] or an SAE feature (sae, index).")
    if direction.shape != (model.cfg.d_model,):
        raise InterpWidgetsError(f"the direction has shape {list(direction.shape)} but the model's residual stream has width "
                                 f"{model.cfg.d_model}: the logit lens reads residual-stream directions (an SAE on a residual hook).")
    return direction


def token_scores(model: Any, direction: Tensor, apply_ln: bool = True) -> tuple[Tensor, bool]:
    """`[d_vocab]` scores `direction @ W_U` (after the final LayerNorm's centring and scale if `apply_ln`)."""
    W_U = model.W_U.detach().float()
    direction = direction.to(W_U.device, W_U.dtype)
    applied = False
    if apply_ln:
        norm_type = str(getattr(model.cfg, "normalization_type", "") or "")
        if norm_type.upper().startswith("LN"):
            direction = direction - direction.mean()
            applied = True
        weight = _final_norm_weight(model)
        if weight is not None:
            direction = direction * weight.to(direction)
            applied = True
    with torch.inference_mode():
        return direction @ W_U, applied


def _final_norm_weight(model: Any) -> Tensor | None:
    """The final norm's per-dimension scale `[d_model]` as the model applies it (None: the norm has none).

    An RMSNorm's scale is read off the norm itself, on the all-ones vector (RMS 1): the stored
    weight `w` (Llama) or `1 + w` (Gemma 1/2/3, whose stored weight starts at zero), whichever the
    module computes. A LayerNorm (which centres: the ones vector would vanish) scales by its weight.
    """
    module = getattr(model, "ln_final", None)
    module = getattr(module, "_original_component", module)
    if module is None:
        return None
    weight = getattr(module, "weight", None)
    if weight is None:
        weight = getattr(module, "w", None)
    if not isinstance(weight, Tensor):
        return None
    if str(getattr(model.cfg, "normalization_type", "") or "").upper().startswith("RMS"):
        with torch.inference_mode():
            ones = torch.ones(1, 1, weight.shape[-1], dtype=weight.dtype, device=weight.device)
            return module(ones)[0, 0].detach().float()
    return weight.detach().float()


def outlier_tokens(model: Any, z: float = 4.0) -> Tensor:
    """Token ids whose unembedding column norm is more than `z` robust standard deviations from the median."""
    norms = model.W_U.detach().float().norm(dim=0)
    median = norms.median()
    spread = (norms - median).abs().median() * 1.4826
    return ((norms - median).abs() > z * max(float(spread), 1e-12)).nonzero()[:, 0].cpu()


def ordinary_texts() -> list[str]:
    """English prose and code: the topics of Python's documentation (`pydoc_data.topics`, ~460 k characters)."""
    from pydoc_data.topics import topics

    return [topics[key] for key in sorted(topics)]


def unseen_tokens(model: Any, texts: Sequence[str] | str) -> Tensor:
    """Token ids that never occur when the tokenizer encodes `texts` ("python-docs": `ordinary_texts()`)."""
    if isinstance(texts, str):
        if texts != "python-docs":
            raise InterpWidgetsError('reference_texts must be a list of texts or "python-docs".')
        texts = ordinary_texts()
    seen = torch.zeros(model.cfg.d_vocab_out if getattr(model.cfg, "d_vocab_out", 0) > 0 else model.cfg.d_vocab, dtype=torch.bool)
    for text in texts:
        ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
        seen[torch.as_tensor(ids, dtype=torch.long)] = True
    return (~seen).nonzero()[:, 0]


def feature_logit_lens(model: Any, direction_or_feature: Any, k: int = 10, apply_ln: bool = True, exclude_outliers: bool = False,
                       outlier_z: float = 4.0, reference_texts: Sequence[str] | str | None = None) -> FeatureLogitLens:
    """The k tokens a direction promotes most and the k it suppresses most, through the unembedding."""
    if not isinstance(k, int) or k < 1:
        raise InterpWidgetsError(f"k must be a positive number of tokens, got {k!r}.")
    scores, applied = token_scores(model, direction_of(model, direction_or_feature), apply_ln)
    scores = scores.cpu()
    keep = torch.ones_like(scores, dtype=torch.bool)
    reasons: dict[int, str] = {}
    if exclude_outliers:
        for token in outlier_tokens(model, outlier_z).tolist():
            reasons[token] = "unembedding norm is an outlier"
    if reference_texts is not None:
        for token in unseen_tokens(model, reference_texts).tolist():
            reasons.setdefault(token, "never produced on the reference texts")
    if reasons:
        keep[list(reasons)] = False
    ids = keep.nonzero()[:, 0]
    kept = scores[ids]
    k = min(k, kept.numel())
    decode = lambda token: model.tokenizer.decode([token])  # noqa: E731
    top = [(decode(int(ids[i])), int(ids[i]), float(kept[i])) for i in kept.argsort(descending=True)[:k]]
    bottom = [(decode(int(ids[i])), int(ids[i]), float(kept[i])) for i in kept.argsort()[:k]]
    left_out = sorted(((decode(t), t, reason) for t, reason in reasons.items()), key=lambda item: item[1])
    return FeatureLogitLens(top, bottom, applied, left_out)


def next_token_probability(model: Any, tokens: Tensor, token_id: int) -> Tensor:
    """`[pos]` the model's probability of `token_id` as the next token after each position of `tokens [1, pos]`.

    Where a token the direction promotes is actually predicted in a prompt (the bars' click).
    """
    if not 0 <= int(token_id) < model.cfg.d_vocab:
        raise InterpWidgetsError(f"token id {token_id} is outside the vocabulary (0 to {model.cfg.d_vocab - 1}).")
    with torch.inference_mode():
        return model(tokens)[0].float().softmax(-1)[:, int(token_id)].cpu()
