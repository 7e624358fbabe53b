"""Removing things and watching a readout: tokens (leave-one-out maps, pairs, sets; `removal`,
filled slice by slice in `removal_map`) and directions (`direction`: a feature's direction
projected out of the residual stream, and the per-token log-prob change).
"""

from interp_widgets.compute.ablation.removal import (  # noqa: F401
    CHUNK, LeaveOneOut, PairRemoval, REPLACEMENT_CANDIDATES, default_replacement, leave_one_out, remove_tokens, pairwise_removal, readout_values,
)
from interp_widgets.compute.ablation.removal_map import (  # noqa: F401
    MAP_SLICE, RemovalMap, removal_map_in_slices, last, pairs_as_arrays,
)
from interp_widgets.compute.ablation.direction import (  # noqa: F401
    DirectionAblation, next_token_logprobs, direction_ablation,
)

__all__ = [
    "CHUNK",
    "DirectionAblation",
    "RemovalMap",
    "LeaveOneOut",
    "MAP_SLICE",
    "PairRemoval",
    "REPLACEMENT_CANDIDATES",
    "default_replacement",
    "direction_ablation",
    "last",
    "leave_one_out",
    "next_token_logprobs",
    "pairs_as_arrays",
    "pairwise_removal",
    "readout_values",
    "remove_tokens",
]
