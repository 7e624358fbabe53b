"""A pruned attribution graph as a view draws it: flat node and edge arrays, labels, supernodes.

An `AttributionGraph` (compute/attribution/attribute.py) holds every node and the dense matrix of direct
effects; a view needs only what survives pruning, as edge lists that travel as binary buffers:

    nodes  [N]  kind (token 0, feature 1, error 2, logit 3), row (tokens 0, layer l: l + 1,
                logits n_layers + 1), position, feature (vocab id for tokens and logits),
                activation (a feature's; a logit's probability), influence (circuit-tracer's
                cumulative share: 0 = the most influential node), label
    edges  [E]  source node, target node, weight (the direct effect)

The same arrays come from circuit-tracer's JSON (compute/attribution/graph_json.py), so a graph computed
elsewhere is drawn, read and saved the same way. Paths are read off the drawn edges: an edge's
share is its |weight| over the total |weight| into its target, a path's share the product.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.attribution.graph import AttributionGraph, PrunedGraph
from interp_widgets.errors import InterpWidgetsError

KINDS = ("token", "feature", "error", "logit")
TOKEN, FEATURE, ERROR, LOGIT = range(4)


@dataclass
class DrawnGraph:
    prompt: str
    token_strings: list[str]
    n_layers: int
    kinds: Tensor  # [N] uint8, KINDS
    rows: Tensor  # [N] int32 0 .. n_layers + 1
    positions: Tensor  # [N] int32
    features: Tensor  # [N] int32 feature index; vocab id for tokens and logits; -1 for errors
    activations: Tensor  # [N] float32 feature activation; logit probability; 0
    influence: Tensor  # [N] float32 cumulative influence share (0: most influential)
    labels: list[str]  # [N] plain text (from a file: untrusted, shown as text only)
    sources: Tensor  # [E] int32
    targets: Tensor  # [E] int32
    weights: Tensor  # [E] float32
    graph_nodes: Tensor  # [N] int64 index in the full AttributionGraph (-1: loaded from a file)
    supernodes: list[list[Any]] = field(default_factory=list)  # [name, node, node, ...] (node indices)
    metadata: dict[str, Any] = field(default_factory=dict)  # circuit-tracer's slug, scan, ...

    @property
    def n_nodes(self) -> int:
        return int(self.kinds.numel())

    def node_ids(self) -> list[str]:
        """circuit-tracer's node id of every node (`layer_feature_pos`, `0_layer_pos`, `E_vocab_pos`, `L+1_vocab_pos`)."""
        ids = []
        for kind, row, pos, feature in zip(self.kinds.tolist(), self.rows.tolist(), self.positions.tolist(), self.features.tolist()):
            ids.append(f"{row - 1}_{feature}_{pos}" if kind == FEATURE else f"0_{row - 1}_{pos}" if kind == ERROR
                       else f"E_{feature}_{pos}" if kind == TOKEN else f"{self.n_layers + 1}_{feature}_{pos}")
        # circuit-tracer's ids can collide: feature f < n_layers of layer 0 at position p and the error of layer f at p
        # are both "0_f_p". The error, whose layer a reader takes from its "layer" field, gets a distinct id then.
        features = {node_id for node_id, kind in zip(ids, self.kinds.tolist()) if kind == FEATURE}
        return [f"{node_id}_error" if kind == ERROR and node_id in features else node_id for node_id, kind in zip(ids, self.kinds.tolist())]

    def check_nodes(self, nodes: Sequence[int]) -> list[int]:
        bad = [n for n in nodes if not isinstance(n, int) or not 0 <= n < self.n_nodes]
        if bad:
            raise InterpWidgetsError(f"node(s) {bad} do not exist: the drawn graph has nodes 0 to {self.n_nodes - 1}.")
        return [int(n) for n in nodes]


def drawn_graph(graph: AttributionGraph, pruned: PrunedGraph) -> DrawnGraph:
    """The nodes and edges that survive `pruned` (tokens and logits always), in the graph's node order."""
    kept = pruned.node_mask.nonzero()[:, 0]  # [N]
    where = torch.full((graph.n_nodes,), -1, dtype=torch.long)
    where[kept] = torch.arange(kept.numel())
    targets, sources = (pruned.edge_mask[kept][:, kept]).nonzero(as_tuple=True)
    weights = graph.adjacency[kept[targets], kept[sources]]
    kinds, rows, positions, features, activations = [], [], [], [], []
    for node in kept.tolist():
        kind = graph.kind(node)
        kinds.append(KINDS.index(kind))
        rows.append(graph.level(node))
        if kind == "feature":
            _, position, feature = graph.features[node].tolist()
            activation = float(graph.activations[node])
        elif kind == "error":
            position, feature, activation = (node - graph.error_offset) % graph.n_pos, -1, 0.0
        elif kind == "token":
            position = node - graph.token_offset
            feature, activation = int(graph.tokens[position]), 0.0
        else:
            index = node - graph.logit_offset
            position, feature, activation = graph.n_pos - 1, int(graph.logit_tokens[index]), float(graph.logit_probabilities[index])
        positions.append(position)
        features.append(feature)
        activations.append(activation)
    return DrawnGraph(
        prompt=graph.prompt, token_strings=list(graph.token_strings), n_layers=graph.n_layers,
        kinds=torch.tensor(kinds, dtype=torch.uint8), rows=torch.tensor(rows, dtype=torch.int32),
        positions=torch.tensor(positions, dtype=torch.int32), features=torch.tensor(features, dtype=torch.int32),
        activations=torch.tensor(activations, dtype=torch.float32), influence=pruned.cumulative_share[kept].float(),
        labels=[label(graph, node) for node in kept.tolist()], sources=sources.int(), targets=targets.int(),
        weights=weights.float(), graph_nodes=kept.clone(),
    )


def label(graph: AttributionGraph, node: int) -> str:
    """The graph's label of a node; a logit as circuit-tracer writes it: `Output " the" (p=0.143)`."""
    if graph.kind(node) != "logit":
        return graph.label(node)
    index = node - graph.logit_offset
    return f'Output "{graph.logit_strings[index]}" (p={float(graph.logit_probabilities[index]):.3f})'


def strongest_paths(drawn: DrawnGraph, k: int = 10) -> list[dict[str, Any]]:
    """The `k` paths from a token or error node to any logit node carrying the largest share of the
    logit's input along the drawn edges (each path's share weighted by its logit's probability)."""
    n = drawn.n_nodes
    weights = drawn.weights.abs()
    incoming = torch.zeros(n).index_add_(0, drawn.targets.long(), weights)
    shares = (weights / incoming[drawn.targets.long()].clamp_min(1e-30)).tolist()
    into: list[list[tuple[int, float, float]]] = [[] for _ in range(n)]
    for source, target, share, weight in zip(drawn.sources.tolist(), drawn.targets.tolist(), shares, drawn.weights.tolist()):
        into[target].append((source, share, 1.0 if weight >= 0 else -1.0))
    kinds, rows = drawn.kinds.tolist(), drawn.rows.tolist()
    best: dict[int, list[tuple[float, float, tuple[int, ...]]]] = {
        node: [(float(drawn.activations[node]), 1.0, (node,))] for node in range(n) if kinds[node] == LOGIT}
    for node in sorted(range(n), key=lambda i: -rows[i]):
        paths = best.get(node)
        if not paths or kinds[node] in (TOKEN, ERROR):
            continue
        for source, share, sign in into[node]:
            heap = best.setdefault(source, [])
            for path_share, path_sign, path in paths:
                item = (path_share * share, path_sign * sign, (source, *path))
                if len(heap) < k:
                    heapq.heappush(heap, item)
                elif item[0] > heap[0][0]:
                    heapq.heapreplace(heap, item)
    starts = [item for node, items in best.items() if kinds[node] in (TOKEN, ERROR) for item in items]
    return [{"share": share, "sign": "+" if sign > 0 else "-", "nodes": list(path), "path": " -> ".join(drawn.labels[i] for i in path)}
            for share, sign, path in sorted(starts, key=lambda item: -item[0])[:k]]


def decoder_directions(transcoders: Sequence[Any], layers: Sequence[int], features: Sequence[int]) -> Tensor:
    """What each feature writes to the residual stream, `[m, d]`: its decoder row (a cross-layer
    transcoder's feature: the sum of its rows into every layer it writes to), read row by row."""
    out = []
    for layer, feature in zip(layers, features):
        tc = transcoders[layer]
        rows = tc.decoder_rows([feature])[0] if hasattr(tc, "decoder_rows") else tc.W_dec[feature]
        out.append((rows.sum(0) if rows.ndim == 2 else rows).detach().float().cpu())
    return torch.stack(out)


def logit_lens_tokens(model: Any, decoder_rows: Tensor, k: int = 5) -> list[tuple[list[str], list[str]]]:
    """For each decoder direction `[F, d_model]`: the `k` tokens it promotes most and least through
    the unembedding (a feature's logit lens; LayerNorm left out)."""
    if decoder_rows.numel() == 0:
        return []
    with torch.inference_mode():
        logits = decoder_rows.float() @ model.W_U.detach().float().to(decoder_rows.device)  # [F, vocab]
        top, bottom = logits.topk(k, -1).indices.tolist(), (-logits).topk(k, -1).indices.tolist()
    decode = lambda ids: [model.tokenizer.decode([i]) if getattr(model, "tokenizer", None) else f"<{i}>" for i in ids]  # noqa: E731
    return [(decode(up), decode(down)) for up, down in zip(top, bottom)]


def top_contexts(index: Any, model: Any, feature: int, k: int = 3, left: int = 8) -> list[str]:
    """The `k` strongest activations of `feature` in an activation index (compute/features/index.py),
    each as the text before it and the activating token in brackets, with its value."""
    positions, values = index.feature(int(feature))
    if values.numel() == 0:
        return []
    strongest = values.float().topk(min(k, values.numel())).indices
    context = index.context
    lines = []
    for i in strongest.tolist():
        flat = int(positions[i])
        sequence, position = divmod(flat, context)
        ids = index.tokens[sequence, max(0, position - left) : position + 1].tolist()
        text = model.tokenizer.decode(ids[:-1]) if getattr(model, "tokenizer", None) else " ".join(map(str, ids[:-1]))
        last = model.tokenizer.decode(ids[-1:]) if getattr(model, "tokenizer", None) else str(ids[-1])
        lines.append(f"{float(values[i]):.2f}: …{text}[{last}]")
    return lines
