"""What attention does inside an attribution graph: the heads an edge passes through, and why a head attends.

The graph freezes attention patterns and LayerNorm scales (compute/attribution/attribute.py), so
the residual stream at any layer is affine in the graph's sources (features, errors, token
embeddings) plus a constant (the biases carried forward). Two exact decompositions follow.

Head loadings of an edge. The edge s -> t is `v_s · G(k)`: the source's vector at its position k
dotted with the target's gradient at the layer where s is written. Walking the gradient down,
every attention layer m it crosses adds `sum_h back_{m,h}(G_m)`, so

    edge = v_s · start(k)  +  sum_m sum_h  v_s · back_{m,h}(G_m)(k)

The first term is the part that never passes through attention (nonzero only when the source sits
at the target's position); each other term is the part whose path *from the source* enters
attention first at head h of layer m (a path through heads at two layers is counted at the lower
one: the one the source's information reaches first). The parts sum to the edge exactly.

QK attribution. Head h's pre-softmax score at (query q, key k) is `rot_q(W_Q^T x_q + b_Q) ·
rot_k(W_K^T x_k + b_K) / attn_scale` with `x = ln1(resid_pre)` at frozen scale. Each side is
affine in the sources: `q = sum_i a_i + a_bias`, `k = sum_j b_j + b_bias` (a_i: source i's
contribution carried through the frozen attention below the layer, then ln1's linear part and W_Q).
So the score is bilinear: `score = sum_{i,j} rot_q(a_i) · rot_k(b_j) / attn_scale`, a pair matrix
over query-side x key-side nodes whose entries sum to the score. Rotary positions are a rotation
of each side at its own position, applied to every contribution vector before the product (the
rotation is linear, so it splits exactly); the rotation is the model's own, read from its rotary
module. With an attention soft-cap the decomposed number is the score before the cap.

Shapes: `n` positions, `d` model width, `dh` head width, `N` source columns (features, then
errors layer-major, then tokens, as in `SourceTable`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.attribution.attribute import (
    FrozenRun, LinearReplacement, SourceTable, active_sources, center, check_transcoders, frozen_run,
)
from interp_widgets.compute.core.hooks import tokenize
from interp_widgets.compute.core.prefix_runner import raw_module
from interp_widgets.errors import InterpWidgetsError


def attention_backward_by_head(replacement: LinearReplacement, layer: int, grad: Tensor) -> Tensor:
    """`grad [n, d]` at attention `layer`'s output -> each head's part at the attention input, `[H, n, d]`.

    Summed over heads this is `replacement.attention_backward(layer, grad[None])[0]`."""
    n, d = grad.shape
    W_V, W_O = replacement.W_V[layer], replacement.W_O[layer]  # [H, d, dh], [H, dh, d]
    per_head = torch.einsum("qd,hed->hqe", grad, W_O)  # [H, q, dh]
    at_values = torch.matmul(replacement.run.pattern[layer, :, :n, :n].transpose(-1, -2), per_head)  # [H, k, dh]
    at_normed = torch.einsum("hke,hde->hkd", at_values, W_V)  # [H, k, d]
    w1 = replacement.ln[layer][0]
    return center(at_normed * (w1 / replacement.run.ln1_scale[layer, :n, None]))


def up_to_layer(replacement: LinearReplacement, layer: int) -> LinearReplacement:
    """The same frozen model cut before block `layer`: a target joined at level `layer` then reads
    `resid_pre[layer]` (no MLP or attention of `layer` or above), as a logit target reads the final stream."""
    cut = copy.copy(replacement)
    cut.L = layer
    return cut


def constant_stream(replacement: LinearReplacement, layer: int) -> Tensor:
    """`resid_pre[layer]` `[n, d]` with every source at zero: the biases carried through the frozen blocks below."""
    resid = torch.zeros_like(replacement.run.embedding)
    for below in range(layer):
        resid = resid + replacement.attention(below, resid) + replacement.b_dec[below]
    return resid


# ---- the frozen model of one prompt ---------------------------------------------------------

@dataclass
class FrozenPrompt:
    """The prompt's frozen replacement model and its source columns (as `attribute` builds them)."""

    replacement: LinearReplacement
    sources: SourceTable

    @property
    def n(self) -> int:
        return int(self.replacement.run.tokens.shape[0])

    def describe(self, column: int) -> dict[str, Any]:
        """A source column as a node: kind (feature, error, token, bias), layer, position, feature index."""
        sources, n = self.sources, self.n
        if column < sources.error_offset:
            return {"kind": "feature", "layer": int(sources.layers[column]), "position": int(sources.positions[column]),
                    "feature": int(sources.indices[column])}
        if column < sources.token_offset:
            layer, position = divmod(column - sources.error_offset, n)
            return {"kind": "error", "layer": layer, "position": position, "feature": -1}
        if column < sources.n_columns:
            return {"kind": "token", "layer": -1, "position": column - sources.token_offset, "feature": -1}
        return {"kind": "bias", "layer": -1, "position": -1, "feature": -1}


def freeze(model: Any, transcoders: Sequence[Any], prompt: str | Tensor) -> FrozenPrompt:
    """One forward pass of `prompt` and the transcoders' encodings: the frozen model `attribute` differentiates."""
    check_transcoders(model, transcoders)
    tokens = tokenize(model, prompt)[0] if isinstance(prompt, str) else torch.as_tensor(prompt).flatten()
    run = frozen_run(model, tokens.to(next(model.parameters()).device))
    run = FrozenRun(*(t.cpu() if isinstance(t, Tensor) else t for t in vars(run).values()))
    with torch.inference_mode():
        replacement = LinearReplacement(model, transcoders, run)
        sources, _ = active_sources(replacement, transcoders)
    return FrozenPrompt(replacement, sources)


# ---- head loadings of an edge -----------------------------------------------------------------

@dataclass
class HeadLoadings:
    """An edge split by the attention head its path enters first (from the source).

    direct    the part that passes through no attention (0 unless source and target share a position)
    by_head   `[L, H]` the part entering attention first at head h of layer m (0 for layers not crossed)
    total     the edge: `direct + by_head.sum()`
    """

    direct: float
    by_head: Tensor
    total: float

    def strongest(self, k: int = 5) -> list[tuple[int, int, float]]:
        """The `k` heads with the largest |part|, as (layer, head, part)."""
        flat = self.by_head.flatten()
        order = flat.abs().argsort(descending=True)[: min(k, flat.numel())]
        H = self.by_head.shape[1]
        return [(int(i) // H, int(i) % H, float(flat[i])) for i in order if float(flat[i]) != 0.0]


def graph_target(frozen: FrozenPrompt, graph: Any, node: int) -> tuple[int, int, Tensor]:
    """A graph node as a target: (level, position, gradient start `[d]`). Feature and logit nodes only."""
    rep, F, n, L = frozen.replacement, graph.features.shape[0], frozen.n, graph.n_layers
    logit_first = graph.adjacency.shape[0] - graph.logit_tokens.shape[0]
    if node < F:
        layer, position, feature = (int(v) for v in graph.features[node])
        start = rep.feature_starts(torch.tensor([layer]), torch.tensor([position]), torch.tensor([feature]))[0]
        return layer, position, start
    if node >= logit_first:
        return L, n - 1, rep.logit_starts(graph.logit_tokens[node - logit_first : node - logit_first + 1])[0]
    raise InterpWidgetsError(f"node {node} is an error or token node, which has no incoming edges: pick a feature or logit node as the target.")


def graph_source(frozen: FrozenPrompt, graph: Any, node: int) -> tuple[int, int, Tensor]:
    """A graph node as a source: (layer it writes after, -1 for tokens; position; its vector `[d]`)."""
    rep, F, n, L = frozen.replacement, graph.features.shape[0], frozen.n, graph.n_layers
    if node < F:
        layer, position, feature = (int(v) for v in graph.features[node])
        return layer, position, float(graph.activations[node]) * rep.W_dec[layer][feature]
    if node < F + L * n:
        layer, position = divmod(node - F, n)
        return layer, position, frozen.sources.errors[layer, position]
    if node < F + (L + 1) * n:
        position = node - F - L * n
        return -1, position, rep.run.embedding[position]
    raise InterpWidgetsError(f"node {node} is a logit node, which has no outgoing edges: pick a feature, error or token node as the source.")


@torch.inference_mode()
def edge_head_loadings(frozen: FrozenPrompt, graph: Any, target: int, source: int) -> HeadLoadings:
    """The edge `graph.adjacency[target, source]` split by head (see the module's docstring).

    `frozen` must be `freeze(model, transcoders, graph.tokens)`: the same prompt and transcoders."""
    level, query, start = graph_target(frozen, graph, target)
    written_after, key, vector = graph_source(frozen, graph, source)
    rep = frozen.replacement
    H = rep.W_V.shape[1]
    by_head = torch.zeros(rep.L, H)
    grad = torch.zeros(query + 1, start.shape[0])
    grad[query] = start
    direct = float(grad[key] @ vector) if key <= query else 0.0
    top = level if level < rep.L else rep.L - 1  # a feature target reads resid_mid: its own layer's attention is crossed
    for layer in range(top, written_after, -1):
        if key > query:
            break
        parts = attention_backward_by_head(rep, layer, grad)  # [H, query + 1, d]
        by_head[layer] = parts[:, key] @ vector
        grad = grad + parts.sum(0)
    return HeadLoadings(direct, by_head, direct + float(by_head.sum()))


# ---- QK attribution -----------------------------------------------------------------------------

@dataclass
class QKAttribution:
    """Why head `head` of `layer` gives key `key_pos` the score it does at query `query_pos`.

    score       the pre-softmax score, `pairs.sum()` (its softmax over the keys is the model's pattern row;
                note that the bridge's `hook_attn_scores` holds the pattern, not the scores)
    weight      the model's attention weight at (query, key), from the frozen run's pattern
    query_nodes / key_nodes   the nodes on each side (dicts from `FrozenPrompt.describe`, the last one
                the bias: LayerNorm and projection biases carried forward), only those that contribute
    pairs       `[n_query_nodes, n_key_nodes]` each pair's part of the score; `pairs.sum() == score`
    query_marginal `[n_query_nodes]` = pairs.sum(1): each query-side node against the whole key;
    key_marginal   `[n_key_nodes]`   = pairs.sum(0)
    """

    layer: int
    head: int
    query_pos: int
    key_pos: int
    score: float
    weight: float
    query_nodes: list[dict[str, Any]]
    key_nodes: list[dict[str, Any]]
    pairs: Tensor
    query_marginal: Tensor
    key_marginal: Tensor

    def top_pairs(self, k: int = 10) -> list[tuple[dict[str, Any], dict[str, Any], float]]:
        """The `k` pairs with the largest |part|: (query node, key node, part)."""
        flat = self.pairs.flatten()
        order = flat.abs().argsort(descending=True)[: min(k, flat.numel())]
        width = self.pairs.shape[1]
        return [(self.query_nodes[int(i) // width], self.key_nodes[int(i) % width], float(flat[i])) for i in order]


def rotation(model: Any, layer: int, position: int, d_head: int) -> Tensor | None:
    """The rotary rotation of `layer` at `position` as a matrix `R [dh, dh]` (rotated = x @ R), None without rotary."""
    if getattr(model.cfg, "positional_embedding_type", "standard") != "rotary":
        return None
    attention = raw_module(getattr(raw_module(model.blocks[layer]), "attn", None))
    rotary = getattr(attention, "rotary", None)
    if rotary is None or not hasattr(rotary, "cos_cached"):
        raise InterpWidgetsError("QK attribution on a rotary model needs the rotary module of a TransformerLens native model "
                                 "(the embedded models, TransformerBridge.boot_native); this model's attention does not expose one.")
    identity = torch.eye(d_head)
    cos, sin = rotary.cos_cached[position].float(), rotary.sin_cached[position].float()
    dims = rotary.rotary_dim
    turned = identity[:, :dims] * cos + rotary._rotate_half(identity[:, :dims]) * sin
    return torch.cat([turned, identity[:, dims:]], dim=-1)


def side(frozen: FrozenPrompt, layer: int, position: int, W: Tensor, b: Tensor) -> Tensor:
    """One side of a head (query or key) at `position`: each source's contribution `[N + 1, dh]`, the bias last.

    `W [d, dh]`, `b [dh]`: the head's W_Q, b_Q (or W_K, b_K). Contributions come from a backward pass
    of the dh output coordinates to `resid_pre[layer]` (through frozen attention below it)."""
    rep, dh = frozen.replacement, W.shape[1]
    w1, b1 = rep.ln[layer][0], rep.ln[layer][1]
    scale = rep.run.ln1_scale[layer, position]
    starts = center(W.T * w1 / scale)  # [dh, d]: the gradient of each coordinate at resid_pre[layer][position]
    rows = up_to_layer(rep, layer).rows(torch.full((dh,), layer), torch.full((dh,), position), starts, frozen.sources)  # [dh, N]
    constant = (center(constant_stream(rep, layer)[position]) / scale * w1 + b1) @ W + b
    return torch.cat([rows.T, constant[None]])


@torch.inference_mode()
def qk_attribution(model: Any, transcoders: Sequence[Any], prompt: str | Tensor, layer: int, head: int, query_pos: int,
                   key_pos: int, frozen: FrozenPrompt | None = None) -> QKAttribution:
    """Head `head` of `layer`: its pre-softmax score at (`query_pos`, `key_pos`) as pairs of query-side and
    key-side nodes (features, errors, token embeddings, the bias), LayerNorm scales frozen as in the graph.

    Pass `frozen` (from `freeze`) to reuse one forward pass for several heads or positions."""
    L, H = model.cfg.n_layers, model.cfg.n_heads
    if not 0 <= layer < L:
        raise InterpWidgetsError(f"layer {layer} is out of range: this model has layers 0 to {L - 1}.")
    if not 0 <= head < H:
        raise InterpWidgetsError(f"head {head} is out of range: this model has heads 0 to {H - 1}.")
    frozen = frozen or freeze(model, transcoders, prompt)
    n = frozen.n
    if not 0 <= query_pos < n or not 0 <= key_pos <= query_pos:
        raise InterpWidgetsError(f"need 0 <= key_pos <= query_pos < {n} (the prompt's {n} tokens; a causal head attends only "
                                 f"backwards), got query_pos={query_pos}, key_pos={key_pos}.")
    f32 = lambda t: t.detach().float().cpu()  # noqa: E731
    W_K = f32(model.W_K)
    key_head = head * W_K.shape[1] // H  # grouped-query attention: the key/value head this query head reads
    query = side(frozen, layer, query_pos, f32(model.W_Q)[layer, head], f32(model.b_Q)[layer, head])
    key = side(frozen, layer, key_pos, W_K[layer, key_head], f32(model.b_K)[layer, key_head])
    dh = query.shape[1]
    for position, vectors in ((query_pos, query), (key_pos, key)):
        turn = rotation(model, layer, position, dh)
        if turn is not None:
            vectors.copy_(vectors @ turn)
    kept_q = (query.abs().sum(1) > 0).nonzero()[:, 0]
    kept_k = (key.abs().sum(1) > 0).nonzero()[:, 0]
    pairs = query[kept_q] @ key[kept_k].T / attention_scale(model, layer, dh)
    describe = lambda columns: [frozen.describe(int(c)) for c in columns]  # noqa: E731
    weight = float(frozen.replacement.run.pattern[layer, head, query_pos, key_pos])
    return QKAttribution(layer, head, query_pos, key_pos, float(pairs.sum()), weight, describe(kept_q), describe(kept_k),
                         pairs, pairs.sum(1), pairs.sum(0))


def attention_scale(model: Any, layer: int, d_head: int) -> float:
    """What the model divides q·k by: its attention module's own scale where it has one, else the
    config's `attn_scale` when set, else sqrt(d_head) (1 when the config turns scaling off)."""
    own = getattr(raw_module(getattr(raw_module(model.blocks[layer]), "attn", None)), "scale", None)
    if isinstance(own, (int, float)) and own > 0:
        return float(own)
    if getattr(model.cfg, "use_attn_scale", True) is False:
        return 1.0
    scale = getattr(model.cfg, "attn_scale", None)
    return float(scale) if isinstance(scale, (int, float)) and scale > 0 else d_head ** 0.5

