"""SAEs on disk in SAELens' format: a directory with `cfg.json` and `sae_weights.safetensors`.

We write SAELens 6's config layout (`architecture`, `d_in`, `d_sae`, `metadata.hook_name`, …),
so `sae_lens.SAE.load_from_disk(path)` reads our files, and we read theirs — version 6 and the
older flat layout (`hook_name`/`hook_point`, `activation_fn_str`) — without sae-lens installed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.model import ARCHITECTURES, SparseAutoencoder, TopKSAE

CFG_FILENAME = "cfg.json"
WEIGHTS_FILENAME = "sae_weights.safetensors"
SAELENS_VERSION = "6.0.0"  # the config layout we write
FLOAT_DTYPES = {"float32": torch.float32, "float": torch.float32, "float16": torch.float16, "half": torch.float16,
                "bfloat16": torch.bfloat16, "float64": torch.float64, "double": torch.float64}
"""The dtype names a cfg.json may hold (with or without `torch.`); nothing else is looked up on torch."""


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
    try:
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise InterpWidgetsError(f"{cfg_path} is not valid JSON ({error}): an SAE directory's {CFG_FILENAME} is SAELens' config.") from None
    metadata = raw.get("metadata") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(metadata or {}, dict):
        raise InterpWidgetsError(f"{cfg_path} is not a JSON object with an object 'metadata': it is not an SAE's {CFG_FILENAME}.")
    metadata = metadata or {}
    flat = {**raw, **{k: v for k, v in metadata.items() if k not in raw}}
    flat["hook_name"] = flat.get("hook_name") or flat.get("hook_point")
    activation = flat.get("activation_fn") or flat.get("activation_fn_str")
    architecture = flat.get("architecture") or "standard"
    if not isinstance(architecture, str):
        raise InterpWidgetsError(f"{cfg_path} has architecture {json.dumps(architecture)[:60]}, not a name: write e.g. \"standard\" or \"topk\".")
    if activation == "topk" or architecture == "topk":
        architecture = "topk"
        if flat.get("k") is None:  # k: 0 is a value (and an error below), not a missing k
            kwargs = flat.get("activation_fn_kwargs")
            flat["k"] = kwargs.get("k") if isinstance(kwargs, dict) else None
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
    d_in, d_sae = (_positive_int(cfg.get(name), name, path) for name in ("d_in", "d_sae"))
    target_dtype = config_dtype(cfg, path, dtype)
    k = _positive_int(cfg.get("k"), "k", path) if architecture == "topk" else None
    if k is not None and k > d_sae:
        raise InterpWidgetsError(f"{path / CFG_FILENAME} has k={k}, more than its d_sae={d_sae} features: a TopK SAE keeps 1 to d_sae of them.")
    weights_path = path / WEIGHTS_FILENAME
    if not weights_path.exists():
        raise InterpWidgetsError(f"{weights_path} does not exist.")
    try:
        state = load_file(str(weights_path))
    except Exception as error:  # safetensors' SafetensorError (a truncated or foreign file) has no public base class
        raise InterpWidgetsError(f"{weights_path} is not a readable safetensors file ({error}): save the SAE again.") from None
    kwargs: dict[str, Any] = dict(
        hook_name=cfg.get("hook_name"),
        model_name=cfg.get("model_name"),
        apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)),
        device="meta",
    )
    if architecture == "topk":
        sae = TopKSAE(d_in, d_sae, k=k, **kwargs)
    else:
        sae = ARCHITECTURES[architecture](d_in, d_sae, **kwargs)
    expected = {name: tuple(p.shape) for name, p in sae.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items() if name in expected}
    if found != expected:
        raise InterpWidgetsError(f"{weights_path} has weights {found}, but cfg.json describes {expected}.")
    sae.load_state_dict({name: state[name] for name in expected}, assign=True)
    sae.source = str(path)  # where it came from (shown by the `%load_ext interp_widgets` display)
    return sae.to(device=device, dtype=target_dtype)


def _positive_int(value: Any, name: str, path: Path) -> int:
    """A cfg.json count (`d_in`, `d_sae`, `k`): a positive JSON integer, else a clear error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        found = f"has no {name!r}" if value is None else f"has {name}={json.dumps(value)[:40]}, not a positive whole number"
        raise InterpWidgetsError(f"{path / CFG_FILENAME} {found}: fix the file (SAELens writes d_in, d_sae and, for a TopK SAE, k).")
    return value


def config_dtype(cfg: dict[str, Any], path: Path, dtype: torch.dtype | None = None) -> torch.dtype:
    """The dtype to load in: `dtype` if given, else the file's floating dtype (float64 loads as float32,
    with a warning: twice the memory for no gain in a model that runs in float32 or less)."""
    if dtype is not None:
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise InterpWidgetsError(f"dtype={dtype!r} is not a floating torch dtype: pass torch.float32, torch.float16 or torch.bfloat16.")
        return dtype
    name = cfg.get("dtype")
    if name is None:
        return torch.float32
    found = FLOAT_DTYPES.get(name.removeprefix("torch.")) if isinstance(name, str) else None
    if found is None:
        raise InterpWidgetsError(f"{path / CFG_FILENAME} has dtype {json.dumps(name)[:60]}, not a floating dtype: "
                                 f"write one of {sorted(n for n in FLOAT_DTYPES if n not in ('float', 'half', 'double'))}, "
                                 "or pass dtype=torch.float32.")
    if found == torch.float64:
        warnings.warn(f"{path / CFG_FILENAME} says float64: loading in float32 (half the memory); pass dtype=torch.float64 to keep float64.",
                      stacklevel=3)
        return torch.float32
    return found
