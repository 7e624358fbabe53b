"""Attribution graphs: every direct effect between features, errors, tokens and logits on one prompt.

Circuit tracing (Ameisen et al. 2025, the `circuit-tracer` package) replaces each MLP by a
transcoder and freezes, at their values on the prompt, the attention patterns and the LayerNorm
scales. What is left is a *local replacement model* that is affine in its sources:

    sources  token embedding per position (+ learned position)  [n_pos, d_model]
             active feature (layer, pos, f): activation * W_dec[f] written at resid_post[layer]
             error (layer, pos): MLP output - transcoder output  (so the replacement is exact)
    targets  a feature's pre-activation  x @ W_enc[:, f] + b_enc[f],  x = ln2(resid_mid[layer])[pos]
             a logit relative to the mean logit  ln_final(resid)[last] @ (W_U[:, t] - mean_v W_U[:, v])

The edge s -> t is s's vector dotted with the gradient of t with respect to the residual stream
where s is written, the gradient flowing back through frozen attention (A, W_V, W_O, ln1 with its
scale frozen) and the skip connections but *not* through MLPs (their features are nodes of their
own): a direct effect. Because the model is affine, every target = sum of its incoming edges +
a constant (`graph.bias`: LayerNorm and attention biases, b_dec, b_enc, b_U, carried forward).

Speed: the backward pass is written out (no autograd): a batch of B targets is one tensor of
gradients `[B, n_pos, d_model]` walked down the layers once; targets join it at their own layer.
Sources are read at each layer with one small matmul per position. Nodes are ordered as in
circuit-tracer: [features, errors (layer-major), tokens, logits]; rows are targets, columns sources.
With `max_features` below the number of active features, features are visited in order of their
influence on the logits so far (as circuit-tracer does) and the rest are left out of the graph.

BOS, as circuit-tracer does it (`zero_bos`): when the prompt starts with a special token, the
features and errors at that position are left out of the graph (no feature nodes there, error
nodes with no edges), and what the MLPs write there is held at its value, part of `graph.bias`.
The first position attends only to itself, so its MLP outputs carry no information about the
prompt, but they are large (attention sinks): kept, they take much of every target's input and
crowd the pruning and the `max_features` ranking. `keep_bos=True` keeps them as nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.attribution.graph import AttributionGraph, partial_influence
from interp_widgets.compute.core.hooks import tokenize
from interp_widgets.errors import InterpWidgetsError


@dataclass
class FrozenRun:
    """The prompt's run, with what the local replacement model freezes.  L layers, n positions."""

    tokens: Tensor  # [n]
    embedding: Tensor  # [n, d]   resid_pre of block 0: token (+ position) embedding
    ln1_scale: Tensor  # [L, n]
    pattern: Tensor  # [L, heads, n, n]
    ln2_scale: Tensor  # [L, n]
    mlp_input: Tensor  # [L, n, d]
    mlp_output: Tensor  # [L, n, d]
    final_scale: Tensor  # [n]
    last_logits: Tensor  # [vocab]


def center(x: Tensor) -> Tensor:
    """Subtract the mean over the last axis (LayerNorm's centring, and its own transpose)."""
    return x - x.mean(-1, keepdim=True)


@torch.inference_mode()
def frozen_run(model: Any, tokens: Tensor) -> FrozenRun:
    """One forward pass recording the activations the replacement model freezes or reads."""
    L = model.cfg.n_layers
    names = ["blocks.0.hook_resid_pre", "ln_final.hook_scale"] + [
        f"blocks.{layer}.{site}" for layer in range(L)
        for site in ("ln1.hook_scale", "attn.hook_pattern", "hook_resid_mid", "ln2.hook_scale", "hook_mlp_out")
    ]
    logits, cache = model.run_with_cache(tokens[None], names_filter=lambda name: name in names)
    stack = lambda site: torch.stack([cache[f"blocks.{layer}.{site}"][0] for layer in range(L)]).float()  # noqa: E731
    ln2_scale = stack("ln2.hook_scale")[..., 0]
    mlp_input = torch.stack([
        center(cache[f"blocks.{layer}.hook_resid_mid"][0].float()) / ln2_scale[layer, :, None] * model.blocks[layer].ln2.w + model.blocks[layer].ln2.b
        for layer in range(L)
    ])
    return FrozenRun(tokens, cache["blocks.0.hook_resid_pre"][0].float(), stack("ln1.hook_scale")[..., 0], stack("attn.hook_pattern"),
                     ln2_scale, mlp_input.float(), stack("hook_mlp_out"), cache["ln_final.hook_scale"][0, :, 0].float(), logits[0, -1].float())


class LinearReplacement:
    """The frozen model's weights and the batched backward pass through it."""

    def __init__(self, model: Any, transcoders: Sequence[Any], run: FrozenRun) -> None:
        self.run = run
        self.L = model.cfg.n_layers
        f32 = lambda t: t.detach().float().cpu()  # noqa: E731  (the graph is built on the CPU, wherever the model runs)
        self.W_V, self.W_O = f32(model.W_V), f32(model.W_O)  # [L, H, d, dh], [L, H, dh, d]
        L, H, d, dh = self.W_V.shape
        self.W_O_flat = self.W_O.reshape(L, H * dh, d)  # heads side by side: one matmul for all of them
        self.W_V_flat = self.W_V.permute(0, 1, 3, 2).reshape(L, H * dh, d).contiguous()
        self.b_V, self.b_O = f32(model.b_V), f32(model.b_O)
        self.ln = [(f32(block.ln1.w), f32(block.ln1.b), f32(block.ln2.w), f32(block.ln2.b)) for block in model.blocks]
        self.final_w, self.final_b = f32(model.ln_final.w), f32(model.ln_final.b)
        self.W_U, self.b_U = f32(model.W_U), f32(model.b_U)
        self.W_enc = [f32(tc.W_enc) for tc in transcoders]  # [d, d_tc]
        self.b_enc = [f32(tc.b_enc) for tc in transcoders]
        self.W_dec = [f32(tc.W_dec) for tc in transcoders]  # [d_tc, d]
        self.b_dec = [f32(tc.b_dec) for tc in transcoders]
        # what each MLP writes that is no source: b_dec, and at a held BOS the whole output `[L, n, d]`
        self.constant_output = torch.stack(self.b_dec)[:, None].expand(-1, run.tokens.shape[0], -1).clone()

    def hold_bos(self) -> None:
        """Hold every MLP's output at the first position at its value on the prompt (circuit-tracer's zero_bos)."""
        self.constant_output[:, 0] = self.run.mlp_output[:, 0]

    # ---- the forward pieces --------------------------------------------------------------

    def attention(self, layer: int, resid: Tensor) -> Tensor:
        """Frozen attention output `[n, d]` of `resid [n, d]` (biases included)."""
        w1, b1, _, _ = self.ln[layer]
        normed = center(resid) / self.run.ln1_scale[layer, :, None] * w1 + b1
        values = torch.einsum("kd,hde->hke", normed, self.W_V[layer]) + self.b_V[layer][:, None]
        mixed = torch.einsum("hqk,hke->hqe", self.run.pattern[layer], values)
        return torch.einsum("hqe,hed->qd", mixed, self.W_O[layer]) + self.b_O[layer]

    def pre_activations(self, layer: int, resid_mid: Tensor) -> Tensor:
        """Every feature's pre-activation `[n, d_tc]` read from `resid_mid [n, d]` through frozen ln2."""
        _, _, w2, b2 = self.ln[layer]
        return (center(resid_mid) / self.run.ln2_scale[layer, :, None] * w2 + b2) @ self.W_enc[layer] + self.b_enc[layer]

    def demeaned_unembedding(self, logit_tokens: Tensor) -> tuple[Tensor, Tensor]:
        """`(W_U[:, t] - mean_v W_U[:, v])` as rows `[k, d]`, and the matching demeaned unembedding bias `[k]`."""
        return (self.W_U[:, logit_tokens] - self.W_U.mean(1, keepdim=True)).T, self.b_U[logit_tokens] - self.b_U.mean()

    def biases(self, logit_tokens: Tensor) -> tuple[list[Tensor], Tensor]:
        """Each target's constant part: the replacement model run with every source at zero.
        Returns pre-activation offsets per layer `[n, d_tc]` and logit offsets `[k]`."""
        resid = torch.zeros_like(self.run.embedding)
        offsets = []
        for layer in range(self.L):
            resid = resid + self.attention(layer, resid)
            offsets.append(self.pre_activations(layer, resid))
            resid = resid + self.constant_output[layer]
        final = center(resid[-1]) / self.run.final_scale[-1] * self.final_w + self.final_b
        rows, bias = self.demeaned_unembedding(logit_tokens)
        return offsets, rows @ final + bias

    # ---- the batched backward pass -------------------------------------------------------

    def feature_starts(self, layers: Tensor, positions: Tensor, features: Tensor) -> Tensor:
        """Gradient of each feature's pre-activation with respect to resid_mid at its position, `[B, d]`."""
        starts = torch.empty(len(layers), self.run.embedding.shape[-1])
        for layer in layers.unique().tolist():
            chosen = layers == layer
            w2 = self.ln[layer][2]
            starts[chosen] = center(self.W_enc[layer][:, features[chosen]].T * w2 / self.run.ln2_scale[layer, positions[chosen], None])
        return starts

    def logit_starts(self, logit_tokens: Tensor) -> Tensor:
        """Gradient of each chosen logit (relative to the mean) with respect to the final residual stream at the last position, `[k, d]`."""
        rows, _ = self.demeaned_unembedding(logit_tokens)
        return center(rows * self.final_w / self.run.final_scale[-1])

    def attention_backward(self, layer: int, grad: Tensor) -> Tensor:
        """`grad [B, n, d]` at the attention output -> its contribution at the attention input."""
        w1, (B, n, d), H = self.ln[layer][0], grad.shape, self.W_V.shape[1]
        per_head = (grad @ self.W_O_flat[layer].T).view(B, n, H, -1).transpose(1, 2)  # [B, H, q, dh]
        at_values = torch.matmul(self.run.pattern[layer, :, :n, :n].transpose(-1, -2), per_head)  # [B, H, k, dh]
        at_normed = at_values.transpose(1, 2).reshape(B, n, -1) @ self.W_V_flat[layer]  # [B, k, d]
        return center(at_normed * (w1 / self.run.ln1_scale[layer, :n, None]))

    def rows(self, levels: Tensor, positions: Tensor, starts: Tensor, sources: "SourceTable") -> Tensor:
        """Direct-effect rows `[B, n_columns]` of a batch of targets.

        `levels [B]`: where each target reads the residual stream (feature of layer l: l, reading
        resid_mid[l]; logit: L, reading the final residual stream); `positions [B]`; `starts [B, d]`.
        """
        # Causal and layered: a target needs nothing above its own level or after its own position. Sorted
        # by level, highest first, the targets that have joined are a prefix of the batch, and only that
        # prefix, up to the last position it reaches, is carried down.
        order = levels.argsort(descending=True, stable=True)
        levels, positions, starts = levels[order], positions[order], starts[order]
        B, d = len(levels), self.run.embedding.shape[-1]
        grad = torch.zeros(B, int(positions.max()) + 1, d)
        out = torch.zeros(B, sources.n_columns)
        active = reach = 0  # targets joined so far; positions they reach
        for level in range(int(levels[0]), -1, -1):
            if level < self.L and active:  # grad is at resid_post[level]: read what MLP `level` wrote, then cross attention
                g = grad[:active, :reach]
                for position, columns, vectors in sources.features[level]:
                    if position < reach:
                        out[:active, columns] = g[:, position] @ vectors.T
                first = sources.error_offset + level * self.run.tokens.shape[0]
                out[:active, first : first + reach] = (g * sources.errors[level, :reach]).sum(-1)
                grad[:active, :reach] = g + self.attention_backward(level, g)
            joining = int((levels == level).sum())
            if joining:  # (grad + start) + attention(grad + start), the start's part from its one position
                new = torch.arange(active, active + joining)
                where, vectors = positions[new], starts[new]
                reach = max(reach, int(where.max()) + 1)
                grad[new, where] += vectors
                if level < self.L:
                    grad[active : active + joining, :reach] += self.attention_backward_from_one_position(level, where, vectors, reach)
                active += joining
        out[:, sources.token_offset : sources.token_offset + reach] = (grad[:, :reach] * self.run.embedding[:reach]).sum(-1)
        result = torch.empty_like(out)
        result[order] = out
        return result

    def attention_backward_from_one_position(self, layer: int, positions: Tensor, vectors: Tensor, n: int) -> Tensor:
        """`attention_backward` of gradients that are `vectors [J, d]` at `positions [J]` and zero
        elsewhere, `[J, n, d]`: each head's W_O, W_V product is taken once per target, not once per position."""
        J, H = len(positions), self.W_V.shape[1]
        per_head = (vectors @ self.W_O_flat[layer].T).view(J, H, -1).transpose(0, 1)  # [H, J, dh]
        through = torch.bmm(per_head, self.W_V_flat[layer].view(H, -1, vectors.shape[-1])).transpose(0, 1)  # [J, H, d]
        weights = self.run.pattern[layer][:, positions, :n].permute(1, 2, 0)  # [J, k, H]: how much each key fed the target
        w1 = self.ln[layer][0]
        return center(torch.bmm(weights, through) * (w1 / self.run.ln1_scale[layer, :n, None]))


@dataclass
class SourceTable:
    """The graph's source columns: active features (grouped by layer and position), errors, tokens."""

    layers: Tensor  # [F] every active feature's layer, position, index and activation (layer-major)
    positions: Tensor
    features: list[list[tuple[int, Tensor, Tensor]]]  # per layer: (position, columns, activation * W_dec rows)
    indices: Tensor
    activations: Tensor
    errors: Tensor  # [L, n, d]
    error_offset: int
    token_offset: int
    n_columns: int


def active_sources(replacement: LinearReplacement, transcoders: Sequence[Any], hold_bos: bool = False) -> tuple[SourceTable, list[Tensor]]:
    """Every active feature (a nonzero transcoder activation), its scaled decoder row, and the error vectors.
    Also returns each layer's pre-activations `[n, d_tc]`. With `hold_bos` the first position has no
    active features and zero errors (`replacement.hold_bos()` puts its MLP outputs in the constant)."""
    run = replacement.run
    n = run.tokens.shape[0]
    layers, positions, indices, values, groups, errors, pres = [], [], [], [], [], [], []
    count = 0
    for layer, transcoder in enumerate(transcoders):
        x = run.mlp_input[layer]
        with torch.inference_mode():
            acts = transcoder.encode(x.to(device=transcoder.W_enc.device, dtype=transcoder.W_enc.dtype)).float().cpu()
        if hold_bos:
            acts[0] = 0
        pre = x @ replacement.W_enc[layer] + replacement.b_enc[layer]
        pres.append(pre)
        errors.append(run.mlp_output[layer] - (acts @ replacement.W_dec[layer] + replacement.constant_output[layer]))
        pos, feat = acts.nonzero(as_tuple=True)
        layer_groups = []
        for position in pos.unique().tolist():
            chosen = pos == position
            columns = count + chosen.nonzero()[:, 0]
            layer_groups.append((position, columns, acts[position, feat[chosen], None] * replacement.W_dec[layer][feat[chosen]]))
        groups.append(layer_groups)
        layers.append(torch.full_like(pos, layer))
        positions.append(pos)
        indices.append(feat)
        values.append(acts[pos, feat])
        count += pos.numel()
    L = len(transcoders)
    table = SourceTable(torch.cat(layers), torch.cat(positions), groups, torch.cat(indices), torch.cat(values), torch.stack(errors),
                        error_offset=count, token_offset=count + L * n, n_columns=count + (L + 1) * n)
    return table, pres


def salient_logits(last_logits: Tensor, max_logits: int, logit_probability: float) -> tuple[Tensor, Tensor]:
    """The most likely next tokens, as few as reach `logit_probability` together (at most `max_logits`)."""
    probabilities = torch.softmax(last_logits, -1)
    top_p, top = probabilities.topk(min(max_logits, probabilities.numel()))
    keep = int(torch.searchsorted(top_p.cumsum(0), torch.tensor(logit_probability))) + 1
    return top[:keep], top_p[:keep]


def check_transcoders(model: Any, transcoders: Sequence[Any]) -> None:
    L, d = model.cfg.n_layers, model.cfg.d_model
    if len(transcoders) != L:
        raise InterpWidgetsError(f"attribution needs one transcoder per layer ({L}), got {len(transcoders)}: "
                                 "load them with iw.load_transcoders(<the model's name>).")
    for layer, tc in enumerate(transcoders):
        if not all(hasattr(tc, name) for name in ("W_enc", "b_enc", "W_dec", "b_dec", "encode")):
            raise InterpWidgetsError(f"transcoder {layer} has no W_enc/b_enc/W_dec/b_dec/encode: pass interp-widgets transcoders.")
        if tuple(tc.W_enc.shape)[0] != d or tuple(tc.W_dec.shape)[-1] != d:
            raise InterpWidgetsError(f"transcoder {layer} maps {tc.W_enc.shape[0]} -> {tc.W_dec.shape[-1]} but the model's width is {d}: "
                                     "these transcoders belong to another model.")
        if getattr(getattr(tc, "cfg", None), "apply_b_dec_to_input", False):
            raise InterpWidgetsError(f"transcoder {layer} subtracts b_dec from its input, which a transcoder cannot do (its input and output differ).")


def starts_with_special_token(model: Any, tokens: Tensor) -> bool:
    """Whether the prompt's first token is one of the tokenizer's special tokens (BOS and the like)."""
    tokenizer = getattr(model, "tokenizer", None)
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    special.add(getattr(tokenizer, "bos_token_id", None))
    return tokens.numel() > 0 and int(tokens[0]) in special


def attribute(model: Any, transcoders: Sequence[Any], prompt: str | Tensor, max_logits: int = 10, logit_probability: float = 0.95,
              max_features: int | None = None, batch_size: int = 256, keep_bos: bool = False) -> AttributionGraph:
    """The attribution graph of `prompt` (text, or token ids `[pos]` with BOS) through `transcoders` (one per layer).

    Logit nodes: the most likely next tokens at the last position until `logit_probability` of the
    probability (at most `max_logits`). Feature nodes: every active feature, or the `max_features`
    most influential ones. When the prompt starts with BOS (a special token) its features and errors
    are left out and held constant, as circuit-tracer does; `keep_bos=True` keeps them as nodes.
    Returns the unpruned graph; `graph.prune(node_share, edge_share)` prunes it.
    """
    check_transcoders(model, transcoders)
    if max_features is not None and max_features < 0:
        raise InterpWidgetsError(f"max_features must be at least 0 (or None for all), got {max_features}.")
    tokens = tokenize(model, prompt)[0] if isinstance(prompt, str) else torch.as_tensor(prompt).flatten()
    run = frozen_run(model, tokens.to(next(model.parameters()).device))
    run = FrozenRun(*(t.cpu() if isinstance(t, Tensor) else t for t in vars(run).values()))
    with torch.inference_mode():
        replacement = LinearReplacement(model, transcoders, run)
        hold_bos = not keep_bos and starts_with_special_token(model, tokens)
        if hold_bos:
            replacement.hold_bos()
        sources, pres = active_sources(replacement, transcoders, hold_bos)
        logit_tokens, logit_p = salient_logits(run.last_logits, max_logits, logit_probability)
        k, L, n = len(logit_tokens), replacement.L, tokens.shape[0]
        last = torch.full((k,), n - 1)
        logit_rows = replacement.rows(torch.full((k,), L), last, replacement.logit_starts(logit_tokens), sources)
        n_active = sources.layers.numel()
        keep = n_active if max_features is None else min(max_features, n_active)
        n_nodes, everything = keep + (L + 1) * n + k, keep == n_active
        with torch.inference_mode(False):  # the graph's tensors are ordinary tensors
            adjacency = torch.zeros(n_nodes, n_nodes)
        # all features: rows go straight into the matrix (in node order); some: into a buffer, reordered after
        rows = adjacency[:keep, : n_nodes - k] if everything else torch.zeros(keep, sources.n_columns)
        order = _feature_rows(replacement, sources, logit_rows, logit_p, rows, batch_size)
        offsets, logit_bias = replacement.biases(logit_tokens)
        logit_values = run.last_logits[logit_tokens] - run.last_logits.mean()
        selected = order.sort().values
        columns = torch.cat([selected, torch.arange(n_active, sources.n_columns)])
        if not everything:
            adjacency[:keep, : n_nodes - k] = rows[order.argsort()][:, columns]
        adjacency[n_nodes - k :, : n_nodes - k] = logit_rows[:, columns]
    f_layers, f_pos, f_idx = sources.layers[selected], sources.positions[selected], sources.indices[selected]
    bias, values = torch.zeros(n_nodes), torch.zeros(n_nodes)
    bias[:keep], values[:keep] = torch.stack(offsets)[f_layers, f_pos, f_idx], torch.stack(pres)[f_layers, f_pos, f_idx]
    bias[n_nodes - k :], values[n_nodes - k :] = logit_bias, logit_values
    text = prompt if isinstance(prompt, str) else "".join(token_strings(model, tokens.tolist()))
    return AttributionGraph(
        prompt=text, tokens=tokens.cpu(), token_strings=token_strings(model, tokens.tolist()),
        n_layers=L, features=torch.stack([f_layers, f_pos, f_idx], 1), activations=sources.activations[selected],
        logit_tokens=logit_tokens.clone(), logit_probabilities=logit_p.clone(),
        logit_strings=token_strings(model, logit_tokens.tolist()),
        adjacency=adjacency, bias=bias, values=values, n_active_features=n_active, bos_held=hold_bos,
    )


def token_strings(model: Any, ids: list[int]) -> list[str]:
    """Each token id as text (its id where the tokenizer does not know it, e.g. a random model's)."""
    strings = []
    for token in ids:
        try:
            strings.append(model.tokenizer.decode([token]))
        except Exception:  # noqa: BLE001 - any tokenizer failure falls back to the id
            strings.append(f"<{token}>")
    return strings


def _feature_rows(replacement: LinearReplacement, sources: SourceTable, logit_rows: Tensor, logit_p: Tensor, rows: Tensor,
                  batch_size: int) -> Tensor:
    """Fills `rows [keep, n_columns]` with the rows of `keep` features and returns which features they
    are: all of them (rows in node order), or the most influential ones (rows in the order returned),
    re-ranked by their influence on the logits through the rows found so far."""
    n_active, keep = sources.layers.numel(), rows.shape[0]
    order = torch.empty(keep, dtype=torch.long)
    visited = torch.zeros(n_active, dtype=torch.bool)
    done = 0
    while done < keep:
        if keep == n_active:
            pending = torch.arange(n_active)
        else:
            influence = partial_influence(logit_rows, logit_p, rows[:done], order[:done])
            ranked = influence[:n_active].argsort(descending=True)
            pending = ranked[~visited[ranked]][: min(4 * batch_size, keep - done)]
        # batches of nearby positions (a target needs nothing after its own position; `rows` handles mixed layers)
        pending = pending[(sources.positions[pending] * (replacement.L + 1) + sources.layers[pending]).argsort()]
        for first in range(0, len(pending), batch_size):
            chunk = pending[first : first + batch_size]
            layers, positions = sources.layers[chunk], sources.positions[chunk]
            block = replacement.rows(layers, positions, replacement.feature_starts(layers, positions, sources.indices[chunk]), sources)
            if keep == n_active:
                rows[chunk] = block  # every feature: rows in node order
            else:
                rows[done : done + len(chunk)] = block
            order[done : done + len(chunk)] = chunk
            visited[chunk] = True
            done += len(chunk)
    return torch.arange(n_active) if keep == n_active else order
