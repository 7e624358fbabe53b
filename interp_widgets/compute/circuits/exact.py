"""Exact edge patching, circuits, and the faithfulness curve.

Patching an edge u -> v exactly: v's input is rebuilt as the live stream minus u's live value plus
u's value in the other run; nothing else changes (senders upstream of v are untouched, so this is
exact, not a linearisation). Many edge sets run as copies of the batch in one forward pass.

- `edge_effects`: each edge alone, restored from clean into the corrupt run: the exact quantity
  EAP estimates (`M(corrupt, edge clean) - M(corrupt)`, mean over pairs).
- A *circuit* keeps some edges: the clean run with every other edge carrying its corrupt value
  (ACDC's convention). `faithfulness = (M(circuit) - M(corrupt)) / (M(clean) - M(corrupt))`:
  the full graph is the clean run (1), the empty graph the corrupt run (0).
- Circuits from scores: `top_n` (largest |score|), `threshold` (|score| >= t), `greedy` (from the
  logits backwards, each time the best edge into a component already in the circuit, so the circuit
  stays connected; Hanna et al. 2024).
- `faithfulness_curve`: faithfulness against circuit size, every point exact, many points per pass.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.circuits.pairs import Metric, evaluate
from interp_widgets.compute.circuits.runs import EdgePatch, GraphRun, MaskPatch, run_graph
from interp_widgets.compute.circuits.scores import EdgeScores, Prepared, prepare
from interp_widgets.errors import InterpWidgetsError, Superseded

MAX_ROWS = 64  # rows (copies x pairs) per patched forward pass


def _chunks(n: int, pairs: int, max_rows: int) -> list[slice]:
    per = max(1, max_rows // max(pairs, 1))
    return [slice(i, min(i + per, n)) for i in range(0, n, per)]


def _stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Superseded()


def patched_metric(prep: Prepared, patched: Tensor, into: str = "clean", max_rows: int = MAX_ROWS,
                   progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None) -> Tensor:
    """`[C]` mean metric when the edges in `patched[c]` (`[C, S, R]` or `[C, P, S, R]` bool) carry the other
    run's sender values, in the `into` run ("clean": the others are corrupt; "corrupt": the others clean)."""
    if into not in ("clean", "corrupt"):
        raise InterpWidgetsError(f'into must be "clean" or "corrupt", got {into!r}.')
    if patched.ndim == 3:
        patched = patched[:, None]
    B = prep.pairs.size
    tokens = prep.pairs.clean if into == "clean" else prep.pairs.corrupt
    other = prep.corrupt_sent if into == "clean" else prep.clean_sent
    out = []
    for part in _chunks(patched.shape[0], B, max_rows):
        _stop(should_stop)
        mask = (patched[part].cpu() & prep.graph.valid).to(tokens.device)
        copies = mask.shape[0]
        with torch.inference_mode():
            logits = run_graph(prep.model, tokens.repeat(copies, 1), GraphRun(prep.graph, prep.weights, patch=MaskPatch(mask, other)))
            out.append(evaluate(prep.metric, logits, prep.pairs.repeat(copies)).view(copies, B).mean(-1))
        if progress is not None:
            progress(part.stop, patched.shape[0], "patched runs")
    return torch.cat(out).cpu()


def edge_effects(model: Any, pairs: Any, edges: Sequence[Any], metric: str | Metric = "logit_difference",
                 max_rows: int = MAX_ROWS, prepared: Prepared | None = None,
                 progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None) -> Tensor:
    """`[n]` exact effect of each edge alone: `M(corrupt run with the edge's clean value) - M(corrupt)`, mean over pairs.

    `edges`: (sender, receiver) nodes (a node with a `position` patches that position only) or
    (s, r) indices into the graph's senders and receivers.
    """
    prep = prepared or prepare(model, pairs, metric)
    graph, B = prep.graph, prep.pairs.size
    index = []
    for edge in edges:
        sender, receiver = edge[0], edge[1]
        if isinstance(sender, int):
            index.append((sender, receiver, -1))
        else:
            position = getattr(sender, "position", None)
            index.append((*graph.edge_index(sender, receiver), -1 if position is None else int(position)))
    table = torch.tensor(index, dtype=torch.long).view(-1, 3)
    out = []
    for part in _chunks(len(table), B, max_rows):
        _stop(should_stop)
        rows = table[part].to(prep.pairs.corrupt.device)
        patch = EdgePatch(rows[:, 0], rows[:, 1], rows[:, 2], prep.clean_sent)
        with torch.inference_mode():
            logits = run_graph(prep.model, prep.pairs.corrupt.repeat(len(rows), 1), GraphRun(graph, prep.weights, patch=patch))
            out.append(evaluate(prep.metric, logits, prep.pairs.repeat(len(rows))).view(len(rows), B).mean(-1))
        if progress is not None:
            progress(part.stop, len(table), "edges")
    return (torch.cat(out).cpu() if out else torch.zeros(0)) - prep.corrupt_metric.mean().cpu()


@dataclass
class Circuit:
    """Kept edges, `[S, R]` or `[P, S, R]` bool over the graph of `scores`."""

    scores: EdgeScores
    kept: Tensor

    @property
    def n_edges(self) -> int:
        return int(self.kept.sum())

    def edges(self) -> list[tuple[Any, Any, float]]:
        return [self.scores.edge(int(i)) for i in self.kept.flatten().nonzero()[:, 0]]


def top_n(scores: EdgeScores, n: int) -> Circuit:
    """The n edges with the largest |score|."""
    kept = torch.zeros(scores.scores.numel(), dtype=torch.bool)
    kept[scores.ranked()[: max(0, int(n))]] = True
    return Circuit(scores, kept.view(scores.scores.shape))


def threshold(scores: EdgeScores, minimum: float) -> Circuit:
    """Every edge with |score| >= minimum."""
    return Circuit(scores, (scores.scores.abs() >= minimum) & scores.valid)


def greedy_order(scores: EdgeScores, n: int | None = None) -> Tensor:
    """Flat edge indices in the order greedy adds them: start at the logits; each step add the largest-|score|
    edge whose receiver belongs to a component already in the circuit (its sender's component joins). A heap of
    the open receivers' edges: each edge enters it once, when its receiver's component joins."""
    if scores.per_position:
        raise InterpWidgetsError("greedy circuits are built over edges summed over positions: use scores with per_position=False.")
    graph = scores.graph
    S, R = len(graph.senders), len(graph.receivers)
    receivers_of: dict[int, list[int]] = {}
    for r in range(R):
        for owner in graph.receiver_component(r) or [S]:  # S stands for the logits
            receivers_of.setdefault(owner, []).append(r)
    magnitude = scores.scores.abs().tolist()
    reads = graph.reads.tolist()
    heap: list[tuple[float, int]] = []
    opened: set[int] = set()

    def join(component: int) -> None:
        for r in receivers_of.get(component, []):
            if r not in opened:
                opened.add(r)
                for sender in range(reads[r]):
                    heapq.heappush(heap, (-magnitude[sender][r], sender * R + r))

    joined = {S}
    join(S)
    limit = graph.n_edges if n is None else min(n, graph.n_edges)
    order: list[int] = []
    while heap and len(order) < limit:
        _, flat = heapq.heappop(heap)
        order.append(flat)
        sender = flat // R
        if sender not in joined:
            joined.add(sender)
            join(sender)
    return torch.tensor(order, dtype=torch.long)


def greedy(scores: EdgeScores, n: int) -> Circuit:
    kept = torch.zeros(scores.scores.numel(), dtype=torch.bool)
    kept[greedy_order(scores, n)] = True
    return Circuit(scores, kept.view(scores.scores.shape))


def faithfulness(model: Any, pairs: Any, circuit: Circuit, metric: str | Metric = "logit_difference",
                 prepared: Prepared | None = None) -> float:
    """The fraction of the clean - corrupt metric gap the circuit recovers (exact)."""
    prep = prepared or prepare(model, pairs, metric)
    value = patched_metric(prep, (~circuit.kept & circuit.scores.valid)[None], into="clean")[0]
    return float(_recovered(prep, value))


def _recovered(prep: Prepared, value: Tensor) -> Tensor:
    clean, corrupt = prep.clean_metric.mean().cpu(), prep.corrupt_metric.mean().cpu()
    gap = clean - corrupt
    if float(gap.abs()) < 1e-9:
        raise InterpWidgetsError("the clean and corrupt runs give the same metric, so the recovered fraction is undefined: "
                                 "choose a pair the metric separates.")
    return (value - corrupt) / gap


@dataclass
class FaithfulnessCurve:
    """`recovered[i]`: faithfulness of the circuit of the first `sizes[i]` edges in `order`; `metric[i]` its metric."""

    sizes: Tensor
    recovered: Tensor
    metric: Tensor
    clean_metric: float
    corrupt_metric: float
    order: Tensor
    selection: str


def default_sizes(n_edges: int, points: int = 24) -> list[int]:
    """0, then sizes spaced geometrically up to every edge."""
    grid = torch.logspace(0, torch.log10(torch.tensor(float(max(n_edges, 1)))), points - 1).round().long().tolist()
    return sorted({0, n_edges, *[min(g, n_edges) for g in grid]})


def faithfulness_curve(model: Any, pairs: Any, scores: EdgeScores, sizes: Sequence[int] | None = None,
                       selection: str = "top_n", metric: str | Metric = "logit_difference", max_rows: int = MAX_ROWS,
                       prepared: Prepared | None = None, progress: Callable[..., None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> FaithfulnessCurve:
    """Exact faithfulness of the top-k circuits (`selection` "top_n" or "greedy") for each k in `sizes`."""
    prep = prepared or prepare(model, pairs, metric)
    if selection not in ("top_n", "greedy"):
        raise InterpWidgetsError(f'selection must be "top_n" or "greedy", got {selection!r}.')
    ranked = scores.ranked()
    sizes = default_sizes(len(ranked)) if sizes is None else [int(k) for k in sizes]
    if any(k < 0 or k > len(ranked) for k in sizes):
        raise InterpWidgetsError(f"circuit sizes must lie in 0..{len(ranked)} (the graph's edges).")
    order = ranked
    if selection == "greedy":  # greedy as far as the largest circuit needs, then the rest by |score| (never read)
        chosen = greedy_order(scores, max(sizes, default=0))
        rest = torch.ones(scores.scores.numel(), dtype=torch.bool)
        rest[chosen] = False
        order = torch.cat([chosen, ranked[rest[ranked]]])
    rank = torch.full((scores.scores.numel(),), len(order) + scores.scores.numel(), dtype=torch.long)
    rank[order] = torch.arange(len(order))
    rank = rank.view(scores.scores.shape)
    kept = torch.stack([rank < k for k in sizes])  # [C, (P,) S, R]
    values = patched_metric(prep, ~kept & scores.valid, "clean", max_rows, progress, should_stop)
    return FaithfulnessCurve(torch.tensor(sizes), _recovered(prep, values), values, float(prep.clean_metric.mean()),
                             float(prep.corrupt_metric.mean()), order, selection)
