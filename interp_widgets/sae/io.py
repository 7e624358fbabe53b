"""SAEs on disk in SAELens' format: a directory with `cfg.json` and `sae_weights.safetensors`.

We write SAELens 6's config layout (`architecture`, `d_in`, `d_sae`, `metadata.hook_name`, …),
so `sae_lens.SAE.load_from_disk(path)` reads our files, and we read theirs — version 6 and the
older flat layout (`hook_name`/`hook_point`, `activation_fn_str`) — without sae-lens installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.model import ARCHITECTURES, SparseAutoencoder, TopKSAE

CFG_FILENAME = "cfg.json"
WEIGHTS_FILENAME = "sae_weights.safetensors"
SAELENS_VERSION = "6.0.0"  # the config layout we write


def save_sae(sae: SparseAutoencoder, path: str | Path, extra_metadata: dict[str, Any] | None = None) -> Path:
    """Write `sae` to the directory `path` in SAELens' format; returns the directory."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    weights = {name: tensor.detach().contiguous().cpu() for name, tensor in sae.state_dict().items()}
    save_file(weights, str(path / WEIGHTS_FILENAME))
    dtype = str(sae.W_enc.dtype).removeprefix("torch.")
    cfg: dict[str, Any] = {
        "architecture": sae.architecture,
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "dtype": dtype,
        "device": "cpu",
        "apply_b_dec_to_input": sae.cfg.apply_b_dec_to_input,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            "sae_lens_version": SAELENS_VERSION,
            "sae_lens_training_version": SAELENS_VERSION,
            "hook_name": sae.hook_name,
            "model_name": sae.cfg.model_name,
            "prepend_bos": True,
            "written_by": "interp-widgets",
            **(extra_metadata or {}),
        },
    }
    if isinstance(sae, TopKSAE):
        cfg["k"] = sae.k
        cfg["rescale_acts_by_decoder_norm"] = False  # our decoder rows are unit norm already
    (path / CFG_FILENAME).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return path


def from_saelens(sae: Any) -> SparseAutoencoder:
    """Our SAE with the weights of an SAELens `SAE` (standard, topk or jumprelu), e.g. to train it further."""
    cfg = getattr(sae, "cfg", None)
    architecture = cfg.architecture() if callable(getattr(cfg, "architecture", None)) else getattr(cfg, "architecture", None)
    if architecture not in ARCHITECTURES:
        raise InterpWidgetsError(f"cannot convert a {architecture!r} SAE; interp-widgets has {sorted(ARCHITECTURES)}.")
    if getattr(cfg, "normalize_activations", "none") not in ("none", None):
        raise InterpWidgetsError("this SAE normalises its inputs, which interp-widgets' SAEs do not reproduce.")
    metadata = getattr(cfg, "metadata", None)
    kwargs: dict[str, Any] = dict(
        hook_name=getattr(metadata, "hook_name", None) or getattr(cfg, "hook_name", None),
        model_name=getattr(metadata, "model_name", None) or getattr(cfg, "model_name", None),
        apply_b_dec_to_input=bool(getattr(cfg, "apply_b_dec_to_input", True)),
    )
    d_in, d_sae = int(sae.W_enc.shape[0]), int(sae.W_enc.shape[1])
    ours = TopKSAE(d_in, d_sae, k=int(cfg.k), **kwargs) if architecture == "topk" else ARCHITECTURES[architecture](d_in, d_sae, **kwargs)
    ours.load_state_dict({name: getattr(sae, name).detach().clone().float() for name in ours.state_dict()})
    return ours.to(sae.W_enc.device)


def read_config(path: str | Path) -> dict[str, Any]:
    """The config of an SAE directory, in one flat layout whatever version wrote it."""
    cfg_path = Path(path) / CFG_FILENAME
    if not cfg_path.exists():
        raise InterpWidgetsError(f"{cfg_path} does not exist: an SAE directory holds {CFG_FILENAME} and {WEIGHTS_FILENAME}.")
    raw = json.loads(cfg_path.read_text(encoding="utf-8"))
    metadata = raw.get("metadata") or {}
    flat = {**raw, **{k: v for k, v in metadata.items() if k not in raw}}
    flat["hook_name"] = flat.get("hook_name") or flat.get("hook_point")
    activation = flat.get("activation_fn") or flat.get("activation_fn_str")
    architecture = flat.get("architecture") or "standard"
    if activation == "topk" or architecture == "topk":
        architecture = "topk"
        flat["k"] = flat.get("k") or (flat.get("activation_fn_kwargs") or {}).get("k")
    flat["architecture"] = architecture
    return flat


def load_sae_from_disk(path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> SparseAutoencoder:
    """Load an SAE written by us or by SAELens."""
    path = Path(path)
    cfg = read_config(path)
    architecture = cfg["architecture"]
    if architecture not in ARCHITECTURES:
        raise InterpWidgetsError(
            f"{path} holds a {architecture!r} SAE; interp-widgets loads {sorted(ARCHITECTURES)}. "
            "Load it with sae_lens.SAE.load_from_disk and pass that object instead."
        )
    if cfg.get("normalize_activations", "none") not in ("none", None):
        raise InterpWidgetsError(
            f"{path} normalises its inputs ({cfg['normalize_activations']!r}), which this loader does not "
            "reproduce: load it with sae_lens.SAE.load_from_disk and pass that object instead."
        )
    weights_path = path / WEIGHTS_FILENAME
    if not weights_path.exists():
        raise InterpWidgetsError(f"{weights_path} does not exist.")
    state = load_file(str(weights_path))
    kwargs: dict[str, Any] = dict(
        hook_name=cfg.get("hook_name"),
        model_name=cfg.get("model_name"),
        apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)),
        device="meta",
    )
    d_in, d_sae = int(cfg["d_in"]), int(cfg["d_sae"])
    if architecture == "topk":
        sae = TopKSAE(d_in, d_sae, k=int(cfg["k"]), **kwargs)
    else:
        sae = ARCHITECTURES[architecture](d_in, d_sae, **kwargs)
    expected = {name: tuple(p.shape) for name, p in sae.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items() if name in expected}
    if found != expected:
        raise InterpWidgetsError(f"{weights_path} has weights {found}, but cfg.json describes {expected}.")
    sae.load_state_dict({name: state[name] for name in expected}, assign=True)
    target_dtype = dtype or getattr(torch, str(cfg.get("dtype", "float32")).removeprefix("torch."), torch.float32)
    sae.source = str(path)  # where it came from (shown by the `%load_ext interp_widgets` display)
    return sae.to(device=device, dtype=target_dtype)
