"""Edge attribution patching (EAP) and EAP with integrated gradients (EAP-IG).

Patching one edge u -> v from corrupt to clean changes v's input by `delta_u = u_clean - u_corrupt`.
To first order the metric then moves by `delta_u . dM/d(input of v)`, with the gradient taken in
the corrupt run (Syed et al. 2023, "Attribution patching outperforms automated circuit
discovery"). One clean run (the deltas), one corrupt run and one backward pass (the gradients at
every receiver) score every edge at once: `score[u, v] = mean over pairs, sum over positions of
delta_u . grad_v`. The sign is transformer-lens 4.3's `attribution_patch` (denoising): positive
means restoring the edge's clean value moves the metric up.

EAP-IG (Hanna et al. 2024, "Have faith in faithfulness"): the gradient averaged over `ig_steps`
points on the straight path from the corrupt to the clean *input* (`blocks.0.hook_resid_pre`),
at alpha = k / ig_steps for k = 0 .. ig_steps - 1 (so `ig_steps=1` is EAP exactly). Where the
metric saturates, one gradient at the corrupt run misjudges big changes; the path average sees them.

A sender's node score is the sum of its outgoing edges' scores: `delta_u . dM/du`, since the stream
carries u to every later receiver and nowhere else (transformer-lens' edge-mode `node_scores`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from interp_widgets.compute.circuits.graph import EdgeGraph, Node, edge_graph
from interp_widgets.compute.circuits.pairs import Metric, PairBatch, evaluate, pair_batch, resolve_metric
from interp_widgets.compute.circuits.runs import GraphRun, ProbePatch, check_hooks, layer_weights, run_graph
from interp_widgets.errors import InterpWidgetsError, Superseded


@dataclass
class EdgeScores:
    """Scores `[S, R]` (summed over positions) or `[P, S, R]` (`per_position`), 0 where no edge."""

    graph: EdgeGraph
    scores: Tensor
    method: str
    clean_metric: float
    corrupt_metric: float

    @property
    def per_position(self) -> bool:
        return self.scores.ndim == 3

    @property
    def valid(self) -> Tensor:
        return self.graph.valid.expand_as(self.scores)

    def score(self, sender: Any, receiver: Any) -> float:
        s, r = self.graph.edge_index(sender, receiver)
        value = self.scores[..., s, r]
        return float(value.sum())

    def ranked(self) -> Tensor:
        """Flat indices into `scores` of every edge, largest |score| first (ties keep graph order)."""
        flat = self.scores.flatten().abs()
        flat = torch.where(self.valid.flatten(), flat, torch.tensor(-1.0))
        order = torch.sort(flat, descending=True, stable=True).indices
        return order[: int(self.valid.sum())]

    def edge(self, flat_index: int) -> tuple[Node, Node, float]:
        *pos, s, r = (int(i) for i in torch.unravel_index(torch.tensor(flat_index), self.scores.shape))
        position = pos[0] if pos else None
        return (self.graph.senders[s].at(position), self.graph.receivers[r].at(position), float(self.scores.flatten()[flat_index]))

    def top(self, n: int = 10) -> list[tuple[Node, Node, float]]:
        """The n edges with the largest |score|, as (sender, receiver, score)."""
        return [self.edge(int(i)) for i in self.ranked()[:n]]

    def node_scores(self) -> dict[Node, float]:
        """Each sender's score: the sum of its outgoing edges' scores."""
        totals = self.scores.sum(dim=-1)
        totals = totals.sum(0) if self.per_position else totals
        return {node: float(value) for node, value in zip(self.graph.senders, totals)}

    def to_transformer_lens(self) -> dict[tuple[Any, Any], float]:
        """`{(TLNode, TLNode): score}` as transformer-lens 4.3's `attribution_patch(..., granularity="edge").edge_scores`
        (needs `per_position=True`: its edges are per position)."""
        if not self.per_position:
            raise InterpWidgetsError("transformer-lens' edges are per position: compute the scores with per_position=True.")
        out = {}
        for p, s, r in self.valid.nonzero().tolist():
            out[(self.graph.senders[s].to_transformer_lens(p), self.graph.receivers[r].to_transformer_lens(p))] = float(self.scores[p, s, r])
        return out

    def to_text(self, n: int = 10) -> str:
        lines = [f"{self.method}: {self.graph.n_edges} edges; metric clean {self.clean_metric:.3f}, corrupt {self.corrupt_metric:.3f}"]
        lines += [f"  {u.name} -> {v.name}: {score:+.4f}" for u, v, score in self.top(n)]
        return "\n".join(lines)


@dataclass
class Prepared:
    """What every circuit computation starts from: the graph, the pairs, and the clean and corrupt runs."""

    model: Any
    graph: EdgeGraph
    weights: list
    pairs: PairBatch
    metric: Metric
    clean_sent: Tensor    # [S, B, P, D]
    corrupt_sent: Tensor  # [S, B, P, D]
    clean_metric: Tensor  # [B]
    corrupt_metric: Tensor  # [B]


def prepare(model: Any, pairs: Any, metric: str | Metric = "logit_difference") -> Prepared:
    """The graph, the pair batch, and the clean and corrupt runs' senders and metrics (checked decomposition)."""
    graph = edge_graph(model)
    check_hooks(model, graph)
    weights = layer_weights(model, graph)
    batch, metric_fn = pair_batch(model, pairs), resolve_metric(metric)
    with torch.inference_mode():
        clean_run = GraphRun(graph, weights, verify=True)
        clean_logits = run_graph(model, batch.clean, clean_run)
        batch = batch.with_clean_logits(clean_logits)
        clean_metric = evaluate(metric_fn, clean_logits, batch)
        corrupt_run = GraphRun(graph, weights)
        corrupt_metric = evaluate(metric_fn, run_graph(model, batch.corrupt, corrupt_run), batch)
    return Prepared(model, graph, weights, batch, metric_fn, clean_run.sent.clone(), corrupt_run.sent.clone(),
                    clean_metric.clone(), corrupt_metric.clone())


def receiver_gradients(prep: Prepared, input_value: Tensor | None, copies: int) -> Tensor:
    """`[R, copies * B, P, D]` metric gradients at every receiver, from one forward and one backward pass."""
    with torch.inference_mode(False), torch.enable_grad():
        probe = ProbePatch()
        batch = prep.pairs.repeat(copies)
        batch = PairBatch(*(t.clone() if isinstance(t, Tensor) else t for t in
                            (batch.clean, batch.corrupt, batch.last, batch.answer, batch.wrong, batch.clean_log_probs)))
        run = GraphRun(prep.graph, prep.weights, patch=probe, input_value=None if input_value is None else input_value.clone())
        logits = run_graph(prep.model, batch.corrupt, run)
        total = evaluate(prep.metric, logits, batch).sum()
        return probe.gradients(total, len(prep.graph.receivers)).detach()


def edge_attribution(model: Any, pairs: Any, metric: str | Metric = "logit_difference", ig_steps: int = 1,
                     per_position: bool = False, ig_batch: int = 8, progress: Callable[..., None] | None = None,
                     should_stop: Callable[[], bool] | None = None, prepared: Prepared | None = None) -> EdgeScores:
    """Score every edge of the model's graph on the prompt pairs: EAP (`ig_steps=1`) or EAP-IG.

    `pairs`: a `PromptPair`, a list of them, `(clean, corrupt, answer, wrong)` tuples or a `PairBatch`;
    `metric`: "logit_difference", "probability", "kl" or `f(logits [N, pos, vocab], pairs) -> [N]`;
    `per_position`: scores `[P, S, R]` for prompts of equal length (else summed over positions, `[S, R]`);
    `ig_batch`: path points per forward pass. Returns `EdgeScores`.
    """
    if not isinstance(ig_steps, int) or ig_steps < 1:
        raise InterpWidgetsError(f"ig_steps must be a whole number >= 1 (1 is plain EAP), got {ig_steps!r}.")
    prep = prepared or prepare(model, pairs, metric)
    B = prep.pairs.size
    if per_position and bool((prep.pairs.last != prep.pairs.last[0]).any()):
        raise InterpWidgetsError("per-position edges compare the pairs position by position: give pairs of one length "
                                 "(or per_position=False, which sums each edge over positions).")
    if ig_steps == 1:
        grads = receiver_gradients(prep, None, 1)
    else:
        start, stop = prep.corrupt_sent[0], prep.clean_sent[0]  # [B, P, D]
        grads = None
        for first in range(0, ig_steps, ig_batch):
            if should_stop is not None and should_stop():
                raise Superseded()
            alphas = torch.arange(first, min(first + ig_batch, ig_steps), dtype=start.dtype, device=start.device) / ig_steps
            points = (start[None] + alphas[:, None, None, None] * (stop - start)[None]).flatten(0, 1)
            chunk = receiver_gradients(prep, points, len(alphas))
            chunk = chunk.view(chunk.shape[0], len(alphas), *start.shape).sum(1)
            grads = chunk if grads is None else grads + chunk
            if progress is not None:
                progress(first + len(alphas), ig_steps, "integrated-gradient steps")
        grads = grads / ig_steps
    delta = prep.clean_sent - prep.corrupt_sent
    pattern = "sbpd,rbpd->psr" if per_position else "sbpd,rbpd->sr"
    scores = torch.einsum(pattern, delta.float(), grads.float()).cpu() / B  # small: kept on the CPU, as the graph is
    scores = scores * prep.graph.valid.to(scores.dtype)
    method = "EAP" if ig_steps == 1 else f"EAP-IG ({ig_steps} steps)"
    return EdgeScores(prep.graph, scores, method, float(prep.clean_metric.mean()), float(prep.corrupt_metric.mean()))
