"""The slow plain reference for attribution graphs: autograd through the real model, one backward per target.

The model itself runs with hooks that make it the local replacement model: every attention
pattern and LayerNorm scale is replaced by its value on the prompt (a constant), and every MLP
output by a constant leaf tensor holding its value (so no gradient crosses an MLP, and the forward
pass is unchanged). For each target node (a feature's pre-activation, or a logit minus the mean
logit) one `torch.autograd.grad` gives its gradient at every MLP output and at the embedding; each
source's edge is its vector dotted with the gradient where it is written. This shares no code with
compute/attribution/attribute.py's batched linear backward pass, which tests and benchmarks compare with it.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.attribution.graph import AttributionGraph


def direct_effects_one_by_one(model: Any, transcoders: Sequence[Any], graph: AttributionGraph) -> Tensor:
    """`graph.adjacency` recomputed target by target, `[n_nodes, n_nodes]` (rows of error and token nodes stay 0)."""
    L, tokens = graph.n_layers, graph.tokens[None].to(next(model.parameters()).device)
    with torch.inference_mode():
        _, clean = model.run_with_cache(tokens)
    frozen = [f"blocks.{layer}.{site}" for layer in range(L) for site in ("attn.hook_pattern", "ln1.hook_scale", "ln2.hook_scale")]
    frozen.append("ln_final.hook_scale")
    leaves: dict[str, Tensor] = {}
    mlp_inputs: dict[int, Tensor] = {}

    def constant(name: str):
        return lambda activation, hook: clean[name].clone()

    def leaf(name: str):
        def hook(activation: Tensor, hook: Any) -> Tensor:
            leaves[name] = clean[name].clone().requires_grad_(True)
            return leaves[name]

        return hook

    def keep(layer: int):
        def hook(activation: Tensor, hook: Any) -> None:
            mlp_inputs[layer] = activation

        return hook

    written = ["blocks.0.hook_resid_pre"] + [f"blocks.{layer}.hook_mlp_out" for layer in range(L)]
    hooks = [(name, constant(name)) for name in frozen] + [(name, leaf(name)) for name in written]
    hooks += [(f"blocks.{layer}.ln2.hook_out", keep(layer)) for layer in range(L)]
    with warnings.catch_warnings(), torch.enable_grad(), model.hooks(fwd_hooks=hooks):
        warnings.simplefilter("ignore")
        logits = model(tokens)[0, -1]
        targets = [mlp_inputs[layer][0, position] @ transcoders[layer].W_enc[:, feature].float() + transcoders[layer].b_enc[feature].float()
                   for layer, position, feature in graph.features.tolist()]
        targets += [logits[token] - logits.mean() for token in graph.logit_tokens.tolist()]
        columns = _source_vectors(transcoders, graph, clean)
        adjacency = torch.zeros(graph.n_nodes, graph.n_nodes)
        rows = list(range(graph.n_features)) + list(range(graph.logit_offset, graph.n_nodes))
        inputs = [leaves[name] for name in written]
        for row, target in zip(rows, targets):
            grads = torch.autograd.grad(target, inputs, retain_graph=True, allow_unused=True)
            at = {name: (g if g is not None else torch.zeros_like(leaves[name]))[0].detach().cpu() for name, g in zip(written, grads)}
            for name, (positions, vectors, where) in columns.items():
                adjacency[row, where] = (at[name][positions] * vectors).sum(-1)
    return adjacency


def _source_vectors(transcoders: Sequence[Any], graph: AttributionGraph, clean: Any) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    """Source columns grouped by the hook where they are written: (positions [m], vectors [m, d], columns [m])."""
    listed: dict[str, list[tuple[int, Tensor, int]]] = {}
    for column, ((layer, position, feature), activation) in enumerate(zip(graph.features.tolist(), graph.activations.tolist())):
        vector = activation * transcoders[layer].W_dec[feature].detach().float().cpu()
        listed.setdefault(f"blocks.{layer}.hook_mlp_out", []).append((position, vector, column))
    for layer in range(graph.n_layers):
        x = clean[f"blocks.{layer}.ln2.hook_out"][0].float()
        transcoder = transcoders[layer]
        with torch.inference_mode():
            error = clean[f"blocks.{layer}.hook_mlp_out"][0].float() - transcoder(x.to(transcoder.W_enc.dtype)).float()
        if graph.bos_held:  # held at its value: no error node's vector at BOS
            error = torch.cat([torch.zeros_like(error[:1]), error[1:]])
        first = graph.error_offset + layer * graph.n_pos
        listed.setdefault(f"blocks.{layer}.hook_mlp_out", []).extend((p, error[p].cpu(), first + p) for p in range(graph.n_pos))
    embedding = clean["blocks.0.hook_resid_pre"][0].float().cpu()
    listed["blocks.0.hook_resid_pre"] = [(p, embedding[p], graph.token_offset + p) for p in range(graph.n_pos)]
    return {name: (torch.tensor([p for p, _, _ in items]), torch.stack([v for _, v, _ in items]), torch.tensor([c for _, _, c in items]))
            for name, items in listed.items()}
