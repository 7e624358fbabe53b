"""Per-token values read off an activation: a neuron, a direction, or an SAE feature.

A *readout* turns the activation at one hook point, `[pos, d]`, into one number per token
`[pos]`:

- `NeuronReadout(i)`: the i-th coordinate (a neuron, or a basis direction of the residual stream);
- `DirectionReadout(v)`: the dot product with a vector `v` `[d]` (a probe, a steering vector,
  an SAE decoder direction);
- `SAEFeatureReadout(sae, f)`: the activation of feature `f` of a sparse autoencoder. Any object
  with `encode(x [.., d_in]) -> [.., d_sae]` and `W_enc [d_in, d_sae]` works, SAELens' `SAE` too.

`token_values` tokenizes a prompt, runs the model to the hook point once, and applies every
readout to that one activation, giving `[n_series, pos]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import activations_at, resolve_hook_name, token_strings, tokenize
from interp_widgets.errors import InterpWidgetsError


@dataclass(frozen=True)
class NeuronReadout:
    index: int

    @property
    def label(self) -> str:
        return f"neuron {self.index}"

    def validate(self, width: int, hook_name: str) -> None:
        if not 0 <= self.index < width:
            raise InterpWidgetsError(
                f"neuron index {self.index} is out of range for hook {hook_name!r}, which has width "
                f"{width}: use an index from 0 to {width - 1}."
            )

    def read(self, activation: Tensor) -> Tensor:
        return activation[..., self.index]


@dataclass(frozen=True, eq=False)
class DirectionReadout:
    vector: Tensor
    name: str = "direction"

    @property
    def label(self) -> str:
        return self.name

    def validate(self, width: int, hook_name: str) -> None:
        if self.vector.ndim != 1 or self.vector.shape[0] != width:
            raise InterpWidgetsError(
                f"the direction has shape {list(self.vector.shape)} but hook {hook_name!r} has width "
                f"{width}: pass a vector of shape [{width}]."
            )
        if not torch.isfinite(self.vector).all():
            raise InterpWidgetsError("the direction contains NaN or infinite entries.")

    def read(self, activation: Tensor) -> Tensor:
        return activation @ self.vector.to(activation.device, activation.dtype)


@dataclass(frozen=True, eq=False)
class SAEFeatureReadout:
    sae: Any
    feature: int

    @property
    def label(self) -> str:
        return f"feature {self.feature}"

    def validate(self, width: int, hook_name: str) -> None:
        d_in, d_sae = sae_shape(self.sae)
        if d_in != width:
            raise InterpWidgetsError(
                f"the SAE reads vectors of width {d_in} but hook {hook_name!r} has width {width}: "
                "use the SAE trained on this hook and model."
            )
        if not 0 <= self.feature < d_sae:
            raise InterpWidgetsError(
                f"feature index {self.feature} is out of range: the SAE has {d_sae} features "
                f"(0 to {d_sae - 1})."
            )

    def encode(self, activation: Tensor) -> Tensor:
        """All the SAE's features `[.., d_sae]` (shared by every readout of the same SAE)."""
        weight = self.sae.W_enc
        return self.sae.encode(activation.to(weight.device, weight.dtype)).to(activation.device)

    def read(self, activation: Tensor) -> Tensor:
        return self.encode(activation)[..., self.feature]


Readout = Union[NeuronReadout, DirectionReadout, SAEFeatureReadout]
ReadoutSpec = Union[int, Tensor, np.ndarray, tuple[Any, int], Readout]
"""What a user passes as a direction (`as_readout`): a neuron index, a vector `[d]`, `(sae, feature)` or a readout."""


def sae_shape(sae: Any) -> tuple[int, int]:
    """`(d_in, d_sae)` of an SAE, ours or SAELens'."""
    weight = getattr(sae, "W_enc", None)
    if weight is None or not hasattr(sae, "encode"):
        raise InterpWidgetsError(
            f"{type(sae).__name__} is not a sparse autoencoder: it needs `encode` and `W_enc` [d_in, d_sae]."
        )
    return int(weight.shape[0]), int(weight.shape[1])


def sae_hook_name(sae: Any) -> str | None:
    """The hook an SAE was trained on, where it records one (ours, SAELens' old and new cfg)."""
    cfg = getattr(sae, "cfg", None)
    for holder in (sae, cfg, getattr(cfg, "metadata", None)):
        name = getattr(holder, "hook_name", None)
        if isinstance(name, str):
            return name
    return None


def default_hook(readouts: Sequence[Readout]) -> str:
    """The hook to read at when none is given: the hook the first SAE among `readouts` was trained on."""
    for readout in readouts:
        if isinstance(readout, SAEFeatureReadout) and sae_hook_name(readout.sae):
            return sae_hook_name(readout.sae)  # type: ignore[return-value]
    raise InterpWidgetsError("pass hook=..., the hook point to read (e.g. 'blocks.0.hook_resid_post').")


def as_readout(spec: Any) -> Readout:
    """Turn what a user passes as a direction into a readout.

    `int` -> neuron; 1-D tensor or array -> direction; `(sae, feature)` -> SAE feature.
    """
    if isinstance(spec, (NeuronReadout, DirectionReadout, SAEFeatureReadout)):
        return spec
    if isinstance(spec, (bool, np.bool_)):
        raise InterpWidgetsError("a direction cannot be a bool: pass a neuron index, a vector or (sae, feature).")
    if isinstance(spec, (int, np.integer)):
        return NeuronReadout(int(spec))
    if isinstance(spec, np.ndarray):
        spec = torch.from_numpy(spec)
    if isinstance(spec, Tensor):
        return DirectionReadout(spec.detach().float())
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], (int, np.integer)):
        return SAEFeatureReadout(spec[0], int(spec[1]))
    raise InterpWidgetsError(
        f"cannot read values with {type(spec).__name__}: pass a neuron index (int), a vector "
        "(tensor of shape [d]) or an SAE and a feature index as (sae, feature)."
    )


def token_values(
    model: Any, prompt: str, hook_name: str, readouts: Sequence[Readout]
) -> tuple[list[str], Tensor]:
    """Tokens of `prompt` and each readout's value per token: `(str_tokens, [n_series, pos])`."""
    hook_name = resolve_hook_name(model, hook_name)
    for readout in readouts:
        if isinstance(readout, SAEFeatureReadout):
            trained_on = sae_hook_name(readout.sae)
            if trained_on is not None and trained_on != hook_name:
                raise InterpWidgetsError(
                    f"the SAE was trained on {trained_on!r} but values are read at {hook_name!r}: "
                    f"pass hook={trained_on!r}."
                )
    tokens = tokenize(model, prompt)
    activation = activations_at(model, tokens, hook_name)[0]
    if activation.ndim != 2:
        raise InterpWidgetsError(
            f"hook {hook_name!r} gives activations of shape {list(activation.shape)} per prompt, not one "
            "vector per token [pos, d]: choose a residual-stream, MLP or attention-output hook."
        )
    width = activation.shape[-1]
    for readout in readouts:
        readout.validate(width, hook_name)
    encoded: dict[int, Tensor] = {}  # one encoder pass per SAE, however many of its features are read

    def read(readout: Readout) -> Tensor:
        if isinstance(readout, SAEFeatureReadout):
            if id(readout.sae) not in encoded:
                encoded[id(readout.sae)] = readout.encode(activation)
            return encoded[id(readout.sae)][..., readout.feature]
        return readout.read(activation)

    with torch.inference_mode():
        values = torch.stack([read(readout).float() for readout in readouts]).cpu()
    str_tokens = token_strings(model, tokens[0])
    return str_tokens, values
