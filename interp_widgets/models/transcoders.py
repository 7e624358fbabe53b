"""The embedded models' transcoders (one per layer, for attribution graphs), loaded offline.

    transcoders = iw.load_transcoders("embedded")      # or "embedded-6l", or a folder of layer_L/ dirs
    card = transcoder_card("embedded")                 # recipe and metrics (scripts/embedded/train_transcoders.py)
"""

from __future__ import annotations

import json
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


def load_transcoders(name_or_path: str = EMBEDDED, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> list[Any]:
    """One transcoder per layer, in layer order (stored in fp16, loaded as `dtype`)."""
    from interp_widgets.sae.transcoder import load_transcoder

    path = transcoder_dir(name_or_path)
    layers = sorted((int(p.name.removeprefix("layer_")), p) for p in path.glob("layer_*") if p.is_dir())
    if [layer for layer, _ in layers] != list(range(len(layers))):
        raise InterpWidgetsError(f"{path} must hold layer_0 ... layer_N without gaps, found {[p.name for _, p in layers]}.")
    return [load_transcoder(p, device=device, dtype=dtype) for _, p in layers]


def transcoder_card(name_or_path: str = EMBEDDED) -> dict[str, Any]:
    """The recipe and metrics written next to the transcoders (`card.json`)."""
    path = transcoder_dir(name_or_path) / "card.json"
    if not path.exists():
        raise InterpWidgetsError(f"{path} does not exist: " + TRAIN_HINT.format(model=name_or_path) + ".")
    return json.loads(path.read_text())
