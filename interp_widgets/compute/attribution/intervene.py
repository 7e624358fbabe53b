"""Interventions on transcoder features in the real model: check a path the graph suggests.

The graph is a statement about the *local replacement model* (frozen attention and LayerNorm). To
see whether it holds in the model itself, set some features to a new value and run the real model:

    at each layer l with a chosen feature, the MLP's output is replaced by
        transcoder(x) with the chosen features changed  +  (mlp(x) - transcoder(x))      x: the MLP input
      = mlp(x) + (new_acts - acts) @ W_dec                                             [n, d_model]

so the transcoder's error is kept (on the current input), attention and LayerNorm run normally,
and every later layer's features respond to the change. A feature is set to `scale` times its
activation on the clean prompt (0: ablated, 2: doubled), at its own position. An error node
(layer, position) can be scaled too: `scale` times the error is kept there (0: the MLP's output is
the transcoder's reconstruction alone), which shows how much what the graph cannot name matters.
The logits at the last position before and after show whether the path mattered.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import recorder
from interp_widgets.errors import InterpWidgetsError


def input_hook(layer: int, model: Any = None, transcoder: Any = None) -> str:
    """Where a layer's transcoder reads: the MLP's input (`ln2.hook_out`, as sae/transcoder.py; `mlp.hook_in` in a
    block without ln2), or the residual stream where a published transcoder says so (`hook_resid_mid`)."""
    site = getattr(transcoder, "input_hook", None)
    if site == "hook_resid_mid":
        return f"blocks.{layer}.hook_resid_mid"
    name = f"blocks.{layer}.ln2.hook_out"
    return name if model is None or name in getattr(model, "hook_dict", {name: None}) else f"blocks.{layer}.mlp.hook_in"


def output_hook(layer: int) -> str:
    return f"blocks.{layer}.hook_mlp_out"


@dataclass
class InterventionResult:
    features: list[tuple[int, int, int]]  # (layer, position, feature)
    errors: list[tuple[int, int]]  # (layer, position) error nodes scaled
    scale: float
    clean_activations: Tensor  # [n_changed]
    clean_logits: Tensor  # [vocab] at the last position
    new_logits: Tensor  # [vocab]

    def top(self, k: int = 10) -> list[dict[str, Any]]:
        """The `k` tokens most likely before or after (by the larger probability), with both probabilities and logits."""
        clean_p, new_p = self.clean_logits.softmax(-1), self.new_logits.softmax(-1)
        order = torch.maximum(clean_p, new_p).topk(min(k, clean_p.numel())).indices.tolist()
        return [{"token": token, "clean_probability": float(clean_p[token]), "new_probability": float(new_p[token]),
                 "clean_logit": float(self.clean_logits[token]), "new_logit": float(self.new_logits[token])} for token in order]


def check_nodes(transcoders: Sequence[Any], n_pos: int, features: Sequence[tuple[int, int, int]],
                errors: Sequence[tuple[int, int]]) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    checked = []
    for item in features:
        layer, position, feature = (int(v) for v in item)
        if not 0 <= layer < len(transcoders) or not 0 <= position < n_pos or not 0 <= feature < transcoders[layer].W_enc.shape[1]:
            raise InterpWidgetsError(f"feature (layer {layer}, position {position}, index {feature}) does not exist on this "
                                     f"{n_pos}-token prompt with {len(transcoders)} transcoders: pick feature nodes of the graph.")
        checked.append((layer, position, feature))
    checked_errors = [(int(layer), int(position)) for layer, position in errors]
    if any(not 0 <= layer < len(transcoders) or not 0 <= position < n_pos for layer, position in checked_errors):
        raise InterpWidgetsError(f"an error node is outside the {len(transcoders)} layers and {n_pos} positions: pick error nodes of the graph.")
    if not checked and not checked_errors:
        raise InterpWidgetsError("nothing to intervene on: pin one or more feature or error nodes first (token and logit nodes cannot be scaled).")
    return checked, checked_errors


@contextmanager
def feature_edits(model: Any, transcoders: Sequence[Any], targets: dict[int, list[tuple[int, int, float]]],
                  error_scales: dict[int, list[tuple[int, float]]] | None = None) -> Iterator[dict[int, Tensor]]:
    """Hooks that set feature (position, index) of layer l to a value, `targets[l] = [(pos, f, value)]`,
    keeping the transcoder's error (times `scale` at `error_scales[l] = [(pos, scale)]`). Yields the
    transcoder activations each edited layer saw `{l: [n, d_tc]}`."""
    error_scales = error_scales or {}
    inputs: dict[int, Tensor] = {}
    seen: dict[int, Tensor] = {}

    def edit(layer: int):
        def hook(mlp_out: Tensor, hook: Any) -> Tensor:
            tc = transcoders[layer]
            acts = tc.encode(inputs[layer][0].to(tc.W_enc.dtype))  # [n, d_tc]
            seen[layer] = acts.float()
            new = acts.clone()
            for position, feature, value in targets[layer]:
                new[position, feature] = value
            delta = (new - acts) @ tc.W_dec  # [n, d_model]
            if error_scales.get(layer):
                skip = tc.skip(inputs[layer][0].to(acts.dtype)) if hasattr(tc, "skip") else 0  # a skip transcoder's skip term
                error = mlp_out[0].to(acts.dtype) - (acts @ tc.W_dec + tc.b_dec + skip)  # [n, d_model]
                for position, scale in error_scales[layer]:
                    delta[position] += (scale - 1.0) * error[position]
            return mlp_out + delta[None].to(mlp_out.dtype)

        return hook

    targets = {**{layer: [] for layer in error_scales}, **targets}
    if any(hasattr(tc, "n_outputs") for tc in transcoders):  # a cross-layer transcoder: every layer's output hears earlier edits
        with _cross_layer_edits(model, transcoders, targets, error_scales) as seen:
            yield seen
        return
    hooks = [hook for layer in targets for hook in ((input_hook(layer, model, transcoders[layer]), recorder(inputs, layer)), (output_hook(layer), edit(layer)))]
    with model.hooks(fwd_hooks=hooks):
        yield seen


@contextmanager
def _cross_layer_edits(model: Any, parts: Sequence[Any], targets: dict[int, list[tuple[int, int, float]]],
                       error_scales: dict[int, list[tuple[int, float]]]) -> Iterator[dict[int, Tensor]]:
    """`feature_edits` for a cross-layer transcoder: layer l's output changes by
    `sum_{s<=l} (new_s - acts_s) @ W_dec_s[:, l-s]` (each layer's features read from the run as it goes), and an
    error scaled at (l, p) is `mlp_out_l - (sum_{s<=l} acts_s @ W_dec_s[:, l-s] + b_dec_l)`."""
    inputs: dict[int, Tensor] = {}
    seen: dict[int, Tensor] = {}
    changes: dict[int, Tensor] = {}

    def written(source: int, layer: int, codes: Tensor) -> Tensor:
        """What `codes [n, F]` of layer `source` write to layer `layer`, reading only their active decoder rows."""
        active = codes.ne(0).any(0).nonzero()[:, 0]
        return codes[:, active] @ parts[source].decoder_rows(active)[:, layer - source].to(codes.dtype)

    def edit(layer: int):
        def hook(mlp_out: Tensor, hook: Any) -> Tensor:
            part = parts[layer]
            acts = part.encode(inputs[layer][0].to(part.W_enc.dtype))  # [n, F]
            seen[layer] = acts.float()
            new = acts.clone()
            for position, feature, value in targets.get(layer, []):
                new[position, feature] = value
            changes[layer] = new - acts
            delta = sum(written(source, layer, changes[source]) for source in range(layer + 1))
            if error_scales.get(layer):
                predicted = part.b_dec + sum(written(source, layer, seen[source].to(acts.dtype)) for source in range(layer + 1))
                error = mlp_out[0].to(acts.dtype) - predicted
                for position, scale in error_scales[layer]:
                    delta[position] += (scale - 1.0) * error[position]
            return mlp_out + delta[None].to(mlp_out.dtype)

        return hook

    hooks = [hook for layer in range(len(parts)) for hook in ((input_hook(layer, model, parts[layer]), recorder(inputs, layer)), (output_hook(layer), edit(layer)))]
    with model.hooks(fwd_hooks=hooks):
        yield seen


@torch.inference_mode()
def intervene(model: Any, transcoders: Sequence[Any], tokens: Tensor, features: Sequence[tuple[int, int, int]], scale: float = 0.0,
              errors: Sequence[tuple[int, int]] = ()) -> InterventionResult:
    """Set each `(layer, position, feature)` to `scale` x its clean activation on `tokens [pos]`, and keep
    `scale` x the transcoder's error at each `(layer, position)` of `errors`; run the model."""
    tokens = torch.as_tensor(tokens).flatten()
    chosen, chosen_errors = check_nodes(transcoders, tokens.numel(), features, errors)
    device = next(model.parameters()).device
    layers = sorted({layer for layer, _, _ in chosen})
    with feature_edits(model, transcoders, {layer: [] for layer in layers}) as seen:  # the clean run, recording activations
        clean_logits = model(tokens[None].to(device))[0, -1].float().cpu()
    clean = torch.tensor([float(seen[layer][position, feature]) for layer, position, feature in chosen])
    targets: dict[int, list[tuple[int, int, float]]] = {layer: [] for layer in layers}
    for (layer, position, feature), value in zip(chosen, clean.tolist()):
        targets[layer].append((position, feature, scale * value))
    error_scales: dict[int, list[tuple[int, float]]] = {}
    for layer, position in chosen_errors:
        error_scales.setdefault(layer, []).append((position, float(scale)))
    with feature_edits(model, transcoders, targets, error_scales):
        new_logits = model(tokens[None].to(device))[0, -1].float().cpu()
    return InterventionResult(chosen, chosen_errors, float(scale), clean, clean_logits, new_logits)
