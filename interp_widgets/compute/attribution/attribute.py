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

Every family (compute/attribution/frozen_parts.py): norms are frozen as `D(x) * g / s + h` with D
centring or not (LayerNorm, RMSNorm, Gemma's 1 + w, parameter-free), read from the norm modules
themselves; sequential or parallel blocks, a norm on the attention output (sandwich, post-norm),
grouped-query attention, missing biases. The replacement checks that its frozen pieces reproduce
the model's own attention outputs, transcoder inputs and logits on the prompt, and refuses (naming
the part) where they do not. With an output soft-cap (Gemma 2) the logit targets are the capped
logits and the edges are their linearisation at the prompt (each unembedding column scaled by
`1 - tanh^2(raw / cap)`); the bias is what the edges leave, so value = edges + bias still holds.

Transcoders: one per layer, or a cross-layer transcoder (a layer-l feature writes to resid_post of
l and every later layer: one source column, read at each layer it writes to). A skip transcoder's
skip term `x @ W_skip.T` is on the linear path (the gradient crosses it back to the residual stream
the transcoder reads, through the frozen norm); the error is the MLP output minus features, b_dec
and skip.

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

from interp_widgets.compute.attribution.frozen_parts import (
    MLP_INPUT_SITES, OUTPUT_SITES, RESIDUAL_INPUT_SITES, block_layouts, transcoder_layers,
)
from interp_widgets.compute.attribution.graph import AttributionGraph, partial_influence
from interp_widgets.compute.attribution.replacement import FrozenRun, LinearReplacement, center, frozen_run  # noqa: F401  (re-exported: attention_paths reads them here)
from interp_widgets.compute.core.hooks import tokenize
from interp_widgets.errors import InterpWidgetsError


@dataclass
class SourceTable:
    """The graph's source columns: active features (grouped by layer and position), errors, tokens."""

    layers: Tensor  # [F] every active feature's layer, position, index and activation (layer-major)
    positions: Tensor
    features: list[list[tuple[int, Tensor, Tensor]]]  # per layer written to: (position, columns, activation * decoder rows into it)
    indices: Tensor
    activations: Tensor
    errors: Tensor  # [L, n, d]
    error_offset: int
    token_offset: int
    n_columns: int


def active_sources(replacement: LinearReplacement, transcoders: Sequence[Any] | None = None, hold_bos: bool = False) -> tuple[SourceTable, list[Tensor]]:
    """Every active feature (a nonzero transcoder activation), its scaled decoder rows (one per layer it
    writes to), and the error vectors (MLP output minus everything the replacement writes there).
    Also returns each layer's pre-activations `[n, d_tc]`. With `hold_bos` the first position has no
    active features and zero errors (`replacement.hold_bos()` puts its MLP outputs in the constant)."""
    run, L = replacement.run, replacement.L
    n = run.tokens.shape[0]
    layers, positions, indices, values, pres = [], [], [], [], []
    groups: list[list[tuple[int, Tensor, Tensor]]] = [[] for _ in range(L)]
    written = replacement.constant_output + replacement.skip(torch.arange(L), run.mlp_input)  # [L, n, d], features added below
    count = 0
    for layer, tc in enumerate(replacement.tc):
        x = run.mlp_input[layer]
        acts = tc.encode(x)
        if hold_bos:
            acts[0] = 0
        pres.append(x @ tc.W_enc + tc.b_enc)
        pos, feat = acts.nonzero(as_tuple=True)
        rows = tc.rows(feat) * acts[pos, feat, None, None]  # [m, n_outputs, d]
        for offset in range(tc.n_outputs):
            written[layer + offset].index_add_(0, pos, rows[:, offset])
            for position in pos.unique().tolist():
                chosen = (pos == position).nonzero()[:, 0]
                groups[layer + offset].append((position, count + chosen, rows[chosen, offset]))
        layers.append(torch.full_like(pos, layer))
        positions.append(pos)
        indices.append(feat)
        values.append(acts[pos, feat])
        count += pos.numel()
    errors = run.mlp_output - written
    if hold_bos:
        errors[:, 0] = 0
    table = SourceTable(torch.cat(layers), torch.cat(positions), groups, torch.cat(indices), torch.cat(values), errors,
                        error_offset=count, token_offset=count + L * n, n_columns=count + (L + 1) * n)
    return table, pres


def salient_logits(last_logits: Tensor, max_logits: int, logit_probability: float) -> tuple[Tensor, Tensor]:
    """The most likely next tokens, as few as reach `logit_probability` together (at most `max_logits`)."""
    probabilities = torch.softmax(last_logits, -1)
    top_p, top = probabilities.topk(min(max_logits, probabilities.numel()))
    keep = int(torch.searchsorted(top_p.cumsum(0), torch.tensor(logit_probability))) + 1
    return top[:keep], top_p[:keep]


def check_transcoders(model: Any, transcoders: Sequence[Any]) -> None:
    """Refuse, naming what is missing, transcoders (or a model) attribution cannot use."""
    L, d = model.cfg.n_layers, model.cfg.d_model
    if getattr(model.cfg, "attn_only", False) or any(getattr(block, "mlp", None) is None for block in model.blocks):
        raise InterpWidgetsError("this model is attention-only: it has no MLPs for transcoders to replace, so it has no attribution "
                                 "graph over transcoders (look at its attention with iw.AttentionView and its heads' scores instead).")
    if len(transcoders) != L:
        raise InterpWidgetsError(f"attribution needs one transcoder per layer ({L}), got {len(transcoders)}: "
                                 "load them with iw.load_transcoders(<the model's name or a transcoder folder>).")
    parallel = bool(getattr(model.cfg, "parallel_attn_mlp", False))
    for layer, tc in enumerate(transcoders):
        if not all(hasattr(tc, name) for name in ("W_enc", "b_enc", "b_dec", "encode")) or not (hasattr(tc, "decoder_rows") or hasattr(tc, "W_dec")):
            raise InterpWidgetsError(f"transcoder {layer} has no W_enc/b_enc/W_dec/b_dec/encode: pass transcoders from iw.load_transcoders.")
        if tuple(tc.W_enc.shape)[0] != d or tuple(tc.b_dec.shape)[-1] != d:
            raise InterpWidgetsError(f"transcoder {layer} maps {tc.W_enc.shape[0]} -> {tc.b_dec.shape[-1]} but the model's width is {d}: "
                                     "these transcoders belong to another model.")
        if getattr(getattr(tc, "cfg", None), "apply_b_dec_to_input", False):
            raise InterpWidgetsError(f"transcoder {layer} subtracts b_dec from its input, which a transcoder cannot do (its input and output differ).")
        if getattr(tc, "layer", layer) != layer:
            raise InterpWidgetsError(f"the transcoder in place {layer} is layer {tc.layer}'s: pass them in layer order, one per layer.")
        if getattr(tc, "n_outputs", L - layer) != L - layer:
            raise InterpWidgetsError(f"cross-layer transcoder part {layer} writes to {tc.n_outputs} layers, but {L - layer} follow it in this model.")
    for layer, tc in enumerate(transcoder_layers(transcoders)):
        if tc.input_site not in MLP_INPUT_SITES + RESIDUAL_INPUT_SITES or tc.output_site not in OUTPUT_SITES:
            raise InterpWidgetsError(f"transcoder {layer} reads {tc.input_site!r} and predicts {tc.output_site!r}; attribution replaces MLPs: "
                                     f"transcoders reading {' / '.join(MLP_INPUT_SITES + RESIDUAL_INPUT_SITES)} and predicting {' / '.join(OUTPUT_SITES)}.")
        if tc.reads_residual and parallel:
            raise InterpWidgetsError(f"transcoder {layer} reads hook_resid_mid, which a parallel block (attention and MLP side by side) does not have.")
        if tc.output_site == "mlp.hook_out" and getattr(model.blocks[layer], "ln2_post", None) is not None:
            raise InterpWidgetsError(f"transcoder {layer} predicts mlp.hook_out, before block {layer}'s post-MLP norm: attribution needs "
                                     "transcoders predicting hook_mlp_out (after it), what the block adds to the residual stream.")


def starts_with_special_token(model: Any, tokens: Tensor) -> bool:
    """Whether the prompt's first token is one of the tokenizer's special tokens (BOS and the like)."""
    tokenizer = getattr(model, "tokenizer", None)
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    special.add(getattr(tokenizer, "bos_token_id", None))
    return tokens.numel() > 0 and int(tokens[0]) in special


def frozen_replacement(model: Any, transcoders: Sequence[Any], tokens: Tensor) -> tuple[FrozenRun, LinearReplacement]:
    """One forward pass of `tokens [pos]` recording what the local replacement model freezes, and that model,
    checked to reproduce the model's own run (a clear refusal naming the part where it does not)."""
    layouts, layers = block_layouts(model), transcoder_layers(transcoders)
    run = frozen_run(model, tokens.to(next(model.parameters()).device), layouts, [tc.input_site for tc in layers],
                     [tc.output_site for tc in layers])
    with torch.inference_mode():
        replacement = LinearReplacement(model, transcoders, run, layouts, layers)
        replacement.check("this model")
    return run, replacement


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
    run, replacement = frozen_replacement(model, transcoders, tokens)
    with torch.inference_mode():
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
        if replacement.soft_cap is not None:  # the capped logits' linearisation at the prompt: its constant is what the edges leave
            logit_bias = logit_values - logit_rows.sum(1)
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
