"""Attribution graphs over transcoders: `attribute` computes the graph (`graph` holds it and
prunes it), `reference` is the slow hook-loop check, `intervene` sets features and reruns,
`attention_paths` splits an edge by the heads it passes and `qk` says why a head attends,
`drawn` flattens a pruned graph for a view, `graph_json` writes circuit-tracer's JSON and
`graph_file` reads it, checked against its schema and a size budget at the door.
"""

from interp_widgets.compute.attribution.attribute import (  # noqa: F401
    FrozenRun, center, frozen_run, LinearReplacement, SourceTable, active_sources, salient_logits, check_transcoders, attribute, token_strings,
    starts_with_special_token,
)
from interp_widgets.compute.attribution.frozen_parts import (  # noqa: F401
    BlockLayout, NormMap, TranscoderLayer, block_layouts, frozen_scale, read_norm, transcoder_layers,
)
from interp_widgets.compute.attribution.graph import (  # noqa: F401
    normalised, influence, partial_influence, cumulative_threshold, PrunedGraph, AttributionGraph,
)
from interp_widgets.compute.attribution.reference import (  # noqa: F401
    direct_effects_one_by_one,
)
from interp_widgets.compute.attribution.intervene import (  # noqa: F401
    input_hook, output_hook, InterventionResult, check_nodes, feature_edits, intervene,
)
from interp_widgets.compute.attribution.drawn import (  # noqa: F401
    KINDS, TOKEN, FEATURE, ERROR, LOGIT, DrawnGraph, decoder_directions, drawn_graph, label, strongest_paths, logit_lens_tokens, top_contexts,
)
from interp_widgets.compute.attribution.graph_json import (  # noqa: F401
    KIND_TYPES, cantor_pairing, to_circuit_tracer, save_graph_json,
)
from interp_widgets.compute.attribution.graph_file import (  # noqa: F401
    FEATURE_TYPES, MAX_BYTES, MAX_LAYERS, MAX_LINKS, MAX_NODES, MAX_POSITIONS, from_circuit_tracer, load_graph_json, read_json,
)
from interp_widgets.compute.attribution.attention_paths import (  # noqa: F401
    FrozenPrompt, HeadLoadings, NodeRef, drawn_node, edge_head_loadings, freeze, graph_node,
)
from interp_widgets.compute.attribution.qk import QKAttribution, qk_attribution  # noqa: F401

__all__ = [
    "BlockLayout",
    "NormMap",
    "TranscoderLayer",
    "block_layouts",
    "decoder_directions",
    "frozen_scale",
    "read_norm",
    "transcoder_layers",
    "FrozenPrompt",
    "HeadLoadings",
    "NodeRef",
    "QKAttribution",
    "drawn_node",
    "edge_head_loadings",
    "freeze",
    "graph_node",
    "qk_attribution",
    "AttributionGraph",
    "DrawnGraph",
    "ERROR",
    "FEATURE",
    "FEATURE_TYPES",
    "FrozenRun",
    "InterventionResult",
    "KINDS",
    "KIND_TYPES",
    "LOGIT",
    "LinearReplacement",
    "MAX_BYTES",
    "MAX_LAYERS",
    "MAX_LINKS",
    "MAX_NODES",
    "MAX_POSITIONS",
    "PrunedGraph",
    "SourceTable",
    "TOKEN",
    "active_sources",
    "attribute",
    "cantor_pairing",
    "center",
    "check_nodes",
    "check_transcoders",
    "cumulative_threshold",
    "direct_effects_one_by_one",
    "drawn_graph",
    "feature_edits",
    "from_circuit_tracer",
    "frozen_run",
    "influence",
    "input_hook",
    "intervene",
    "label",
    "load_graph_json",
    "logit_lens_tokens",
    "normalised",
    "output_hook",
    "partial_influence",
    "read_json",
    "salient_logits",
    "starts_with_special_token",
    "save_graph_json",
    "strongest_paths",
    "to_circuit_tracer",
    "token_strings",
    "top_contexts",
]
