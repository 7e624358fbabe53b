"""An attribution graph, its influence on the logits, pruning, and its strongest paths.

Nodes, in circuit-tracer's order: feature nodes (layer, position, feature), error nodes (layer-major,
one per layer and position), token nodes (one per position), logit nodes. `adjacency[target, source]`
is the direct effect of source on target (compute/attribution/attribute.py).

Influence (as in circuit-tracer): normalise each row's absolute values to sum 1, so a row says what
share of a node's input each source gives; then a node's influence on the logits is
`w @ (A + A^2 + A^3 + ...)`, w = the logits' probabilities — summed over every path. Pruning keeps
the nodes that carry `node_share` of the total influence (tokens and logits always), then the
edges that carry `edge_share` of the edge influence in what is left, then drops nodes left without
an outgoing edge (and features without an incoming one) until nothing changes.

Graph scores (circuit-tracer's `compute_graph_scores`, on the unpruned graph), how much of the
computation the features explain rather than the error nodes:
- replacement score: of the influence on the logits that starts at a token or an error node, the
  share that starts at a token, i.e. reaches the logits through features alone (strict);
- completeness score: each node's share of its input that does not come straight from an error
  node, averaged over nodes weighted by their influence on the logits (logits weighted by their
  probability): partial credit for a node mostly explained by features.
Both are 1 for a graph whose transcoders are exact.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from interp_widgets.errors import InterpWidgetsError


def normalised(matrix: Tensor) -> Tensor:
    """Each row's absolute values as shares of the row's total."""
    absolute = matrix.abs()
    return absolute / absolute.sum(1, keepdim=True).clamp_min(1e-10)


def influence(normalised_matrix: Tensor, weights: Tensor, max_steps: int = 1000) -> Tensor:
    """`weights @ (A + A^2 + ...)` for a nilpotent A (a graph without cycles)."""
    current = weights @ normalised_matrix
    total = current.clone()
    for _ in range(max_steps):
        current = current @ normalised_matrix
        if not current.any():
            return total
        total += current
    raise InterpWidgetsError("influence did not converge: the adjacency matrix has a cycle.")


def partial_influence(logit_rows: Tensor, logit_p: Tensor, feature_rows: Tensor, feature_columns: Tensor, max_steps: int = 1000) -> Tensor:
    """Influence on the logits of every source column, through only the rows computed so far
    (`feature_rows[i]` is the row of the feature in column `feature_columns[i]`)."""
    current = logit_p @ normalised(logit_rows)
    total = current.clone()
    feature_matrix = normalised(feature_rows)
    for _ in range(max_steps):
        current = current[feature_columns] @ feature_matrix
        if not current.any():
            return total
        total += current
    raise InterpWidgetsError("influence did not converge.")


def cumulative_threshold(scores: Tensor, share: float) -> Tensor:
    """The score above which the largest scores add up to `share` of the total."""
    ordered = scores.flatten().sort(descending=True).values
    cumulative = ordered.cumsum(0) / ordered.sum().clamp_min(1e-30)
    index = min(int(torch.searchsorted(cumulative, torch.tensor(share, dtype=cumulative.dtype))), ordered.numel() - 1)
    return ordered[index]


@dataclass
class PrunedGraph:
    node_mask: Tensor  # [n_nodes] bool
    edge_mask: Tensor  # [n_nodes, n_nodes] bool (target, source)
    cumulative_share: Tensor  # [n_nodes] each node's place in the cumulative influence (0: most influential)


@dataclass
class AttributionGraph:
    prompt: str
    tokens: Tensor  # [n_pos]
    token_strings: list[str]
    n_layers: int
    features: Tensor  # [F, 3] (layer, position, feature index)
    activations: Tensor  # [F]
    logit_tokens: Tensor  # [k]
    logit_probabilities: Tensor  # [k]
    logit_strings: list[str]
    adjacency: Tensor  # [n_nodes, n_nodes] direct effects, rows = targets, columns = sources
    bias: Tensor  # [n_nodes] each target's constant part: value = row sum + bias (features, logits)
    values: Tensor  # [n_nodes] feature pre-activations; logits relative to the mean logit; 0 elsewhere
    n_active_features: int  # active on the prompt; `len(features)` of them are nodes
    extra: dict[str, Any] = field(default_factory=dict)
    bos_held: bool = False  # BOS's features and errors left out, its MLP outputs in `bias` (circuit-tracer's default)

    # ---- node bookkeeping ------------------------------------------------------------------

    @property
    def n_pos(self) -> int:
        return int(self.tokens.numel())

    @property
    def n_features(self) -> int:
        return int(self.features.shape[0])

    @property
    def error_offset(self) -> int:
        return self.n_features

    @property
    def token_offset(self) -> int:
        return self.n_features + self.n_layers * self.n_pos

    @property
    def logit_offset(self) -> int:
        return self.token_offset + self.n_pos

    @property
    def n_nodes(self) -> int:
        return self.logit_offset + int(self.logit_tokens.numel())

    def kind(self, node: int) -> str:
        """"feature", "error", "token" or "logit"."""
        if not 0 <= node < self.n_nodes:
            raise InterpWidgetsError(f"node {node} does not exist: the graph has {self.n_nodes} nodes.")
        return "feature" if node < self.error_offset else "error" if node < self.token_offset else "token" if node < self.logit_offset else "logit"

    def level(self, node: int) -> int:
        """Depth in the model: tokens 0, layer-l features and errors l + 1, logits n_layers + 1."""
        kind = self.kind(node)
        if kind == "feature":
            return int(self.features[node, 0]) + 1
        if kind == "error":
            return (node - self.error_offset) // self.n_pos + 1
        return 0 if kind == "token" else self.n_layers + 1

    def label(self, node: int) -> str:
        kind = self.kind(node)
        token = lambda p: repr(self.token_strings[p]) if self.token_strings else str(int(self.tokens[p]))  # noqa: E731
        if kind == "feature":
            layer, position, feature = self.features[node].tolist()
            return f"L{layer} #{feature} @{position} {token(position)}"
        if kind == "error":
            layer, position = divmod(node - self.error_offset, self.n_pos)
            return f"error L{layer} @{position} {token(position)}"
        if kind == "token":
            position = node - self.token_offset
            return f"token @{position} {token(position)}"
        index = node - self.logit_offset
        return f"logit {self.logit_strings[index]!r} (p={float(self.logit_probabilities[index]):.2f})"

    def logit_weights(self) -> Tensor:
        weights = torch.zeros(self.n_nodes)
        weights[self.logit_offset :] = self.logit_probabilities
        return weights

    # ---- influence and pruning -------------------------------------------------------------

    def scores(self) -> dict[str, float]:
        """`{"replacement": .., "completeness": ..}`, as circuit-tracer computes them (see the module docstring)."""
        shares = normalised(self.adjacency)
        weights = self.logit_weights()
        node_influence = influence(shares, weights)
        errors = slice(self.error_offset, self.token_offset)
        from_tokens = node_influence[self.token_offset : self.logit_offset].sum()
        from_errors = node_influence[errors].sum()
        not_from_errors = 1 - shares[:, errors].sum(1)
        weighted = node_influence + weights
        return {"replacement": float(from_tokens / (from_tokens + from_errors).clamp_min(1e-30)),
                "completeness": float((not_from_errors * weighted).sum() / weighted.sum().clamp_min(1e-30))}

    @property
    def replacement_score(self) -> float:
        return self.scores()["replacement"]

    @property
    def completeness_score(self) -> float:
        return self.scores()["completeness"]

    def node_influence(self) -> Tensor:
        """Every node's influence on the logits (weighted by their probabilities), `[n_nodes]`."""
        return influence(normalised(self.adjacency), self.logit_weights())

    def prune(self, node_share: float = 0.8, edge_share: float = 0.98) -> PrunedGraph:
        """Keep the nodes carrying `node_share` of the influence, then the edges carrying `edge_share`."""
        for name, share in (("node_share", node_share), ("edge_share", edge_share)):
            if not 0.0 <= share <= 1.0:
                raise InterpWidgetsError(f"{name} must be between 0 and 1, got {share}.")
        weights = self.logit_weights()
        node_scores = self.node_influence()
        node_mask = node_scores >= cumulative_threshold(node_scores, node_share)
        node_mask[self.token_offset :] = True
        kept = self.adjacency.clone()
        kept[~node_mask] = 0
        kept[:, ~node_mask] = 0
        shares = normalised(kept)
        edge_scores = shares * (influence(shares, weights) + weights)[:, None]
        edge_mask = edge_scores >= cumulative_threshold(edge_scores, edge_share)
        edge_mask &= kept != 0
        sources_end, features_end = self.token_offset, self.n_features
        while True:
            before = node_mask.clone()
            edge_mask[~node_mask] = False
            edge_mask[:, ~node_mask] = False
            node_mask[:sources_end] &= edge_mask[:, :sources_end].any(0)  # features and errors need an outgoing edge
            node_mask[:features_end] &= edge_mask[:features_end].any(1)  # features need an incoming edge
            if torch.equal(before, node_mask):
                break
        ordered, order = node_scores.sort(descending=True)
        cumulative = torch.zeros_like(node_scores)
        cumulative[order] = ordered.cumsum(0) / ordered.sum().clamp_min(1e-30)
        return PrunedGraph(node_mask, edge_mask, cumulative)

    # ---- reading it ------------------------------------------------------------------------

    def strongest_paths(self, k: int = 10, logit: int = 0, pruned: PrunedGraph | None = None) -> list[dict[str, Any]]:
        """The `k` paths from a token or error node to logit node `logit` (0: the most likely) that
        carry the largest share of the prediction. A path's share (one definition, as `drawn.strongest_paths`
        and the graph view give it): the product, edge by edge, of the edge's share of its target's total
        absolute input over the edges kept (`pruned`'s, between its kept nodes, when given), times the
        logit's probability."""
        if not 0 <= logit < self.logit_tokens.numel():
            raise InterpWidgetsError(f"logit {logit} does not exist: the graph has {self.logit_tokens.numel()} logit nodes.")
        if pruned is None:
            mask = self.adjacency != 0
        else:
            mask = pruned.edge_mask & pruned.node_mask[:, None] & pruned.node_mask[None, :]
        shares = normalised(self.adjacency * mask)
        signs = torch.sign(self.adjacency)
        target = self.logit_offset + logit
        probability = float(self.logit_probabilities[logit])
        best: dict[int, list[tuple[float, float, tuple[int, ...]]]] = {target: [(probability, 1.0, (target,))]}
        for node in sorted(range(self.n_nodes), key=self.level, reverse=True):
            paths = best.get(node)
            if not paths or self.kind(node) in ("token", "error"):
                continue
            row_sources = mask[node].nonzero()[:, 0].tolist()
            row_shares, row_signs = shares[node].tolist(), signs[node].tolist()
            for source in row_sources:
                heap = best.setdefault(source, [])
                for share, sign, path in paths:
                    item = (share * row_shares[source], sign * row_signs[source], (source, *path))
                    if len(heap) < k:
                        heapq.heappush(heap, item)
                    elif item[0] > heap[0][0]:
                        heapq.heapreplace(heap, item)
        starts = [item for node, items in best.items() if self.kind(node) in ("token", "error") for item in items]
        top = sorted(starts, key=lambda item: -item[0])[:k]
        return [{"share": share, "sign": "+" if sign > 0 else "-", "path": " -> ".join(self.label(n) for n in path), "nodes": list(path)}
                for share, sign, path in top]
