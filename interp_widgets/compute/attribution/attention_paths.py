"""Attention inside an attribution graph: the frozen model of a prompt, and an edge split by the heads it passes.

The graph freezes attention patterns and LayerNorm scales (compute/attribution/attribute.py), so
the residual stream at any layer is affine in the graph's sources (features, errors, token
embeddings) plus a constant (the biases carried forward).

Head loadings of an edge. The edge s -> t is `v_s · G(k)`: the source's vector at its position k
dotted with the target's gradient at the layer where s is written. Walking the gradient down,
every attention layer m it crosses adds `sum_h back_{m,h}(G_m)`, so

    edge = v_s · start(k)  +  sum_m sum_h  v_s · back_{m,h}(G_m)(k)

The first term is the part that never passes through attention (nonzero only when the source sits
at the target's position; a skip transcoder's linear path adds to it); each other term is the part
whose path *from the source* enters attention first at head h of layer m (a path through heads at
two layers is counted at the lower one: the one the source's information reaches first). The parts
sum to the edge exactly. A cross-layer transcoder's feature writes after several layers: its parts
are summed over what it writes at each.

QK attribution (why a head attends where it does) builds on the same frozen model: compute/attribution/qk.py.

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
    LinearReplacement, SourceTable, active_sources, check_transcoders, frozen_replacement,
)
from interp_widgets.compute.attribution.drawn import KINDS
from interp_widgets.compute.core.hooks import tokenize
from interp_widgets.errors import InterpWidgetsError


def attention_backward_by_head(replacement: LinearReplacement, layer: int, grad: Tensor) -> Tensor:
    """`grad [n, d]` at attention `layer`'s output -> each head's part at the attention input, `[H, n, d]`.

    Summed over heads this is `replacement.attention_backward(layer, grad[None])[0]` (norms after the
    attention, as Gemma's sandwich, and before it, at their frozen scales)."""
    n, layout = grad.shape[0], replacement.layouts[layer]
    if layout.ln1_post is not None:
        grad = layout.ln1_post.backward(grad, replacement.run.ln1_post_scale[layer, :n])
    W_V, W_O = replacement.W_V[layer], replacement.W_O[layer]  # [H, d, dh], [H, dh, d] (key/value heads repeated per group)
    per_head = torch.einsum("qd,hed->hqe", grad, W_O)  # [H, q, dh]
    at_values = torch.matmul(replacement.run.pattern[layer, :, :n, :n].transpose(-1, -2), per_head)  # [H, k, dh]
    at_normed = torch.einsum("hke,hde->hkd", at_values, W_V)  # [H, k, d]
    return layout.ln1.backward(at_normed, replacement.run.ln1_scale[layer, :n])


def up_to_layer(replacement: LinearReplacement, layer: int) -> LinearReplacement:
    """The same frozen model cut before block `layer`: a target joined at level `layer` then reads
    `resid_pre[layer]` (no MLP or attention of `layer` or above), as a logit target reads the final stream."""
    cut = copy.copy(replacement)
    cut.L = layer
    return cut


def constant_stream(replacement: LinearReplacement, layer: int) -> Tensor:
    """`resid_pre[layer]` `[n, d]` with every source at zero: the biases carried through the frozen blocks below."""
    return replacement.constant_walk(layer)[0]


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
    """One forward pass of `prompt` and the transcoders' encodings: the frozen model `attribute` differentiates
    (every position's features kept as sources, BOS's too: a head's score reads them)."""
    check_transcoders(model, transcoders)
    tokens = tokenize(model, prompt)[0] if isinstance(prompt, str) else torch.as_tensor(prompt).flatten()
    _, replacement = frozen_replacement(model, transcoders, tokens)
    with torch.inference_mode():
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


@dataclass(frozen=True)
class NodeRef:
    """A graph node by what it is: kind ("feature", "error", "token", "logit"), layer (-1 for tokens and
    logits), position, feature index (the vocabulary id for a logit, -1 otherwise)."""

    kind: str
    layer: int
    position: int
    feature: int = -1


def graph_node(graph: Any, node: int) -> NodeRef:
    """Node `node` of an `AttributionGraph` (features, errors layer-major, tokens, logits)."""
    F, n, L = graph.features.shape[0], graph.tokens.shape[0], graph.n_layers
    if not 0 <= node < graph.adjacency.shape[0]:
        raise InterpWidgetsError(f"node {node} is out of range: the graph has nodes 0 to {graph.adjacency.shape[0] - 1}.")
    if node < F:
        layer, position, feature = (int(v) for v in graph.features[node])
        return NodeRef("feature", layer, position, feature)
    if node < F + L * n:
        layer, position = divmod(node - F, n)
        return NodeRef("error", layer, position)
    if node < F + (L + 1) * n:
        return NodeRef("token", -1, node - F - L * n)
    return NodeRef("logit", -1, n - 1, int(graph.logit_tokens[node - F - (L + 1) * n]))


def drawn_node(drawn: Any, node: int) -> NodeRef:
    """Node `node` of a `DrawnGraph` (rows: tokens 0, layer l at l + 1, logits on top)."""
    kind = KINDS[int(drawn.kinds[node])]
    layer = int(drawn.rows[node]) - 1 if kind in ("feature", "error") else -1
    return NodeRef(kind, layer, int(drawn.positions[node]), int(drawn.features[node]) if kind in ("feature", "logit") else -1)


def target_start(frozen: FrozenPrompt, node: NodeRef) -> tuple[int, Tensor]:
    """A node as a target: (level it reads, its gradient start `[d]` at its position). Features and logits only."""
    rep = frozen.replacement
    if node.kind == "feature":
        return node.layer, rep.feature_starts(torch.tensor([node.layer]), torch.tensor([node.position]), torch.tensor([node.feature]))[0]
    if node.kind == "logit":
        return rep.L, rep.logit_starts(torch.tensor([node.feature]))[0]
    raise InterpWidgetsError(f"a {node.kind} node has no incoming edges: pick a feature or logit node as the edge's target.")


def source_writes(frozen: FrozenPrompt, node: NodeRef) -> list[tuple[int, Tensor]]:
    """A node as a source: what it writes, as (layer it writes after, -1 for token embeddings; vector `[d]`) pairs.
    A cross-layer transcoder's feature writes after its own layer and every later one."""
    rep, sources = frozen.replacement, frozen.sources
    if node.kind == "feature":
        column = ((sources.layers == node.layer) & (sources.positions == node.position) & (sources.indices == node.feature)).nonzero()
        if not len(column):
            raise InterpWidgetsError(f"feature {node.feature} of layer {node.layer} is not active at position {node.position} "
                                     "on this prompt: the graph belongs to another prompt or other transcoders.")
        rows = rep.tc[node.layer].rows(torch.tensor([node.feature]))[0]  # [layers written, d], from its own layer up
        activation = float(sources.activations[int(column[0, 0])])
        return [(node.layer + j, activation * rows[j]) for j in range(rows.shape[0])]
    if node.kind == "error":
        return [(node.layer, sources.errors[node.layer, node.position])]
    if node.kind == "token":
        return [(-1, rep.run.embedding[node.position])]
    raise InterpWidgetsError("a logit node has no outgoing edges: pick a feature, error or token node as the edge's source.")


@torch.inference_mode()
def edge_head_loadings(frozen: FrozenPrompt, target: NodeRef, source: NodeRef) -> HeadLoadings:
    """The edge source -> target split by head (see the module's docstring); `frozen` is the graph's prompt.

    The target's gradient is walked down as the graph's backward pass walks it (skip transcoders,
    parallel blocks, norms after attention); at each layer its increment at the source's position is
    kept apart per attention head, the rest (the skip term's) with the part through no attention."""
    rep, key = frozen.replacement, source.position
    level, start = target_start(frozen, target)
    query = frozen.n - 1 if target.kind == "logit" else target.position
    by_head = torch.zeros(rep.L, rep.W_V.shape[1])
    writes = [(layer, vector) for layer, vector in source_writes(frozen, source) if key <= query]
    grad = torch.zeros(query + 1, start.shape[0])
    grad[query] = start
    base = grad[key].clone()  # the start itself, at the source's position only when both share it
    heads_at: dict[int, Tensor] = {}  # layer -> each head's increment of the gradient at the source's position `[H, d]`
    other_at: dict[int, Tensor] = {}  # layer -> the skip term's increment there `[d]`
    if target.kind == "feature" and not rep.layouts[level].parallel:  # it reads resid_mid: its own attention is below it
        parts = attention_backward_by_head(rep, level, grad)
        heads_at[level], grad = parts[:, key], grad + parts.sum(0)
    top = rep.L - 1 if target.kind == "logit" else level - 1  # the highest resid_post the target reads
    lowest = min((layer for layer, _ in writes), default=top)
    for layer in range(top, lowest, -1):  # resid_post[layer] -> resid_post[layer - 1]
        skip = rep.skip_backward(layer, grad[None])[0]
        if rep.layouts[layer].parallel:
            parts = attention_backward_by_head(rep, layer, grad)
            grad = grad + parts.sum(0) + skip
        else:
            parts = attention_backward_by_head(rep, layer, grad + skip)
            grad = grad + skip + parts.sum(0)
        heads_at[layer], other_at[layer] = parts[:, key], skip[key]
    direct = 0.0
    for written, vector in writes:
        if written > top:
            continue  # written above what the target reads
        direct += float(vector @ (base + sum((other_at[m] for m in other_at if m > written), torch.zeros_like(base))))
        for m, parts in heads_at.items():
            if m > written:
                by_head[m] += parts @ vector
    return HeadLoadings(direct, by_head, direct + float(by_head.sum()))


