"""Transcoders: a sparse stand-in for one MLP, reading its input and predicting its output.

    f     = TopK(ReLU(x @ W_enc + b_enc))        [.., d_transcoder]   x: the MLP's input (after ln2)
    y_hat = f @ W_dec + b_dec                    [.., d_model]        predicts the MLP's output

An SAE reconstructs the activation it reads; a transcoder reads one activation (the MLP input,
`blocks.L.ln2.hook_out`) and predicts another (`blocks.L.hook_mlp_out`). Replacing every MLP by its
transcoder gives a model whose hidden units are sparse, readable features; with attention patterns
and LayerNorm scales frozen that model is linear from the feature activations onward, which is what
attribution graphs (compute/attribution/attribute.py) rest on.

The maths is a TopK SAE's (`TopKSAE`, no input centring), so encoding, decoder-norm upkeep and the
AuxK loss for dead features are shared with the SAE code; training differs only in the target:

    loss = |y - y_hat|^2 / E|y - E y|^2  +  aux * AuxK(dead features explain y - y_hat)

Files: SAELens' SAE layout (`cfg.json` + `sae_weights.safetensors`), with `hook_name_out` in the
metadata naming the activation the transcoder predicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import recorder
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.io import load_sae_from_disk, read_config, save_sae
from interp_widgets.sae.model import TopKSAE
from interp_widgets.sae.train import TrainConfig, aux_k_loss, learning_rate


def input_hook(layer: int) -> str:
    """Where a layer's transcoder reads: the MLP's input (ln2's output)."""
    return f"blocks.{layer}.ln2.hook_out"


def output_hook(layer: int) -> str:
    """What a layer's transcoder predicts: the MLP's output."""
    return f"blocks.{layer}.hook_mlp_out"


class Transcoder(TopKSAE):
    """A TopK transcoder for the MLP of `layer`: `forward(mlp_input)` predicts `mlp_output`."""

    def __init__(self, d_model: int, d_transcoder: int, k: int, layer: int, **kwargs: Any) -> None:
        kwargs.setdefault("hook_name", input_hook(layer))
        super().__init__(d_model, d_transcoder, k=k, apply_b_dec_to_input=False, **kwargs)
        self.layer = layer
        self.hook_name_out = output_hook(layer)

    def extra_repr(self) -> str:
        return f"layer={self.layer}, d_model={self.d_in}, d_transcoder={self.d_sae}, k={self.k}"


def save_transcoder(transcoder: Transcoder, path: str | Path, extra_metadata: dict[str, Any] | None = None) -> Path:
    """Write a transcoder in SAELens' SAE layout, `hook_name_out` and `layer` in the metadata."""
    metadata = {"hook_name_out": transcoder.hook_name_out, "layer": transcoder.layer, "kind": "transcoder", **(extra_metadata or {})}
    return save_sae(transcoder, path, metadata)


def load_transcoder(path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Transcoder:
    """A transcoder written by `save_transcoder`."""
    cfg = read_config(path)
    if cfg.get("kind") != "transcoder" or cfg.get("layer") is None:
        raise InterpWidgetsError(f"{path} holds an SAE, not a transcoder (its cfg.json has no kind 'transcoder' and layer).")
    layer = cfg["layer"]
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise InterpWidgetsError(f"{path}'s cfg.json has layer {layer!r}, not a layer number (0, 1, ...): fix the file.")
    sae = load_sae_from_disk(path, device=device, dtype=dtype)
    transcoder = Transcoder(sae.d_in, sae.d_sae, k=sae.k, layer=layer, model_name=sae.cfg.model_name, device="meta")
    transcoder.load_state_dict(sae.state_dict(), assign=True)
    transcoder.hook_name_out = cfg.get("hook_name_out") or output_hook(transcoder.layer)
    return transcoder.to(device=device, dtype=dtype)


def train_transcoder(
    transcoder: Transcoder,
    inputs: Tensor,
    targets: Tensor,
    config: TrainConfig = TrainConfig(),
    batch_size: int = 1024,
    on_log: Callable[[dict[str, float]], None] | None = None,
    scale_init: bool = True,
) -> list[dict[str, float]]:
    """Train on `inputs [n, d_model]` (MLP inputs) -> `targets [n, d_model]` (MLP outputs), sampled
    with replacement by a seeded generator; returns the logged metrics.

    Uses the SAE trainer's schedule (`learning_rate`), decoder-norm upkeep and AuxK loss; a feature
    that has not fired for `config.dead_after_tokens` training tokens counts as dead. With
    `scale_init` the encoder starts scaled so that the first predictions have the targets' spread
    (an MLP whose output is small next to its input otherwise starts far too loud and kills most
    features on the way down).
    """
    if inputs.shape != targets.shape or inputs.ndim != 2 or inputs.shape[-1] != transcoder.d_in:
        raise InterpWidgetsError(f"inputs and targets must both be [n, {transcoder.d_in}], got {list(inputs.shape)} and {list(targets.shape)}.")
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(transcoder.parameters(), lr=config.lr)
    target_mean = targets[:65536].float().mean(0)
    variance = float((targets[:65536].float() - target_mean).pow(2).sum(-1).mean())
    with torch.no_grad():
        transcoder.b_dec.copy_(target_mean)
        if scale_init:  # TopK and ReLU are positively homogeneous: scaling the encoder scales the prediction
            sample = inputs[:4096].float()
            predicted = transcoder.decode(transcoder.encode(sample)) - transcoder.b_dec
            scale = variance**0.5 / float(predicted.pow(2).sum(-1).mean().sqrt().clamp_min(1e-8))
            transcoder.W_enc.mul_(scale)
            transcoder.b_enc.mul_(scale)
    since_fired = torch.zeros(transcoder.d_sae)
    history: list[dict[str, float]] = []
    for step in range(config.total_steps):
        rows = torch.randint(0, inputs.shape[0], (batch_size,), generator=generator)
        x, y = inputs[rows].float(), targets[rows].float()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        pre = transcoder.pre_activations(x)
        features = transcoder.activate(pre)
        error = y - transcoder.decode(features)
        nmse = error.pow(2).sum(-1).mean() / variance
        dead = since_fired > config.dead_after_tokens
        loss = nmse + (config.aux_coefficient * aux_k_loss(transcoder, pre, error.detach(), dead, config) if dead.any() else 0.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        transcoder.remove_parallel_decoder_grad_()
        optimizer.step()
        transcoder.normalize_decoder_()
        fired = (features > 0).any(0)
        since_fired += batch_size
        since_fired[fired] = 0
        if (step + 1) % config.log_every == 0 or step + 1 == config.total_steps:
            if not torch.isfinite(nmse):
                raise InterpWidgetsError(f"the loss became {nmse.item()} at step {step}: lower the learning rate (now {config.lr}).")
            entry = {"step": float(step + 1), "nmse": nmse.item(), "explained_variance": 1 - nmse.item(),
                     "dead_fraction": float(dead.float().mean()), "lr": learning_rate(step, config)}
            history.append(entry)
            if on_log is not None:
                on_log(entry)
    return history


@torch.inference_mode()
def transcoder_metrics(transcoder: Transcoder, inputs: Tensor, targets: Tensor, batch_size: int = 8192) -> dict[str, float]:
    """L0, the fraction of the MLP output's variance explained, and dead features (never active) on held-out pairs."""
    squared_error = l0 = 0.0
    fired = torch.zeros(transcoder.d_sae, dtype=torch.bool)
    for first in range(0, inputs.shape[0], batch_size):
        x, y = inputs[first : first + batch_size].float(), targets[first : first + batch_size].float()
        features = transcoder.encode(x)
        squared_error += float((y - transcoder.decode(features)).pow(2).sum())
        l0 += float((features > 0).sum())
        fired |= (features > 0).any(0)
    y = targets.float()
    variance = float((y - y.mean(0)).pow(2).sum())
    n = inputs.shape[0]
    return {"l0": l0 / n, "explained_variance": 1 - squared_error / max(variance, 1e-12), "dead_fraction": float((~fired).float().mean()), "tokens": n}


@torch.inference_mode()
def replaced_loss(model: Any, transcoders: list[Transcoder], tokens: Tensor) -> dict[str, float]:
    """Next-token loss on `tokens [batch, pos]` with every MLP replaced by its transcoder, against the
    clean model and against every MLP zero-ablated. Recovered = (zero - replaced) / (zero - clean).

    The replacement is sequential: each transcoder reads the MLP input of the replaced run.
    """
    inputs: dict[int, Tensor] = {}

    def replace(layer: int):
        def hook(activation: Tensor, hook: Any) -> Tensor:
            transcoder = transcoders[layer]
            return transcoder(inputs[layer].to(transcoder.W_enc.dtype)).to(activation.dtype)

        return hook

    def loss(hooks: list) -> float:
        with model.hooks(fwd_hooks=hooks):
            return float(model(tokens, return_type="loss"))

    replacing = [hook for tc in transcoders for hook in ((input_hook(tc.layer), recorder(inputs, tc.layer)), (output_hook(tc.layer), replace(tc.layer)))]
    zeroing = [(output_hook(tc.layer), lambda activation, hook: torch.zeros_like(activation)) for tc in transcoders]
    clean, replaced, zeroed = loss([]), loss(replacing), loss(zeroing)
    return {"ce_clean": clean, "ce_replaced": replaced, "ce_mlps_zeroed": zeroed,
            "ce_loss_recovered": (zeroed - replaced) / (zeroed - clean) if zeroed != clean else float("nan")}
