"""circuit-tracer's graph JSON, written: the file its frontend and Neuronpedia's graph pages read
(`graph_file` reads it back, checked at the door).

    {"metadata": {"slug", "scan", "transcoder_list", "prompt_tokens", "prompt", "node_threshold"},
     "qParams":  {"pinnedIds", "supernodes": [[name, node_id, ...]], "linkType", "clickedId", "sg_pos"},
     "nodes": [{"node_id", "feature", "layer", "ctx_idx", "feature_type", "token_prob", "is_target_logit",
                "run_idx", "reverse_ctx_idx", "jsNodeId", "clerp", "influence", "activation"}],
     "links": [{"source": node_id, "target": node_id, "weight"}]}

feature_type: "cross layer transcoder" (a feature; id `layer_feature_pos`), "mlp reconstruction
error" (`0_layer_pos`), "embedding" (layer "E", `E_vocab_pos`), "logit" (layer n_layers + 1,
`L+1_vocab_pos`); a feature's "feature" number is the Cantor pairing of (layer, index), as
circuit-tracer 0.5 writes it (the index itself is read back from the node id). The schema is circuit-tracer's `frontend/graph_models.py` (pydantic); a test
validates our files with those classes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from interp_widgets.compute.attribution.drawn import ERROR, FEATURE, LOGIT, TOKEN, DrawnGraph

KIND_TYPES = {FEATURE: "cross layer transcoder", ERROR: "mlp reconstruction error", TOKEN: "embedding", LOGIT: "logit"}


def cantor_pairing(layer: int, feature: int) -> int:
    """circuit-tracer's (>= 0.5) unique number of a feature node: the Cantor pairing of layer and index."""
    return (layer + feature) * (layer + feature + 1) // 2 + feature


def to_circuit_tracer(drawn: DrawnGraph, slug: str = "graph", scan: str = "interp-widgets", node_threshold: float | None = None) -> dict[str, Any]:
    """The drawn graph as circuit-tracer's JSON (a dict; `save_graph_json` writes it)."""
    ids = drawn.node_ids()
    logits = [i for i in range(drawn.n_nodes) if drawn.kinds[i] == LOGIT]
    first_logit = min(logits, key=lambda i: -float(drawn.activations[i])) if logits else -1
    nodes = []
    for i, node_id in enumerate(ids):
        kind, row, pos = int(drawn.kinds[i]), int(drawn.rows[i]), int(drawn.positions[i])
        node = {"node_id": node_id, "feature": int(drawn.features[i]) if kind != TOKEN else pos,
                "layer": "E" if kind == TOKEN else str(row - 1) if kind != LOGIT else str(drawn.n_layers + 1),
                "ctx_idx": pos, "feature_type": KIND_TYPES[kind], "token_prob": 0.0, "is_target_logit": False,
                "run_idx": 0, "reverse_ctx_idx": 0, "clerp": "", "influence": float(drawn.influence[i]), "activation": None}
        if kind == FEATURE:
            layer, feature = row - 1, int(drawn.features[i])
            node.update(jsNodeId=f"{layer}_{feature}-0", activation=float(drawn.activations[i]), feature=cantor_pairing(layer, feature))
        elif kind == ERROR:
            node.update(jsNodeId=f"{row - 1}_{pos}-0")
        elif kind == TOKEN:
            node.update(jsNodeId=f"E_{int(drawn.features[i])}-{pos}")
        else:
            probability = float(drawn.activations[i])
            token = drawn.labels[i]
            node.update(jsNodeId=f"L_{int(drawn.features[i])}-{pos}", token_prob=probability, is_target_logit=i == first_logit,
                        clerp=token if token.startswith("Output ") else f'Output "{token}" (p={probability:.3f})', influence=None)
        nodes.append(node)
    links = [{"source": ids[s], "target": ids[t], "weight": w}
             for s, t, w in zip(drawn.sources.tolist(), drawn.targets.tolist(), drawn.weights.tolist())]
    supernodes = [[str(group[0]), *(ids[n] for n in group[1:])] for group in drawn.supernodes]
    metadata = {"slug": slug, "scan": scan, "transcoder_list": [], "prompt_tokens": list(drawn.token_strings),
                "prompt": drawn.prompt, "node_threshold": node_threshold, "schema_version": 1}
    return {"metadata": metadata, "qParams": {"pinnedIds": [], "supernodes": supernodes, "linkType": "both", "clickedId": "", "sg_pos": ""},
            "nodes": nodes, "links": links}


def save_graph_json(drawn: DrawnGraph, path: str | Path, slug: str | None = None, **kwargs: Any) -> Path:
    """Write `drawn` to `path` in circuit-tracer's format (the slug defaults to the file's stem)."""
    path = Path(path)
    path.write_text(json.dumps(to_circuit_tracer(drawn, slug or path.stem, **kwargs)))
    return path


