"""Training sparse autoencoders, several at once from the same activation batches.

Each step feeds one batch `x [batch, d_in]` to every SAE (so 1x/2x/4x/8x dictionaries cost one
pass of the model). Per SAE:

    loss = |x - x_hat|^2 / E|x|^2                      normalised reconstruction error
         + l1 * sum|f| / E|x|          (ReLU)           sparsity; scale-free because f grows with |x|
         + aux * |e - e_hat|^2 / |e|^2 (TopK, AuxK)     dead features learn to explain the error e

The decoder rows stay at unit norm: the gradient along each row is removed before the step and
the rows are renormalised after it. A feature that has not fired for `dead_after_tokens` tokens
counts as dead; ReLU SAEs resample dead features towards inputs they reconstruct badly (Anthropic,
"Towards Monosemanticity"); TopK SAEs use the AuxK loss instead (Gao et al. 2024). The learning
rate warms up linearly, holds, then decays linearly to zero over the last `decay_fraction` of the
steps; the L1 coefficient warms up too. Checkpoints hold everything needed to resume exactly.

A ReLU SAE in fp32 takes its gradients from `relu_step` (written by hand into buffers kept between
steps, the same numbers as autograd's); TopK SAEs and bf16 autocast go through autograd.
"""

from __future__ import annotations

import itertools
import os
import pickle
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.model import SparseAutoencoder, TopKSAE
from interp_widgets.sae.relu_step import Workspace, relu_sae_gradients_, uses_hand_written_step
from interp_widgets.sae.store import ActivationStore


@dataclass
class TrainConfig:
    total_steps: int = 2000
    lr: float = 4e-4
    l1_coefficient: float = 0.3
    l1_warmup_fraction: float = 0.05
    warmup_steps: int = 50
    decay_fraction: float = 0.2
    dead_after_tokens: int = 100_000
    resample_every: int | None = 500
    resample_until_fraction: float = 0.6
    aux_k: int | None = None
    aux_coefficient: float = 1 / 32
    log_every: int = 20
    checkpoint_dir: str | None = None
    checkpoint_every: int = 500
    seed: int = 0
    autocast: str = "auto"  # "auto" | "bf16" | "none"
    init_b_dec_to_mean: bool = True


@dataclass
class TrainState:
    step: int = 0
    x_sq_norm: float = 0.0
    x_norm: float = 0.0
    tokens_since_fired: list[Tensor] = field(default_factory=list)
    history: list[list[dict[str, float]]] = field(default_factory=list)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is fast here: CUDA with bf16, or a CPU with AVX-512 BF16 / AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up, constant, linear decay to zero over the last `decay_fraction` of training."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    decay_start = int(config.total_steps * (1 - config.decay_fraction))
    if step >= decay_start and config.decay_fraction > 0:
        return config.lr * max(0.0, (config.total_steps - step) / (config.total_steps - decay_start))
    return config.lr


def train_saes(
    saes: list[SparseAutoencoder],
    store: ActivationStore,
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
    on_log: Callable[[list[list[dict[str, float]]]], None] | None = None,
    resume: bool = True,
) -> list[list[dict[str, float]]]:
    """Train every SAE in `saes` on the batches of `store`; returns each SAE's logged metrics.

    `on_log(history)` is called at every log step (a `TrainingView` widget's `update` fits).
    With `config.checkpoint_dir` set, a checkpoint is written every `checkpoint_every` steps and,
    with `resume`, training continues from it.
    """
    if not saes:
        raise InterpWidgetsError("no SAEs to train: pass a list with at least one SAE.")
    torch.manual_seed(config.seed)
    device = saes[0].W_enc.device
    d_in = store.d_in
    for sae in saes:
        if not isinstance(sae, SparseAutoencoder):
            raise InterpWidgetsError(
                f"the trainer trains interp-widgets SAEs, not {type(sae).__name__}: convert an SAELens SAE "
                "with interp_widgets.sae.from_saelens(sae) first."
            )
        if sae.d_in != d_in:
            raise InterpWidgetsError(
                f"an SAE has d_in={sae.d_in} but the activations at {store.hook_name!r} have width {d_in}: "
                f"build it with d_in={d_in}."
            )
        if sae.hook_name is None:
            sae.cfg.hook_name = store.hook_name
    use_bf16 = config.autocast == "bf16" or (config.autocast == "auto" and bf16_supported(device))
    optimizers = [torch.optim.Adam(sae.parameters(), lr=config.lr, betas=(0.9, 0.999)) for sae in saes]
    state = TrainState(tokens_since_fired=[torch.zeros(sae.d_sae, device=device) for sae in saes], history=[[] for _ in saes])
    checkpoint = Path(config.checkpoint_dir) / "checkpoint.pt" if config.checkpoint_dir else None
    if checkpoint is not None and resume and checkpoint.exists():
        _load_checkpoint(checkpoint, saes, optimizers, state)
    batches = store.batches(start=state.step)
    if state.step == 0:
        first = next(batches).to(device)
        state.x_sq_norm = float(first.pow(2).sum(-1).mean())
        state.x_norm = float(first.norm(dim=-1).mean())
        if not state.x_norm > 0:
            raise InterpWidgetsError(
                f"the first batch of activations at {store.hook_name!r} is all zeros (or not finite), and the loss is measured "
                "relative to their size: check the hook name and the tokens."
            )
        if config.init_b_dec_to_mean:
            with torch.no_grad():
                for sae in saes:
                    sae.b_dec.copy_(first.mean(0))
        batches = itertools.chain([first], batches)
    workspace = Workspace()  # the hand-written ReLU step's [batch, d_sae] buffers, reused every step
    bar = _progress(config.total_steps, state.step, progress)
    try:
        for x in batches:
            if state.step >= config.total_steps:
                break
            x = x.to(device)
            lr = learning_rate(state.step, config)
            l1 = config.l1_coefficient * min(1.0, (state.step + 1) / max(1, config.l1_warmup_fraction * config.total_steps))
            logs = []
            logging = (state.step + 1) % config.log_every == 0 or state.step + 1 == config.total_steps
            for index, (sae, optimizer) in enumerate(zip(saes, optimizers)):
                for group in optimizer.param_groups:
                    group["lr"] = lr
                dead = state.tokens_since_fired[index] > config.dead_after_tokens
                metrics = _step(sae, optimizer, x, state, l1, dead, config, use_bf16, detailed=logging, workspace=workspace)
                fired = metrics.pop("fired")
                state.tokens_since_fired[index] += x.shape[0]
                state.tokens_since_fired[index][fired] = 0
                if _should_resample(sae, state.step, config):
                    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step)  # exact on resume
                    metrics["resampled"] = float(_resample_dead(sae, optimizer, x, dead, generator))
                    state.tokens_since_fired[index][dead] = 0
                metrics["dead_fraction"] = float(dead.float().mean())
                metrics["lr"] = lr
                logs.append(metrics)
            state.step += 1
            if logging:
                for index, metrics in enumerate(logs):
                    state.history[index].append({"step": float(state.step), **metrics})
            if checkpoint is not None and (state.step % config.checkpoint_every == 0 or state.step == config.total_steps):
                _save_checkpoint(checkpoint, saes, optimizers, state, config)
            if bar is not None:
                bar.update(1)
                if logging:
                    bar.set_postfix_str(progress_line(saes, logs), refresh=False)
            if logging and on_log is not None:
                on_log(state.history)
    finally:
        if bar is not None:
            bar.close()
    return state.history


def sae_label(sae: SparseAutoencoder) -> str:
    """A short name for an SAE: its width as a multiple of d_in ("4x"), or its number of features."""
    return f"{sae.d_sae // sae.d_in}x" if sae.d_sae % sae.d_in == 0 else f"{sae.d_sae} features"


def progress_line(saes: Sequence[SparseAutoencoder], logs: Sequence[dict[str, Any]]) -> str:
    """Every SAE's latest numbers for the progress bar, each named: `1x nmse 0.21 L0 40 dead 2% | 2x ...`."""
    return " | ".join(f"{sae_label(sae)} nmse {m['nmse']:.3f} L0 {m['l0']:.0f} dead {m['dead_fraction']:.0%}" for sae, m in zip(saes, logs))


def train_sae(sae: SparseAutoencoder, store: ActivationStore, config: TrainConfig = TrainConfig(), **kwargs: Any) -> list[dict[str, float]]:
    """`train_saes` for one SAE."""
    return train_saes([sae], store, config, **kwargs)[0]


def _step(sae, optimizer, x: Tensor, state: TrainState, l1: float, dead: Tensor, config: TrainConfig, use_bf16: bool, detailed: bool,
          workspace: Workspace) -> dict[str, Any]:
    """One optimiser step; returns which features fired, and (when `detailed`) the logged metrics."""
    batch = x.shape[0]
    if uses_hand_written_step(sae, x, use_bf16):
        features, residual = relu_sae_gradients_(sae, x, 1 / (batch * state.x_sq_norm), l1 / (batch * state.x_norm), workspace)
        error: Tensor = residual  # x_hat - x: only its square is read below
        nmse = error.pow(2).sum(-1).mean() / state.x_sq_norm if detailed else None
        loss = nmse + l1 * features.sum(-1).mean() / state.x_norm if detailed else None
    else:
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=use_bf16):
            pre = _training_pre_activations(sae, x)
            features = sae.activate(pre)
            x_hat = sae.decode(features)
        features, x_hat = features.float(), x_hat.float()
        error = x - x_hat
        nmse = error.pow(2).sum(-1).mean() / state.x_sq_norm
        loss = nmse
        if isinstance(sae, TopKSAE):
            if dead.any():
                loss = loss + config.aux_coefficient * aux_k_loss(sae, pre.float(), error.detach(), dead, config)
        else:
            # a ReLU SAE's features are never negative: their sum is the L1 norm, without abs() and its sign in the backward pass
            l1_norm = features.sum(-1) if sae.architecture == "standard" else features.abs().sum(-1)
            loss = loss + l1 * l1_norm.mean() / state.x_norm
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    sae.remove_parallel_decoder_grad_()
    optimizer.step()
    sae.normalize_decoder_()
    with torch.no_grad():
        metrics: dict[str, Any] = {"fired": features.amax(0) > 0}  # one reduction; no [batch, d_sae] mask
        if detailed:
            if not torch.isfinite(loss):
                raise InterpWidgetsError(
                    f"the loss became {loss.item()} at step {state.step}: lower the learning rate (now {config.lr})."
                )
            metrics.update(
                loss=float(loss),
                nmse=float(nmse),
                explained_variance=float(1 - error.pow(2).sum(-1).mean() / (x - x.mean(0)).pow(2).sum(-1).mean()),
                l0=float((features > 0).sum(dtype=torch.int32)) / batch,
            )
        return metrics


def _training_pre_activations(sae: SparseAutoencoder, x: Tensor) -> Tensor:
    """`sae.pre_activations(x)` written for the backward pass: `(x - b_dec) @ W_enc = x @ W_enc - b_dec @ W_enc`,
    so b_dec's gradient through the encoder is a vector-matrix product instead of a second `[batch, d_in] x
    [d_in, d_sae]` matrix product (profiled: the matrix products are ~70 % of a step)."""
    if not sae.cfg.apply_b_dec_to_input:
        return sae.pre_activations(x)
    return x @ sae.W_enc + (sae.b_enc - sae.b_dec @ sae.W_enc)


def aux_k_loss(sae: TopKSAE, pre: Tensor, error: Tensor, dead: Tensor, config: TrainConfig) -> Tensor:
    """Dead features' top pre-activations reconstruct the main reconstruction's error."""
    k_aux = min(int(dead.sum()), config.aux_k or max(1, sae.d_in // 2))
    masked = pre.masked_fill(~dead, float("-inf"))
    values, indices = masked.topk(k_aux, dim=-1, sorted=False)
    aux_features = torch.zeros_like(pre).scatter_(-1, indices, torch.relu(values))
    error_hat = aux_features @ sae.W_dec.float()
    return (error - error_hat).pow(2).sum(-1).mean() / error.pow(2).sum(-1).mean().clamp_min(1e-12)


def _should_resample(sae: SparseAutoencoder, step: int, config: TrainConfig) -> bool:
    return (
        not isinstance(sae, TopKSAE)
        and config.resample_every is not None
        and step > 0
        and step % config.resample_every == 0
        and step < config.resample_until_fraction * config.total_steps
    )


@torch.no_grad()
def _resample_dead(sae: SparseAutoencoder, optimizer: torch.optim.Optimizer, x: Tensor, dead: Tensor, generator: torch.Generator) -> int:
    """Point dead features at inputs the SAE reconstructs badly; reset their optimiser state."""
    dead_indices = dead.nonzero().flatten()
    if dead_indices.numel() == 0:
        return 0
    error = (x - sae(x)).pow(2).sum(-1).float().cpu()
    chosen = torch.multinomial(error.clamp_min(1e-12), dead_indices.numel(), replacement=True, generator=generator).to(x.device)
    directions = x[chosen] - sae.b_dec
    directions = directions / directions.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    alive = ~dead
    encoder_norm = sae.W_enc[:, alive].norm(dim=0).mean() if alive.any() else torch.tensor(1.0)
    sae.W_dec[dead_indices] = directions.to(sae.W_dec.dtype)
    sae.W_enc[:, dead_indices] = (directions * encoder_norm * 0.2).T.to(sae.W_enc.dtype)
    sae.b_enc[dead_indices] = 0
    for parameter, rows in ((sae.W_dec, (dead_indices,)), (sae.W_enc, (slice(None), dead_indices)), (sae.b_enc, (dead_indices,))):
        for moment in optimizer.state.get(parameter, {}).values():
            if isinstance(moment, Tensor) and moment.shape == parameter.shape:
                moment[rows] = 0
    return int(dead_indices.numel())


def _save_checkpoint(path: Path, saes, optimizers, state: TrainState, config: TrainConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "step": state.step,
        "x_sq_norm": state.x_sq_norm,
        "x_norm": state.x_norm,
        "tokens_since_fired": state.tokens_since_fired,
        "history": state.history,
        "saes": [sae.state_dict() for sae in saes],
        "optimizers": [optimizer.state_dict() for optimizer in optimizers],
        "config": asdict(config),
    }
    partial = path.with_suffix(".tmp")
    torch.save(payload, partial)
    os.replace(partial, path)  # a crash mid-write never leaves a broken checkpoint


CHECKPOINT_KEYS = ("step", "x_sq_norm", "x_norm", "tokens_since_fired", "history", "saes", "optimizers")


def read_checkpoint(path: Path, map_location: Any = "cpu", keys: Sequence[str] = CHECKPOINT_KEYS,
                    fix: str = "delete it, or pass another checkpoint_dir or resume=False") -> dict[str, Any]:
    """A checkpoint's tensors and plain containers, read with `weights_only=True`: a file holding any
    other Python object (a planted pickle that would run code when unpickled) is refused before
    anything in it runs. `keys`: what the checkpoint must hold; `fix`: the advice in the errors."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found is None:  # not a pickle torch can read at all
            raise InterpWidgetsError(f"{path} is not a readable checkpoint (not torch.save's format): {fix}.") from None
        raise InterpWidgetsError(
            f"{path} holds Python objects besides tensors and plain containers (it names {found.group(1)}), so it is "
            f"not a checkpoint of ours and is not loaded (unpickling it could run code from the file): {fix}.") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise InterpWidgetsError(f"{path} is not a readable checkpoint ({type(error).__name__}: {str(error)[:200]}): {fix}.") from None
    missing = [key for key in keys if not isinstance(payload, dict) or key not in payload]
    if missing or not isinstance(payload, dict):
        raise InterpWidgetsError(f"{path} is not a checkpoint of this trainer (it has no {', '.join(missing) or 'dict of weights'}): {fix}.")
    return payload


def _load_checkpoint(path: Path, saes, optimizers, state: TrainState) -> None:
    payload = read_checkpoint(path, map_location=saes[0].W_enc.device)
    if len(payload["saes"]) != len(saes):
        raise InterpWidgetsError(f"{path} holds {len(payload['saes'])} SAEs, not {len(saes)}: use another checkpoint_dir.")
    for sae, weights, optimizer, optimizer_state in zip(saes, payload["saes"], optimizers, payload["optimizers"]):
        sae.load_state_dict(weights)
        optimizer.load_state_dict(optimizer_state)
    state.step = payload["step"]
    state.x_sq_norm, state.x_norm = payload["x_sq_norm"], payload["x_norm"]
    state.tokens_since_fired = payload["tokens_since_fired"]
    state.history = payload["history"]


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="training SAEs", dynamic_ncols=True)
