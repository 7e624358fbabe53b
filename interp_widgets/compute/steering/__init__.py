"""Steering: adding, setting or capping a direction while the model writes (`steer`), and how
far to turn it (`strength`: the slider's range and a strength sweep's summary).
"""

from interp_widgets.compute.steering.steer import (  # noqa: F401
    METHODS, POSITIONS, Neuron, PreparedSteer, Steer, Completion, SteeringResult, TokenEvent, generate, generate_tokens, prepare_steer,
    sweep,
)
from interp_widgets.compute.steering.strength import (  # noqa: F401
    largest_activation, strength_limit, sweep_summary,
)

__all__ = [
    "Completion",
    "METHODS",
    "Neuron",
    "POSITIONS",
    "PreparedSteer",
    "Steer",
    "SteeringResult",
    "TokenEvent",
    "generate",
    "generate_tokens",
    "largest_activation",
    "prepare_steer",
    "strength_limit",
    "sweep",
    "sweep_summary",
]
