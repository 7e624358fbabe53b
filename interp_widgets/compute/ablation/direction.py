"""Direction ablation: what the model predicts without one feature or direction at one hook.

The seed: "the log-prob of predicting ' Of' went down by 4 when I ablate this feature direction".
Two ways to take a direction out of the activation `x [pos, d]` at the hook:

- `mode="feature"` (an SAE feature `(sae, f)`): subtract the feature's own contribution,
  `x - a_f(x) * W_dec[f]`, where `a_f(x)` is its activation there. What the SAE says this feature
  adds is removed; everything else, the SAE's error term included, stays.
- `mode="project"` (any direction `v`, or a feature's decoder row): project it out,
  `x - (x . u) u` with `u = v / |v|`, so the activation has no component along `v` at all.

At all positions (`positions=None`) or chosen ones. The model then runs to the logits and each
actual next token's log-prob is compared with the clean run: `drop [pos - 1]` = clean - ablated,
positive where the token became less likely without the direction (the sign convention of
`compute.ablation.removal`). Position t's entry is the prediction of token t + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import as_tokens, resolve_hook_name, token_strings
from interp_widgets.compute.core.readouts import SAEFeatureReadout, as_readout, sae_hook_name
from interp_widgets.errors import InterpWidgetsError


@dataclass(frozen=True)
class DirectionAblation:
    """Log-probs of each actual next token, clean and with the direction removed.

    tokens    the prompt's tokens (`[pos]` strings)
    clean     `[pos - 1]` log p(token t+1 | tokens ..t) on the clean prompt
    ablated   `[pos - 1]` the same with the direction removed at `positions`
    positions the positions where it was removed
    """

    tokens: list[str]
    clean: Tensor
    ablated: Tensor
    positions: list[int]
    mode: str

    @property
    def drop(self) -> Tensor:
        """`clean - ablated`, `[pos - 1]`: positive where the next token became less likely without the direction."""
        return self.clean - self.ablated

    def largest_drops(self, k: int = 10) -> list[tuple[int, str, float]]:
        """The k predictions that moved most, as (position, next token, drop), largest |drop| first."""
        order = self.drop.abs().argsort(descending=True)[:k].tolist()
        return [(p, self.tokens[p + 1], float(self.drop[p])) for p in order]


def _remover(spec: Any, mode: str | None, width: int, hook: str):
    """`(remove(x [.., d]) -> x without the direction, mode)`, with the spec checked against the hook."""
    readout = as_readout(spec)
    readout.validate(width, hook)
    if isinstance(readout, SAEFeatureReadout):
        mode = mode or "feature"
        row = readout.sae.W_dec[readout.feature].detach().float()
        if mode == "feature":
            return (lambda x: x - readout.read(x)[..., None].to(x.dtype) * row.to(x.device, x.dtype)), mode
        direction = row
    elif hasattr(readout, "vector"):
        mode = mode or "project"
        if mode == "feature":
            raise InterpWidgetsError('mode="feature" needs an SAE feature, (sae, index): for a plain direction use mode="project".')
        direction = readout.vector
    else:
        raise InterpWidgetsError("direction ablation needs a direction: a vector of shape [d] or an SAE feature (sae, index).")
    if mode != "project":
        raise InterpWidgetsError(f'mode must be "feature" (an SAE feature\'s contribution) or "project" (a direction), got {mode!r}.')
    norm = float(direction.norm())
    if norm == 0:
        raise InterpWidgetsError("the direction is the zero vector: there is nothing to project out.")
    unit = direction / norm
    return (lambda x: x - (x @ unit.to(x.device, x.dtype))[..., None] * unit.to(x.device, x.dtype)), mode


def next_token_logprobs(logits: Tensor, tokens: Tensor) -> Tensor:
    """`[pos - 1]` log-prob of each actual next token, from `logits [1, pos, vocab]` and `tokens [1, pos]`."""
    return logits[0, :-1].float().log_softmax(-1).gather(-1, tokens[0, 1:, None])[:, 0].cpu()


def direction_ablation(model: Any, prompt_or_tokens: str | Tensor, hook: str, direction_or_feature: Any,
                       positions: Sequence[int] | None = None, mode: str | None = None) -> DirectionAblation:
    """Clean and ablated log-prob of every actual next token, with the direction removed at `hook`."""
    tokens = as_tokens(model, prompt_or_tokens)
    if tokens.shape[1] < 2:
        raise InterpWidgetsError("the prompt needs at least one token after BOS: there is no next token to predict.")
    hook = resolve_hook_name(model, hook)
    spec = direction_or_feature
    if isinstance(as_readout(spec), SAEFeatureReadout):
        trained_on = sae_hook_name(spec[0])
        if trained_on is not None and trained_on != hook:
            raise InterpWidgetsError(f"the SAE was trained on {trained_on!r}, not {hook!r}: pass hook={trained_on!r}.")
    n = tokens.shape[1]
    chosen = list(range(n)) if positions is None else sorted(set(int(p) for p in positions))
    bad = [p for p in chosen if not 0 <= p < n]
    if bad:
        raise InterpWidgetsError(f"positions {bad} are outside the prompt: choose positions 0 to {n - 1}.")
    state: dict[str, Any] = {}

    def ablate(activation: Tensor, hook: Any) -> Tensor:
        if "remove" not in state:
            state["remove"], state["mode"] = _remover(spec, mode, activation.shape[-1], hook.name)
        activation = activation.clone()
        activation[:, chosen] = state["remove"](activation[:, chosen])
        return activation

    with torch.inference_mode():
        clean = next_token_logprobs(model(tokens), tokens)
        with model.hooks(fwd_hooks=[(hook, ablate)]):
            ablated = next_token_logprobs(model(tokens), tokens)
    if "mode" not in state:
        raise InterpWidgetsError(f"hook {hook!r} did not fire in the forward pass.")
    str_tokens = token_strings(model, tokens[0])
    return DirectionAblation(str_tokens, clean, ablated, chosen, state["mode"])
