"""QK attribution's figure for bench_attribution.py: every head at the graph's strongest attention edges.

Ours (`compute.attribution.qk.qk_attributions`, one `freeze` shared by all calls): each side of a
layer's heads is heads x dh targets of the graph's batched linear backward pass, then one product
per head gives every query x key pair. Reference: one autograd backward pass per (head, query, key) through the same frozen model
written as a plain differentiable forward (frozen patterns and LayerNorm scales, every source gated
by a scalar per side); its gradients are each node's marginal part of the score (the pairs' row and
column sums), which the benchmark checks against ours. The reference gives only the marginals; ours
also gives the pairs.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch import Tensor

from interp_widgets.compute.attribution.attention_paths import FrozenPrompt, freeze
from interp_widgets.compute.attribution.attribute import attribute, center
from interp_widgets.compute.attribution.qk import attention_scale, qk_attributions, rotation


def attention_edges(graph: Any, k: int) -> list[tuple[int, int]]:
    """(query, key) positions of the graph's `k` strongest edges between two positions (all pass through attention)."""
    n, L = graph.tokens.shape[0], graph.n_layers
    position = torch.cat([graph.features[:, 1], torch.arange(n).repeat(L + 1), torch.full((graph.logit_tokens.shape[0],), n - 1)])
    targets, sources = graph.adjacency.nonzero(as_tuple=True)
    crossing = position[targets] != position[sources]
    order = graph.adjacency[targets[crossing], sources[crossing]].abs().argsort(descending=True)
    pairs: list[tuple[int, int]] = []
    for i in order.tolist():
        pair = (int(position[targets[crossing][i]]), int(position[sources[crossing][i]]))
        if pair not in pairs:
            pairs.append(pair)
        if len(pairs) == k:
            break
    return pairs


def marginals_by_autograd(model: Any, frozen: FrozenPrompt, layer: int, head: int, query: int, key: int) -> tuple[Tensor, Tensor]:
    """Each source column's marginal part of the score on the query side and on the key side `[N]`:
    one backward pass through the frozen model, every source gated by a scalar on each side."""
    rep, sources = plain(frozen.replacement), plain(frozen.sources)  # inference tensors cannot enter autograd
    n, N = frozen.n, sources.n_columns

    def stream(gates: Tensor) -> Tensor:
        resid = rep.run.embedding * gates[sources.token_offset : sources.token_offset + n, None]
        for below in range(layer):
            written = torch.zeros_like(resid)
            for position, columns, vectors in sources.features[below]:
                written = written.index_add(0, torch.tensor([position]), (gates[columns, None] * vectors).sum(0, keepdim=True))
            first = sources.error_offset + below * n
            written = written + sources.errors[below] * gates[first : first + n, None]
            resid = resid + rep.attention(below, resid) + written + rep.b_dec[below]
        return resid

    def projected(resid: Tensor, position: int, W: Tensor, b: Tensor) -> Tensor:
        w1, b1 = rep.ln[layer][0], rep.ln[layer][1]
        vector = (center(resid[position]) / rep.run.ln1_scale[layer, position] * w1 + b1) @ W + b
        turn = rotation(model, layer, position, vector.shape[0])
        return vector @ turn if turn is not None else vector

    with torch.inference_mode(False), torch.enable_grad():
        query_gates, key_gates = torch.ones(N, requires_grad=True), torch.ones(N, requires_grad=True)
        W_Q, b_Q = model.W_Q[layer, head].detach().float(), model.b_Q[layer, head].detach().float()
        W_K, b_K = model.W_K[layer, head].detach().float(), model.b_K[layer, head].detach().float()
        score = projected(stream(query_gates), query, W_Q, b_Q) @ projected(stream(key_gates), key, W_K, b_K)
        score = score / attention_scale(model, layer, W_Q.shape[1])
        query_grad, key_grad = torch.autograd.grad(score, (query_gates, key_gates))
    return query_grad, key_grad


def plain(value: Any) -> Any:
    """A copy of `value` whose tensors (inside lists, tuples, dicts and objects) are ordinary, autograd-usable tensors."""
    if isinstance(value, Tensor):
        with torch.inference_mode(False):
            return value.clone()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if hasattr(value, "__dict__"):
        copied = copy.copy(value)
        for name, item in vars(value).items():
            setattr(copied, name, plain(item))
        return copied
    return value


def qk_figure(model: Any, transcoders: Any, tokens: Tensor, n_edges: int) -> dict[str, float]:
    """Every head's QK attribution at the graph's `n_edges` strongest attention edges: seconds (ours, one graph,
    the autograd reference) and the largest marginal difference."""
    start = time.perf_counter()
    graph = attribute(model, transcoders, tokens)
    graph_s = time.perf_counter() - start
    edges = attention_edges(graph, n_edges)
    start = time.perf_counter()
    frozen = freeze(model, transcoders, tokens)
    results = {(result.layer, result.head, q, k): result for layer in range(model.cfg.n_layers) for q, k in edges
               for result in qk_attributions(model, transcoders, tokens, layer, q, k, frozen=frozen)}
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    references = {key: marginals_by_autograd(model, frozen, *key) for key in results}
    reference_s = time.perf_counter() - start
    worst = 0.0
    for key, result in results.items():
        query_grad, key_grad = references[key]
        kept_q = [frozen_column(frozen, node) for node in result.query_nodes]
        kept_k = [frozen_column(frozen, node) for node in result.key_nodes]
        scale = max(1.0, abs(result.score))
        worst = max(worst, max(abs(float(result.query_marginal[i]) - float(query_grad[c])) for i, c in enumerate(kept_q) if c is not None) / scale,
                    max(abs(float(result.key_marginal[j]) - float(key_grad[c])) for j, c in enumerate(kept_k) if c is not None) / scale)
    return {"calls": len(results), "edges": len(edges), "graph_s": graph_s, "ours_s": ours_s, "reference_s": reference_s, "max_diff": worst}


def frozen_column(frozen: FrozenPrompt, node: dict[str, Any]) -> int | None:
    """The source column of a QK node (None for the bias, which has no gate)."""
    sources, n = frozen.sources, frozen.n
    if node["kind"] == "feature":
        match = ((sources.layers == node["layer"]) & (sources.positions == node["position"]) & (sources.indices == node["feature"])).nonzero()
        return int(match[0, 0])
    if node["kind"] == "error":
        return sources.error_offset + node["layer"] * n + node["position"]
    if node["kind"] == "token":
        return sources.token_offset + node["position"]
    return None
