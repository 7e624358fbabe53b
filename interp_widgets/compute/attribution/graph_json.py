"""circuit-tracer's graph JSON, both ways: the file its frontend and Neuronpedia's graph pages read.

    {"metadata": {"slug", "scan", "transcoder_list", "prompt_tokens", "prompt", "node_threshold"},
     "qParams":  {"pinnedIds", "supernodes": [[name, node_id, ...]], "linkType", "clickedId", "sg_pos"},
     "nodes": [{"node_id", "feature", "layer", "ctx_idx", "feature_type", "token_prob", "is_target_logit",
                "run_idx", "reverse_ctx_idx", "jsNodeId", "clerp", "influence", "activation"}],
     "links": [{"source": node_id, "target": node_id, "weight"}]}

feature_type: "cross layer transcoder" (a feature; id `layer_feature_pos`), "mlp reconstruction
error" (`0_layer_pos`), "embedding" (layer "E", `E_vocab_pos`), "logit" (layer n_layers + 1,
`L+1_vocab_pos`); a feature's "feature" number is the Cantor pairing of (layer, index), as
circuit-tracer 0.5 writes it (the index itself is read back from the node id). The schema is circuit-tracer's `frontend/graph_models.py` (pydantic); a test
validates our files with those classes. A file's strings (labels, tokens) are untrusted: they
are kept as plain text and a view shows them as text only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from interp_widgets.compute.attribution.drawn import ERROR, FEATURE, LOGIT, TOKEN, DrawnGraph
from interp_widgets.errors import InterpWidgetsError

FEATURE_TYPES = {"cross layer transcoder": FEATURE, "transcoder": FEATURE, "mlp reconstruction error": ERROR,
                 "embedding": TOKEN, "logit": LOGIT}
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


def _need(record: dict[str, Any], name: str, where: str) -> Any:
    if name not in record:
        raise InterpWidgetsError(f"{where} has no {name!r}: this is not a circuit-tracer graph file (it needs metadata, nodes, links).")
    return record[name]


def from_circuit_tracer(data: dict[str, Any]) -> DrawnGraph:
    """A circuit-tracer graph (the parsed JSON) as a `DrawnGraph`. Labels are the file's `clerp`
    strings (plain text) or built from the node's place."""
    if not isinstance(data, dict):
        raise InterpWidgetsError(f"a circuit-tracer graph is a JSON object, got {type(data).__name__}.")
    metadata, nodes, links = (_need(data, name, "the file") for name in ("metadata", "nodes", "links"))
    tokens = [str(t) for t in metadata.get("prompt_tokens", [])]
    layer_of = lambda n: int(n["layer"]) if str(n.get("layer", "")).lstrip("-").isdigit() else None  # noqa: E731
    logit_layers = [layer_of(n) for n in nodes if n.get("feature_type") == "logit" and layer_of(n) is not None]
    inner = [layer_of(n) for n in nodes if n.get("feature_type") not in ("logit", "embedding") and layer_of(n) is not None]
    n_layers = max(logit_layers) - 1 if logit_layers else (max(inner) + 1 if inner else 0)
    kinds, rows, positions, features, activations, influence, labels, index = [], [], [], [], [], [], [], {}
    for number, node in enumerate(nodes):
        where = f"node {number}"
        node_id, kind_name = str(_need(node, "node_id", where)), str(_need(node, "feature_type", where))
        if kind_name not in FEATURE_TYPES:
            raise InterpWidgetsError(f"{where} has feature_type {kind_name!r}; known: {sorted(FEATURE_TYPES)}.")
        kind, pos = FEATURE_TYPES[kind_name], int(_need(node, "ctx_idx", where))
        parts = node_id.split("_")
        if kind == FEATURE:  # "layer_feature_pos": the feature index without circuit-tracer's scan offset
            layer, feature = int(_need(node, "layer", where)), int(parts[1]) if len(parts) == 3 else int(node.get("feature", -1))
        elif kind == ERROR:
            layer, feature = int(_need(node, "layer", where)), -1
        elif kind == TOKEN:
            layer, feature = -1, int(parts[1]) if len(parts) == 3 and parts[1].lstrip("-").isdigit() else -1
        else:
            layer, feature = n_layers, int(node.get("feature", -1))
        value = node.get("token_prob", 0.0) if kind == LOGIT else node.get("activation") or 0.0
        token = tokens[pos] if 0 <= pos < len(tokens) else "?"
        default = {FEATURE: f"L{layer} #{feature} @{pos} {token!r}", ERROR: f"error L{layer} @{pos} {token!r}",
                   TOKEN: f"token @{pos} {token!r}", LOGIT: f"logit @{pos}"}[kind]
        index[node_id] = number
        kinds.append(kind)
        rows.append(layer + 1)
        positions.append(pos)
        features.append(feature)
        activations.append(float(value))
        influence.append(float(node.get("influence") or 0.0))
        labels.append(str(node.get("clerp") or "") or default)
    sources, targets, weights = [], [], []
    for number, link in enumerate(links):
        source, target = str(_need(link, "source", f"link {number}")), str(_need(link, "target", f"link {number}"))
        if source not in index or target not in index:
            raise InterpWidgetsError(f"link {number} joins {source!r} -> {target!r}, but the file has no such node.")
        sources.append(index[source])
        targets.append(index[target])
        weights.append(float(_need(link, "weight", f"link {number}")))
    supernodes = [[str(group[0]), *(index[n] for n in group[1:] if n in index)]
                  for group in data.get("qParams", {}).get("supernodes", []) if group]
    return DrawnGraph(
        prompt=str(metadata.get("prompt", "")), token_strings=tokens, n_layers=n_layers,
        kinds=torch.tensor(kinds, dtype=torch.uint8), rows=torch.tensor(rows, dtype=torch.int32),
        positions=torch.tensor(positions, dtype=torch.int32), features=torch.tensor(features, dtype=torch.int32),
        activations=torch.tensor(activations, dtype=torch.float32), influence=torch.tensor(influence, dtype=torch.float32),
        labels=labels, sources=torch.tensor(sources, dtype=torch.int32), targets=torch.tensor(targets, dtype=torch.int32),
        weights=torch.tensor(weights, dtype=torch.float32), graph_nodes=torch.full((len(kinds),), -1, dtype=torch.long),
        supernodes=supernodes, metadata={k: v for k, v in metadata.items() if k in ("slug", "scan", "node_threshold")},
    )


def load_graph_json(path: str | Path) -> DrawnGraph:
    """Read a circuit-tracer graph file (from circuit-tracer, Neuronpedia, or `save_graph_json`)."""
    path = Path(path)
    if not path.exists():
        raise InterpWidgetsError(f"{path} does not exist: pass the path of a circuit-tracer graph .json file.")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InterpWidgetsError(f"{path} is not valid JSON ({error}): pass a circuit-tracer graph file.") from None
    return from_circuit_tracer(data)
