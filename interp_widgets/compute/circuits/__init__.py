"""Circuit discovery over the edge graph: EAP and EAP-IG scores, exact edge patching, circuits and
their faithfulness (`graph`: the senders, receivers and edges; `pairs`: prompt pairs and metrics;
`runs`: the hooks of one pass; `scores`: EAP / EAP-IG; `exact`: patching, circuits, curves).
"""

from interp_widgets.compute.circuits.graph import EdgeGraph, Node, edge_graph  # noqa: F401
from interp_widgets.compute.circuits.pairs import (  # noqa: F401
    METRICS, PairBatch, kl_divergence, logit_difference, pair_batch, probability, resolve_metric,
)
from interp_widgets.compute.circuits.scores import EdgeScores, Prepared, edge_attribution, prepare  # noqa: F401
from interp_widgets.compute.circuits.exact import (  # noqa: F401
    Circuit, FaithfulnessCurve, edge_effects, faithfulness, faithfulness_curve, greedy, greedy_order, patched_metric, threshold, top_n,
)

__all__ = [
    "Circuit", "EdgeGraph", "EdgeScores", "FaithfulnessCurve", "METRICS", "Node", "PairBatch", "Prepared", "edge_attribution",
    "edge_effects", "edge_graph", "faithfulness", "faithfulness_curve", "greedy", "greedy_order", "kl_divergence", "logit_difference",
    "pair_batch", "patched_metric", "prepare", "probability", "resolve_metric", "threshold", "top_n",
]
