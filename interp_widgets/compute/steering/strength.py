"""How far to turn a steer, and what a strength sweep shows.

A strength means something only next to the activations the direction has anyway: adding 5 along
a feature that reaches 40 on real text is a nudge; adding 5 along one that never passes 0.5 is a
shove. So the steering view's slider spans ± 2 × the largest activation seen: the feature's (an
SAE feature's code, else the projection `x·u` on the unit direction) on the prompt, and for an SAE
feature over an activation index of held-out text when one is given.

A sweep runs n strengths in one batch (`compute.steering.steer.sweep`); `sweep_summary` reduces each
steered completion to two numbers to plot against strength: the steer's mean activation over the
generated steps, and the completion's mean log-prob under its own run and under the unsteered run
(how natural the steered text still looks to the plain model).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from interp_widgets.compute.core.hooks import activations_at, tokenize
from interp_widgets.compute.steering.steer import PreparedSteer, Steer, SteeringResult, prepare_steer


def largest_activation(model: Any, prompt: str, steer: Steer | PreparedSteer, index: Any = None) -> float:
    """The largest |activation| of the steer's direction on `prompt` (and in `index`, an SAE feature's activation index).
    `steer` may be prepared already (`prepare_steer`)."""
    prepared = steer if isinstance(steer, PreparedSteer) else prepare_steer(model, steer)
    with torch.inference_mode():
        activation = activations_at(model, tokenize(model, prompt), prepared.site)[0]  # [pos, d]
        seen = float(prepared.read(activation).abs().max())
        if index is not None and prepared.feature is not None:
            values = index.feature(prepared.feature)[1]
            seen = max(seen, float(values.abs().max()) if values.numel() else 0.0)
        if seen == 0.0:  # a feature silent here: the direction's projection still says how large the stream is
            seen = float((activation.float() @ prepared.unit.float()).abs().max())
    return seen


def strength_limit(model: Any, prompt: str, steer: Steer | PreparedSteer, index: Any = None) -> float:
    """The slider's half-range: 2 × `largest_activation` (at least 1)."""
    return max(1.0, 2.0 * largest_activation(model, prompt, steer, index))


def sweep_summary(results: Sequence[SteeringResult], which: int = 0) -> dict[str, np.ndarray]:
    """Per strength (of steer `which`): `strength`, `activation` (mean over the generated steps), `logprob`
    (mean under its own run) and `logprob_unsteered` (mean under the unsteered run), each `[n_strengths]`."""
    def mean(values: np.ndarray) -> float:
        return float(np.mean(values)) if len(values) else float("nan")

    return {
        "strength": np.array([r.steered.strengths[which] for r in results], dtype=np.float32),
        "activation": np.array([mean(r.steered.activations[which]) for r in results], dtype=np.float32),
        "logprob": np.array([mean(r.steered.logprobs) for r in results], dtype=np.float32),
        "logprob_unsteered": np.array([mean(r.steered.other_logprobs) for r in results], dtype=np.float32),
    }
