"""Steering: adding, setting or capping a direction while the model writes (`steer`), and how
far to turn it (`strength`: the slider's range and a strength sweep's summary).
"""

from interp_widgets.compute.steering.steer import (  # noqa: F401
    METHODS, POSITIONS, Neuron, Steer, Completion, SteeringResult, TokenEvent, generate, sweep, stream,
)
from interp_widgets.compute.steering.strength import (  # noqa: F401
    largest_activation, steer_site, strength_limit, sweep_summary,
)

__all__ = [
    "Completion",
    "METHODS",
    "Neuron",
    "POSITIONS",
    "Steer",
    "SteeringResult",
    "TokenEvent",
    "generate",
    "largest_activation",
    "steer_site",
    "stream",
    "strength_limit",
    "sweep",
    "sweep_summary",
]
