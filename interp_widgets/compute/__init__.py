"""Plain torch maths behind the widgets. Nothing here imports widget code."""

from interp_widgets.compute.core.hooks import activations_at, hook_names, resolve_hook_name, tokenize
from interp_widgets.compute.core.readouts import (
    DirectionReadout,
    NeuronReadout,
    Readout,
    SAEFeatureReadout,
    as_readout,
    token_values,
)

__all__ = [
    "DirectionReadout",
    "NeuronReadout",
    "Readout",
    "SAEFeatureReadout",
    "activations_at",
    "as_readout",
    "hook_names",
    "resolve_hook_name",
    "token_values",
    "tokenize",
]
