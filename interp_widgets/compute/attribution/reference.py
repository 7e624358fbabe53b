"""The slow plain reference for attribution graphs: autograd through the real model, one backward per target.

The model itself runs with hooks that make it the local replacement model: every attention
pattern and norm scale is replaced by its value on the prompt (a constant), and every MLP output
by a constant leaf tensor holding its value (so no gradient crosses an MLP, and the forward pass is
unchanged) — plus, for a skip transcoder, its skip term `x @ W_skip.T` computed live from the MLP
input (minus its clean value inside the leaf), since the skip is part of the linear path. For each
target node (a feature's pre-activation, or a logit minus the mean logit) one `torch.autograd.grad`
gives its gradient at every MLP output and at the embedding; each source's edge is its vector
dotted with the gradient where it is written (a cross-layer transcoder's feature at every layer it
writes to). This shares no code with compute/attribution/attribute.py's batched linear backward
pass, which tests and benchmarks compare with it.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.attribution.graph import AttributionGraph

NORM_SITES = ("ln1", "ln1_post", "ln2", "ln2_post")
MLP_INPUT_NAMES = ("mlp.hook_in", "ln2.hook_out", "hook_mlp_in", "ln2.hook_normalized")


def _site(tc: Any, name: str, default: str) -> str:
    site = getattr(tc, name, None) or default
    site = site.split(".", 2)[2] if site.startswith("blocks.") else site
    return "mlp.hook_in" if site in MLP_INPUT_NAMES else site


def _skip(tc: Any, x: Tensor) -> Tensor:
    W_skip = getattr(tc, "W_skip", None)
    return x @ W_skip.float().T if W_skip is not None else torch.zeros_like(x)


def _rows(tc: Any, feature: int) -> Tensor:
    """A feature's decoder rows `[n_outputs, d]` (a cross-layer transcoder's: its layer, then every later one)."""
    rows = tc.decoder_rows([feature])[0] if hasattr(tc, "decoder_rows") else tc.W_dec[feature]
    return (rows if rows.ndim == 2 else rows[None]).detach().float().cpu()


def direct_effects_one_by_one(model: Any, transcoders: Sequence[Any], graph: AttributionGraph) -> Tensor:
    """`graph.adjacency` recomputed target by target, `[n_nodes, n_nodes]` (rows of error and token nodes stay 0)."""
    L, tokens = graph.n_layers, graph.tokens[None].to(next(model.parameters()).device)
    with torch.inference_mode():
        _, clean = model.run_with_cache(tokens)
    frozen = [f"blocks.{layer}.attn.hook_pattern" for layer in range(L)]
    frozen += [f"blocks.{layer}.{site}.hook_scale" for layer in range(L) for site in NORM_SITES if f"blocks.{layer}.{site}.hook_scale" in clean]
    frozen.append("ln_final.hook_scale")
    inputs = [f"blocks.{layer}.{_site(tc, 'input_hook', 'mlp.hook_in')}" for layer, tc in enumerate(transcoders)]
    outputs = [f"blocks.{layer}.{_site(tc, 'output_hook', 'hook_mlp_out')}" for layer, tc in enumerate(transcoders)]
    leaves: dict[str, Tensor] = {}
    mlp_inputs: dict[int, Tensor] = {}

    def constant(name: str):
        return lambda activation, hook: clean[name].clone()

    def leaf(name: str, layer: int | None = None):
        def hook(activation: Tensor, hook: Any) -> Tensor:
            if layer is None:
                leaves[name] = clean[name].clone().requires_grad_(True)
                return leaves[name]
            tc, x_clean = transcoders[layer], clean[inputs[layer]].float()
            leaves[name] = (clean[name].float() - _skip(tc, x_clean)).requires_grad_(True)
            return (leaves[name] + _skip(tc, mlp_inputs[layer].float())).to(activation.dtype)

        return hook

    def keep(layer: int):
        def hook(activation: Tensor, hook: Any) -> None:
            mlp_inputs[layer] = activation

        return hook

    written = ["blocks.0.hook_resid_pre"] + outputs
    hooks = [(name, constant(name)) for name in frozen] + [("blocks.0.hook_resid_pre", leaf("blocks.0.hook_resid_pre"))]
    hooks += [(name, keep(layer)) for layer, name in enumerate(inputs)]
    hooks += [(name, leaf(name, layer)) for layer, name in enumerate(outputs)]
    with warnings.catch_warnings(), torch.enable_grad(), model.hooks(fwd_hooks=hooks):
        warnings.simplefilter("ignore")
        logits = model(tokens)[0, -1].float()
        targets = [mlp_inputs[layer][0, position].float() @ transcoders[layer].W_enc[:, feature].float() + transcoders[layer].b_enc[feature].float()
                   for layer, position, feature in graph.features.tolist()]
        targets += [logits[token] - logits.mean() for token in graph.logit_tokens.tolist()]
        columns = _source_vectors(transcoders, graph, clean, inputs, outputs)
        adjacency = torch.zeros(graph.n_nodes, graph.n_nodes)
        rows = list(range(graph.n_features)) + list(range(graph.logit_offset, graph.n_nodes))
        sources = [leaves[name] for name in written]
        for row, target in zip(rows, targets):
            grads = torch.autograd.grad(target, sources, retain_graph=True, allow_unused=True)
            at = {name: (g if g is not None else torch.zeros_like(leaves[name]))[0].detach().float().cpu() for name, g in zip(written, grads)}
            for name, (positions, vectors, where) in columns.items():
                adjacency[row, where] += (at[name][positions] * vectors).sum(-1)
    return adjacency


def _predicted_outputs(transcoders: Sequence[Any], xs: list[Tensor]) -> list[Tensor]:
    """Every layer's transcoder prediction (skip included), from every layer's MLP input."""
    with torch.inference_mode():
        if hasattr(transcoders, "reconstruct"):  # a cross-layer transcoder: earlier layers' features write here too
            return [y.float() for y in transcoders.reconstruct([x.to(transcoders[0].W_enc.dtype) for x in xs])]
        return [tc(x.to(tc.W_enc.dtype)).float() + (_skip(tc, x) if not hasattr(tc, "skip") else 0) for tc, x in zip(transcoders, xs)]


def _source_vectors(transcoders: Sequence[Any], graph: AttributionGraph, clean: Any, inputs: list[str], outputs: list[str]
                    ) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    """Source columns grouped by the hook where they are written: (positions [m], vectors [m, d], columns [m])."""
    listed: dict[str, list[tuple[int, Tensor, int]]] = {}
    for column, ((layer, position, feature), activation) in enumerate(zip(graph.features.tolist(), graph.activations.tolist())):
        for offset, row in enumerate(_rows(transcoders[layer], feature)):
            listed.setdefault(outputs[layer + offset], []).append((position, activation * row, column))
    xs = [clean[name][0].float() for name in inputs]
    predicted = _predicted_outputs(transcoders, xs)
    for layer in range(graph.n_layers):
        error = clean[outputs[layer]][0].float() - predicted[layer]
        if graph.bos_held:  # held at its value: no error node's vector at BOS
            error = torch.cat([torch.zeros_like(error[:1]), error[1:]])
        first = graph.error_offset + layer * graph.n_pos
        listed.setdefault(outputs[layer], []).extend((p, error[p].cpu(), first + p) for p in range(graph.n_pos))
    embedding = clean["blocks.0.hook_resid_pre"][0].float().cpu()
    listed["blocks.0.hook_resid_pre"] = [(p, embedding[p], graph.token_offset + p) for p in range(graph.n_pos)]
    return {name: (torch.tensor([p for p, _, _ in items]), torch.stack([v for _, v, _ in items]), torch.tensor([c for _, _, c in items]))
            for name, items in listed.items()}
