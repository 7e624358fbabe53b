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
from interp_widgets.compute.attribution.frozen_parts import optional_bias
from interp_widgets.compute.core.block_maths import model_maths, raw_module
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


def block_maths(model: Any, layer: int) -> Any:
    """The model's block `layer` as plain pieces (compute/core/block_maths.py): its score scale, soft-cap and
    rotary. Without them the score cannot be rebuilt exactly (an unusual scale, ALiBi, a rotary of its own),
    so QK attribution refuses, naming why."""
    maths = model_maths(model)
    if isinstance(maths, str):
        raise InterpWidgetsError(f"QK attribution needs the model's attention pieces (score scale, positions), which are not read for "
                                 f"this model ({maths}): use a native, GPT-2, NeoX, Llama, Mistral, Qwen 2 or Gemma model.")
    return maths.blocks[layer]


def rotation(model: Any, layer: int, position: int, d_head: int) -> Tensor | None:
    """The rotary rotation of `layer` at `position` as a matrix `R [dh, dh]` (rotated = x @ R), None without rotary.

    Read from the model's own rotary pieces (`block_maths`: native adjacent pairs, Hugging Face halves,
    partial rotary) by rotating the identity: exact for any rotation, since it is linear."""
    rotary = block_maths(model, layer).rotary
    if rotary is None:
        return None
    return rotary(torch.eye(d_head)[None, None], torch.tensor([[position]]))[0, 0]


def check_qk_model(model: Any, layer: int) -> None:
    """Refuse models whose score is not bilinear in the residual stream at frozen norm scales."""
    block = model.blocks[layer]
    attention = raw_module(getattr(block, "attn", None) or getattr(raw_module(block), "attn", None))
    if getattr(attention, "q_norm", None) is not None or getattr(attention, "k_norm", None) is not None:
        raise InterpWidgetsError("this model normalises each head's queries and keys (Qwen 3, Gemma 3, OLMo 2): the score is then not "
                                 "bilinear in the residual stream, so QK attribution cannot split it into node pairs.")
    block_maths(model, layer)  # refuses a model whose attention pieces are not read


def sides(frozen: FrozenPrompt, layer: int, position: int, W: Tensor, b: Tensor) -> Tensor:
    """One side (query or key) of several heads at `position`: each source's contribution `[heads, N + 1, dh]`, the bias last.

    `W [heads, d, dh]`, `b [heads, dh]`: the heads' W_Q, b_Q (or W_K, b_K). Contributions come from one
    batched backward pass of every head's dh output coordinates to `resid_pre[layer]` (through the
    frozen attention below it)."""
    rep, (heads, d, dh) = frozen.replacement, W.shape
    norm, scale = rep.layouts[layer].ln1, rep.run.ln1_scale[layer, position : position + 1]
    starts = norm.backward(W.transpose(1, 2).reshape(heads * dh, 1, d), scale)[:, 0]  # each coordinate's gradient at resid_pre[layer][position]
    targets, sources = heads * dh, frozen.sources
    below = layer - 1
    simple_below = below >= 0 and not rep.layouts[below].parallel and rep.tc[below].W_skip is None
    if simple_below:
        # Joined as readers of resid_mid[layer - 1], the targets cross that attention from their one position (cheap);
        # what MLP `layer - 1` writes at resid_post[layer - 1] = resid_pre[layer] is read here, at that position only.
        rows = up_to_layer(rep, layer).rows(torch.full((targets,), below), torch.full((targets,), position), starts, sources)
        for where, columns, vectors in sources.features[below]:
            if where == position:
                rows[:, columns] += starts @ vectors.T
        rows[:, sources.error_offset + below * frozen.n + position] = starts @ sources.errors[below, position]
    else:  # layer 0, a parallel block or a skip transcoder below: the plain walk from resid_pre[layer]
        rows = up_to_layer(rep, layer).rows(torch.full((targets,), layer), torch.full((targets,), position), starts, sources)
    constant = torch.einsum("d,hde->he", norm.forward(constant_stream(rep, layer)[position : position + 1], scale)[0], W) + b  # [heads, dh]
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
    check_qk_model(model, layer)
    W_Q, W_K = model.W_Q.detach().float().cpu(), model.W_K.detach().float().cpu()  # [L, H, d, dh], [L, H_kv, d, dh]
    b_Q, b_K = optional_bias(model, "b_Q", W_Q.shape[:2] + W_Q.shape[-1:]), optional_bias(model, "b_K", W_K.shape[:2] + W_K.shape[-1:])
    key_heads = [head * W_K.shape[1] // H for head in heads]  # grouped-query attention: the key/value head each query head reads
    query = sides(frozen, layer, query_pos, W_Q[layer, heads], b_Q[layer, heads])  # [heads, N + 1, dh]
    key = sides(frozen, layer, key_pos, W_K[layer, key_heads], b_K[layer, key_heads])
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
    """What the model divides q·k by (its block pieces' scale: sqrt(d_head), or Gemma's query_pre_attn_scalar)."""
    return float(block_maths(model, layer).scale)


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
