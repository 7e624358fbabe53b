"""QK attribution: why a head attends where it does.

Head h's pre-softmax score at (query q, key k) is `rot_q(W_Q^T x_q + b_Q) ·
rot_k(W_K^T x_k + b_K) / attn_scale` with `x = ln1(resid_pre)` at frozen scale. Each side is
affine in the sources: `q = sum_i a_i + a_bias`, `k = sum_j b_j + b_bias` (a_i: source i's
contribution carried through the frozen attention below the layer, then ln1's linear part and W_Q).
So the score is bilinear: `score = sum_{i,j} rot_q(a_i) · rot_k(b_j) / attn_scale`, a pair matrix
over query-side x key-side nodes whose entries sum to the score. Rotary positions are a rotation
of each side at its own position, applied to every contribution vector before the product (the
rotation is linear, so it splits exactly); the rotation is the model's own, read from its rotary
module. With an attention soft-cap the decomposed number is the score before the cap.

Shapes: `N` source columns (features, then errors layer-major, then tokens, as in `SourceTable`),
plus one bias row per side; `dh` the head width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.attribution.attention_paths import FrozenPrompt, constant_stream, freeze, up_to_layer
from interp_widgets.compute.attribution.attribute import center
from interp_widgets.compute.core.prefix_runner import raw_module
from interp_widgets.errors import InterpWidgetsError


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


def sides(frozen: FrozenPrompt, layer: int, position: int, W: Tensor, b: Tensor) -> Tensor:
    """One side (query or key) of several heads at `position`: each source's contribution `[heads, N + 1, dh]`, the bias last.

    `W [heads, d, dh]`, `b [heads, dh]`: the heads' W_Q, b_Q (or W_K, b_K). Contributions come from one
    batched backward pass of every head's dh output coordinates to `resid_pre[layer]` (through the
    frozen attention below it)."""
    rep, (heads, d, dh) = frozen.replacement, W.shape
    w1, b1 = rep.ln[layer][0], rep.ln[layer][1]
    scale = rep.run.ln1_scale[layer, position]
    starts = center(W.transpose(1, 2).reshape(heads * dh, d) * w1 / scale)  # the gradient of each coordinate at resid_pre[layer][position]
    targets, sources = heads * dh, frozen.sources
    if layer == 0:  # resid_pre[0] is the token (and position) embedding alone
        rows = up_to_layer(rep, 0).rows(torch.zeros(targets, dtype=torch.long), torch.full((targets,), position), starts, sources)
    else:
        # Joined as readers of resid_mid[layer - 1], the targets cross that attention from their one position (cheap);
        # what MLP `layer - 1` writes at resid_post[layer - 1] = resid_pre[layer] is read here, at that position only.
        rows = up_to_layer(rep, layer).rows(torch.full((targets,), layer - 1), torch.full((targets,), position), starts, sources)
        for where, columns, vectors in sources.features[layer - 1]:
            if where == position:
                rows[:, columns] = starts @ vectors.T
        rows[:, sources.error_offset + (layer - 1) * frozen.n + position] = starts @ sources.errors[layer - 1, position]
    constant = torch.einsum("d,hde->he", center(constant_stream(rep, layer)[position]) / scale * w1 + b1, W) + b  # [heads, dh]
    return torch.cat([rows.view(heads, dh, -1).transpose(1, 2), constant[:, None]], dim=1)


@torch.inference_mode()
def qk_attribution(model: Any, transcoders: Sequence[Any], prompt: str | Tensor, layer: int, head: int, query_pos: int,
                   key_pos: int, frozen: FrozenPrompt | None = None) -> QKAttribution:
    """Head `head` of `layer`: its pre-softmax score at (`query_pos`, `key_pos`) as pairs of query-side and
    key-side nodes (features, errors, token embeddings, the bias), LayerNorm scales frozen as in the graph.

    Pass `frozen` (from `freeze`) to reuse one forward pass for several heads or positions."""
    return qk_attributions(model, transcoders, prompt, layer, query_pos, key_pos, [head], frozen)[0]


@torch.inference_mode()
def qk_attributions(model: Any, transcoders: Sequence[Any], prompt: str | Tensor, layer: int, query_pos: int, key_pos: int,
                    heads: Sequence[int] | None = None, frozen: FrozenPrompt | None = None) -> list[QKAttribution]:
    """`qk_attribution` for several heads of one layer at once (all of them by default): one batched backward per side."""
    L, H = model.cfg.n_layers, model.cfg.n_heads
    heads = list(range(H)) if heads is None else [int(head) for head in heads]
    if not 0 <= layer < L:
        raise InterpWidgetsError(f"layer {layer} is out of range: this model has layers 0 to {L - 1}.")
    for head in heads:
        if not 0 <= head < H:
            raise InterpWidgetsError(f"head {head} is out of range: this model has heads 0 to {H - 1}.")
    frozen = frozen or freeze(model, transcoders, prompt)
    n = frozen.n
    if not 0 <= query_pos < n or not 0 <= key_pos <= query_pos:
        raise InterpWidgetsError(f"need 0 <= key_pos <= query_pos < {n} (the prompt's {n} tokens; a causal head attends only "
                                 f"backwards), got query_pos={query_pos}, key_pos={key_pos}.")
    f32 = lambda t: t.detach().float().cpu()  # noqa: E731
    W_K = f32(model.W_K)
    key_heads = [head * W_K.shape[1] // H for head in heads]  # grouped-query attention: the key/value head each query head reads
    query = sides(frozen, layer, query_pos, f32(model.W_Q)[layer, heads], f32(model.b_Q)[layer, heads])  # [heads, N + 1, dh]
    key = sides(frozen, layer, key_pos, W_K[layer, key_heads], f32(model.b_K)[layer, key_heads])
    dh = query.shape[-1]
    for position, vectors in ((query_pos, query), (key_pos, key)):
        turn = rotation(model, layer, position, dh)
        if turn is not None:
            vectors.copy_(vectors @ turn)
    results, scale = [], attention_scale(model, layer, dh)
    for i, head in enumerate(heads):
        kept_q = (query[i].abs().sum(1) > 0).nonzero()[:, 0]
        kept_k = (key[i].abs().sum(1) > 0).nonzero()[:, 0]
        pairs = query[i, kept_q] @ key[i, kept_k].T / scale
        describe = lambda columns: [frozen.describe(int(c)) for c in columns]  # noqa: E731
        weight = float(frozen.replacement.run.pattern[layer, head, query_pos, key_pos])
        results.append(QKAttribution(layer, head, query_pos, key_pos, float(pairs.sum()), weight, describe(kept_q), describe(kept_k),
                                     pairs, pairs.sum(1), pairs.sum(0)))
    return results


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


def node_words(node: dict[str, Any], token_strings: Sequence[str]) -> str:
    """A side's node in words: "L1F23 @5 ' cat'", "error L0 @5", "token ' cat' @5", or "biases"."""
    position = node["position"]
    token = repr(token_strings[position]) if 0 <= position < len(token_strings) else ""
    if node["kind"] == "feature":
        return f"L{node['layer']}F{node['feature']} @{position} {token}"
    if node["kind"] == "error":
        return f"error L{node['layer']} @{position} {token}"
    if node["kind"] == "token":
        return f"token {token} @{position}"
    return "biases (LayerNorm, projections, attention below)"
