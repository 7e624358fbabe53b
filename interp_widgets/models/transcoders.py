"""Transcoders for attribution graphs, one per layer (or one cross-layer transcoder), loaded as published.

    transcoders = iw.load_transcoders("embedded")       # ours, offline ("embedded-6l" too)
    transcoders = iw.load_transcoders("path/to/set")    # a circuit-tracer set or CLT (config.yaml), SAELens
                                                        # transcoder directories (layer_<l>/cfg.json), or ours
    transcoders = iw.load_transcoders("hf://mwhanna/qwen3-0.6b-transcoders")  # the hub, where reachable
    card = transcoder_card("embedded")                  # recipe and metrics (scripts/embedded/train_transcoders.py)

The formats and their activation conventions: `interp_widgets.sae.transcoder_files`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models.loaders import EMBEDDED, EMBEDDED_MODELS, embedded_dir

TRAIN_HINT = "train them with scripts/embedded/train_transcoders.py --model {model}"


def transcoder_dir(name_or_path: str) -> Path:
    """The folder holding `layer_0/`, `layer_1/`, ...: an embedded model's, or a path."""
    if name_or_path in EMBEDDED_MODELS:
        path = embedded_dir(name_or_path) / "transcoders"
        if not (path / "layer_0").is_dir():
            raise InterpWidgetsError(f"the {name_or_path} model's transcoders are not in this installation: " + TRAIN_HINT.format(model=name_or_path) + ".")
        return path
    path = Path(name_or_path).expanduser()
    if not (path / "layer_0").is_dir():
        raise InterpWidgetsError(f"{name_or_path!r} is neither an embedded model ({', '.join(EMBEDDED_MODELS)}) nor a folder with "
                                 "layer_0/, layer_1/, ... transcoder directories.")
    return path


def load_transcoders(name_or_path: str = EMBEDDED, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> Any:
    """One transcoder per layer in layer order, or a `CrossLayerTranscoder` (indexable by layer).

    `name_or_path`: an embedded model's name; a directory holding a circuit-tracer transcoder set or
    cross-layer transcoder (`config.yaml`), per-layer SAELens transcoder directories, or ours
    (`layer_<l>/`); a hub repository (`hf://owner/name`, `owner/name`) where the hub is reachable.
    `dtype`: None keeps the files' dtypes (ours: float32)."""
    if name_or_path in EMBEDDED_MODELS:
        return _ours(transcoder_dir(name_or_path), device, dtype or torch.float32)
    path = Path(name_or_path).expanduser()
    hub_name = name_or_path.startswith("hf://") or (name_or_path.count("/") <= 1 and not name_or_path.startswith((".", "/", "~"))
                                                     and not path.exists())
    if not path.is_dir():
        if not hub_name:
            raise InterpWidgetsError(f"{name_or_path!r} is not a folder: give a transcoder folder, an embedded model's name "
                                     f"({', '.join(EMBEDDED_MODELS)}) or a hub repository (hf://owner/name).")
        path = _hub_folder(name_or_path)
    if (path / "config.yaml").is_file():
        return _circuit_tracer(path, device, dtype)
    folders = sorted(p for p in path.iterdir() if (p / "cfg.json").is_file())
    if not folders:
        raise InterpWidgetsError(f"{path} holds no transcoders: a circuit-tracer set has config.yaml; SAELens' and ours "
                                 "are folders with cfg.json (layer_0/, layer_1/, ...).")
    if _is_ours(folders[0]):
        return _ours(path, device, dtype or torch.float32)
    from interp_widgets.sae.transcoder_files import read_saelens_transcoder

    loaded = sorted((read_saelens_transcoder(folder, device, dtype) for folder in folders), key=lambda tc: tc.layer)
    return _in_layer_order(path, loaded)


def _in_layer_order(path: Path, loaded: list[Any]) -> list[Any]:
    layers = [tc.layer for tc in loaded]
    if layers != list(range(len(loaded))):
        raise InterpWidgetsError(f"{path} holds transcoders for layers {layers}: attribution needs one for each layer 0 .. N, once.")
    return loaded


def _is_ours(folder: Path) -> bool:
    try:
        return json.loads((folder / "cfg.json").read_text(encoding="utf-8")).get("kind") == "transcoder"
    except (OSError, ValueError, AttributeError):
        return False


def _ours(path: Path, device: str | torch.device, dtype: torch.dtype) -> list[Any]:
    from interp_widgets.sae.transcoder import load_transcoder

    layers = sorted((int(p.name.removeprefix("layer_")), p) for p in path.glob("layer_*") if p.is_dir() and p.name[6:].isdigit())
    if [layer for layer, _ in layers] != list(range(len(layers))) or not layers:
        raise InterpWidgetsError(f"{path} must hold layer_0 ... layer_N without gaps, found {[p.name for _, p in layers]}.")
    return [load_transcoder(p, device=device, dtype=dtype) for _, p in layers]


def _circuit_tracer(path: Path, device: str | torch.device, dtype: torch.dtype | None) -> Any:
    """A circuit-tracer transcoder set or cross-layer transcoder from its `config.yaml`."""
    import yaml

    from interp_widgets.sae.transcoder_files import read_circuit_tracer_clt, read_circuit_tracer_layer

    try:
        config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise InterpWidgetsError(f"{path / 'config.yaml'} is not readable YAML ({error}).") from None
    if not isinstance(config, dict):
        raise InterpWidgetsError(f"{path / 'config.yaml'} must be a mapping with model_kind, feature_input_hook and feature_output_hook.")
    kind = config.get("model_kind")
    hooks = config.get("feature_input_hook"), config.get("feature_output_hook")
    if kind not in ("transcoder_set", "cross_layer_transcoder") or not all(isinstance(h, str) for h in hooks):
        raise InterpWidgetsError(f"{path / 'config.yaml'}: model_kind must be transcoder_set or cross_layer_transcoder (got {kind!r}), "
                                 "with feature_input_hook and feature_output_hook as block-relative hook names.")
    activation, k = config.get("activation"), config.get("k")
    if activation not in (None, "relu", "jumprelu", "topk") or (activation == "topk" and not (isinstance(k, int) and k > 0)):
        raise InterpWidgetsError(f"{path / 'config.yaml'}: activation {activation!r} with k {k!r}; a TopK set says activation: topk and k: <positive int>.")
    if kind == "cross_layer_transcoder":
        folder = path / config["subfolder"] if config.get("subfolder") else path
        return read_circuit_tracer_clt(folder, None, activation, k, *hooks, device=device, dtype=dtype)
    files = config.get("transcoders")
    if files is None:
        files = sorted((p for p in path.glob("layer_*.safetensors") if p.stem[6:].isdigit()), key=lambda p: int(p.stem[6:]))
    if not isinstance(files, list) or not files:
        raise InterpWidgetsError(f"{path / 'config.yaml'}: transcoders must list one file per layer (or the folder hold layer_<l>.safetensors).")
    loaded = [read_circuit_tracer_layer(_local_file(path, entry), layer, activation, k, *hooks, device=device, dtype=dtype)
              for layer, entry in enumerate(files)]
    return _in_layer_order(path, loaded)


def _local_file(base: Path, entry: Any) -> Path:
    """A config.yaml's file entry: a path (relative to the config) or a hub URI hf://owner/name/file."""
    if not isinstance(entry, (str, Path)):
        raise InterpWidgetsError(f"{base / 'config.yaml'}: a transcoder entry must be a path or an hf:// URI, got {entry!r}.")
    entry = str(entry)
    if entry.startswith("hf://"):
        parts = entry[5:].split("/")
        repo, file = "/".join(parts[:2]).split("@")[0], "/".join(parts[2:])
        if not file:
            raise InterpWidgetsError(f"{entry!r} names no file: write hf://owner/name/layer_0.safetensors.")
        return _hub_folder(repo, [file]) / file
    local = Path(entry).expanduser()
    return local if local.is_absolute() else base / local


def _hub_folder(name: str, files: list[str] | None = None) -> Path:
    """A hub repository's files (cached, or downloaded where the hub is reachable), or a clear error."""
    from interp_widgets.models.loaders import hub_reachable

    repo = name.removeprefix("hf://").split("@")[0].strip("/")
    if "/" not in repo and not Path(name).suffix:  # a release name, like SAELens' gemma-scope-2b-pt-transcoders
        reach = "" if hub_reachable() else " (and the model hub cannot be reached from here)"
        raise InterpWidgetsError(f"{name!r} is a release name, not a folder{reach}: load the release's transcoders where the hub is "
                                 "reachable (SAELens: SAE.from_pretrained(release, sae_id) per layer, then save_pretrained into "
                                 "layer_<l>/ folders) and pass the folder; hub repositories load as hf://owner/name.")
    if repo.count("/") != 1:
        raise InterpWidgetsError(f"{name!r} is neither a folder nor a hub repository (owner/name): give a transcoder folder, "
                                 f"an embedded model's name ({', '.join(EMBEDDED_MODELS)}) or hf://owner/name.")
    from huggingface_hub import snapshot_download

    patterns = files or ["*.yaml", "*.json", "*.safetensors"]
    try:
        return Path(snapshot_download(repo, allow_patterns=patterns, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached: ask the hub, if it answers
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not hub_reachable():
        raise InterpWidgetsError(f"the transcoders {name!r} are not in the local cache and the model hub cannot be reached from here: "
                                 "download them where it can be reached and pass the folder, or use iw.load_transcoders('embedded').")
    try:
        return Path(snapshot_download(repo, allow_patterns=patterns))
    except Exception as error:  # noqa: BLE001 - any hub failure becomes one clear message
        raise InterpWidgetsError(f"the hub did not give the transcoders {name!r} ({type(error).__name__}: {error}).") from None


def transcoder_card(name_or_path: str = EMBEDDED) -> dict[str, Any]:
    """The recipe and metrics written next to the transcoders (`card.json`)."""
    path = transcoder_dir(name_or_path) / "card.json"
    if not path.exists():
        raise InterpWidgetsError(f"{path} does not exist: " + TRAIN_HINT.format(model=name_or_path) + ".")
    return json.loads(path.read_text())
