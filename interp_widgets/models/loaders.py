"""Loading models and SAEs: the embedded default, local files, or the model hub where reachable.

- `load_model()` — the small model shipped in the package (trained by scripts/embedded/), offline:
  2 layers, rotary positions. `load_model("embedded-6l")` is the deeper one: 6 layers, learned
  absolute positions (GPT-2 style), for the residual-stream, logit-lens and positional lessons.
- `load_model("path/to/dir")` — a saved Hugging Face model directory, or one in our own format.
- `load_model("gpt2")`, `load_model("EleutherAI/pythia-70m")` — through `TransformerBridge` from
  the Hugging Face cache or hub. Where the hub cannot be reached, a clear error comes within
  about two seconds instead of a long retry loop.
- `load_sae()` — SAEs shipped with the embedded model (`"1x"`, `"2x"`, `"4x"`, `"8x"`; the 6-layer
  model's as `"embedded-6l/4x"` or `load_sae("4x", model="embedded-6l")`), a local
  SAELens-format directory, or an SAELens release (`load_sae(release, sae_id)`, needs sae-lens).
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import os
import socket
import tempfile
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from interp_widgets.errors import InterpWidgetsError

EMBEDDED = "embedded"
# name -> (package folder, model_name the loaded model carries)
EMBEDDED_MODELS = {
    "embedded": ("embedded", "interp-widgets-embedded"),
    "embedded-2l": ("embedded", "interp-widgets-embedded"),
    "embedded-6l": ("embedded_6l", "interp-widgets-embedded-6l"),
}
EMBEDDED_SAE_SIZES = ("1x", "2x", "4x", "8x")
DEFAULT_SAE = "4x"
HUB_TIMEOUT_S = 1.5


def embedded_dir(model: str = EMBEDDED) -> Path:
    """The package folder of an embedded model ("embedded", "embedded-2l" or "embedded-6l")."""
    if model not in EMBEDDED_MODELS:
        raise InterpWidgetsError(f"{model!r} is not an embedded model: the embedded ones are {', '.join(EMBEDDED_MODELS)}.")
    return Path(str(resources.files("interp_widgets.models").joinpath(EMBEDDED_MODELS[model][0])))


_LAST_MODEL: list[Any] = []  # a weak reference to the model load_model returned last (for `%explore`)


def last_loaded_model() -> Any:
    """The model `load_model` returned most recently, while something still holds it (else None)."""
    return _LAST_MODEL[0]() if _LAST_MODEL else None


def _remember_last(load: Any) -> Any:
    import functools
    import weakref

    @functools.wraps(load)
    def remembered(*args: Any, **kwargs: Any) -> Any:
        model = load(*args, **kwargs)
        _LAST_MODEL[:] = [weakref.ref(model)]
        return model

    return remembered


@_remember_last
def load_model(name_or_path: str = "default", device: str | torch.device | None = None, *,
               device_map: str | dict[str, str | int] | None = None, dtype: torch.dtype | None = None,
               max_memory: dict[str | int, str | int] | None = None, offload_folder: str | None = None) -> Any:
    """A `TransformerBridge`: an embedded model ("embedded" = "embedded-2l", the default, or
    "embedded-6l"), a local directory, or a hub model where reachable.

    A Hugging Face model larger than one device: `device_map` ("auto", "balanced", "sequential" or
    `{module: device}`, as in `from_pretrained`) and `max_memory` go to Hugging Face's loading, where
    accelerate places each block on a GPU, the CPU or disk (`offload_folder`) and moves activations
    between them during the forward pass. `dtype` (e.g. `torch.bfloat16`) is the weights' dtype.
    """
    name = EMBEDDED if name_or_path == "default" else name_or_path
    settle_imports()
    placement = _Placement(device, device_map, dtype, max_memory, offload_folder)
    if name in EMBEDDED_MODELS:
        return placement.native(load_native_dir(embedded_dir(name), device, missing_hint=f"the embedded model {name!r} is not in this installation "
                                "(see the README's Models section): use iw.models.toy_model() for a random-weight model, "
                                "load a local model directory, or train it with scripts/embedded/recipe.sh / recipe6.sh."))
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if _is_native_dir(path):
            return placement.native(load_native_dir(path, device))
        return _boot_transformers(str(path), placement)
    if path.suffix or name_or_path.startswith((".", "/", "~")):
        raise InterpWidgetsError(f"{name_or_path!r} does not exist: give a model directory, a hub name like 'gpt2', or nothing for the embedded model.")
    return _boot_transformers(_hub_snapshot(name_or_path), placement)


def load_native_dir(path: Path, device: str | torch.device | None = None, missing_hint: str | None = None) -> Any:
    """A model saved as `config.json` + `model.safetensors` (fp16) + `tokenizer/` (our format)."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from interp_widgets.models.bridge import boot_from_config

    if not _is_native_dir(path):
        raise InterpWidgetsError(missing_hint or f"{path} has no config.json and model.safetensors of an interp-widgets model.")
    config = json.loads((path / "config.json").read_text())["config"]
    # with add_bos_token set, transformer-lens keeps this tokenizer instead of loading it a second time
    tokenizer = AutoTokenizer.from_pretrained(str(path / "tokenizer"), add_bos_token=True)
    with _no_weight_init():  # every weight is overwritten from the file below
        model = boot_from_config({**config, "init_weights": False}, tokenizer, device=str(device) if device else None)
    weights = load_file(str(path / "model.safetensors"))
    native = model.original_model
    target = native.state_dict()  # the bridge lists some tensors twice, under alias names; detached views of the parameters
    state = {key: weights[plain] for key in target if (plain := key.replace("._original_component", "")) in weights}
    loaded = {target[key].data_ptr() for key in state}
    uncovered = [(name.replace("._original_component", ""), p) for name, p in native.named_parameters() if p.data_ptr() not in loaded]
    unused = set(weights) - {key.replace("._original_component", "") for key in state}
    # transformer-lens 3.9's native model has an unembedding bias parameter that our files lack (4.x
    # keeps it as a zero buffer): a bias the file lacks is zero, an all-zero one left over loses nothing.
    missing = [name for name, _ in uncovered if not name.endswith("bias")]
    extra = [name for name in unused if not (name.endswith("bias") and not weights[name].any())]
    misshapen = [f"{key} {list(state[key].shape)} vs {list(target[key].shape)}" for key in state if state[key].shape != target[key].shape]
    if missing or extra or misshapen:
        raise InterpWidgetsError(
            f"{path / 'model.safetensors'} does not match config.json (parameters without weights: {missing[:3]}; "
            f"weights without parameters: {extra[:3]}; shapes that differ: {misshapen[:3]})."
        )
    with torch.no_grad():
        # each tensor once (aliases share it), cast from the file's fp16 while copying: no float32 copies in between
        copied: set[int] = set()
        for key, weight in state.items():
            if target[key].data_ptr() not in copied:
                copied.add(target[key].data_ptr())
                target[key].copy_(weight)
        for _, bias in uncovered:
            bias.zero_()
    shipped = {embedded_dir(name).resolve(): model_name for name, (_, model_name) in EMBEDDED_MODELS.items()}
    model.cfg.model_name = shipped.get(Path(path).resolve(), Path(path).name)
    return model


def load_sae(name_or_path: str = "default", sae_id: str | None = None, device: str | torch.device = "cpu",
             dtype: torch.dtype | None = None, model: str = EMBEDDED) -> Any:
    """An SAE: embedded (`"default"` = 4x, or `"1x"`.. `"8x"`; of the model `model`, or named with it
    as in `"embedded-6l/4x"`), a local directory, or an SAELens release.

    The embedded SAEs are stored in fp16 and loaded as float32 unless `dtype` says otherwise.
    """
    from interp_widgets.sae.io import load_sae_from_disk

    name = DEFAULT_SAE if name_or_path == "default" else name_or_path
    prefix, _, size = name.partition("/")
    if name in EMBEDDED_MODELS:  # a model's name alone: its default SAE
        model, name = name, DEFAULT_SAE
    elif prefix in EMBEDDED_MODELS and size:
        model, name = prefix, size
    if name in EMBEDDED_SAE_SIZES and sae_id is None:
        path = embedded_dir(model) / "saes" / name
        if not path.is_dir():
            raise InterpWidgetsError(f"the {model} model's {name} SAE is not in this installation: train it with scripts/embedded/train_saes.py.")
        return load_sae_from_disk(path, device=device, dtype=dtype or torch.float32)
    path = Path(name).expanduser()
    if path.is_dir():
        return load_sae_from_disk(path, device=device, dtype=dtype)
    if sae_id is None:
        raise InterpWidgetsError(
            f"{name!r} is neither an embedded SAE ({', '.join(EMBEDDED_SAE_SIZES)}) nor a directory; for an SAELens "
            "release pass its id too: load_sae('gpt2-small-res-jb', 'blocks.8.hook_resid_pre')."
        )
    try:
        from sae_lens import SAE
    except ImportError:
        raise InterpWidgetsError("loading SAELens releases needs sae-lens: pip install sae-lens") from None
    _require_hub(f"the SAELens release {name!r}")
    return SAE.from_pretrained(name, sae_id, device=str(device))


def feature_catalogue(model: str = EMBEDDED) -> list[dict[str, Any]]:
    """Readable features of an embedded model's SAEs: concept, SAE size, feature index, AUROC, how it was checked."""
    path = embedded_dir(model) / "saes" / "catalogue.json"
    if not path.exists():
        raise InterpWidgetsError(f"the {model} model's SAE feature catalogue is not in this installation.")
    return json.loads(path.read_text())


def validation_tokens(context: int = 128, max_tokens: int | None = None, bos: int | None = None) -> torch.Tensor:
    """The embedded corpus's held-out split as `[n_sequences, context]` token ids, each sequence led by BOS.

    The stream (every source's validation documents, tokenized; `validation_sources.json` says
    which source is where) is cut into windows of `context - 1` tokens, so no window is padded;
    `max_tokens` keeps the first windows up to that many tokens.
    """
    import numpy as np

    path = embedded_dir() / "validation_tokens.npy"
    if not path.exists():
        raise InterpWidgetsError("the embedded validation tokens are not in this installation: "
                                 "make them with scripts/embedded/validation_tokens.py, or pass your own texts or tokens.")
    if context < 2:
        raise InterpWidgetsError(f"context must be at least 2 (BOS and one token), got {context}.")
    stream = torch.from_numpy(np.load(path).astype(np.int64))
    if bos is None:
        bos = int(stream[-1])  # every document ends with BOS/EOS
    n = stream.numel() // (context - 1)
    if max_tokens is not None:
        n = min(n, max(1, max_tokens // context))
    body = stream[: n * (context - 1)].reshape(n, context - 1)
    return torch.cat([torch.full((n, 1), bos), body], dim=1)



# ---- a fast cold load ---------------------------------------------------------------------------

_SETTLED: list[bool] = []


def settle_imports() -> None:
    """Import transformer-lens' bridge, then take what the imports left alive out of the garbage collector's sight.

    The bridge imports transformers' modeling code, which imports torch.distributed and
    torch._dynamo: about 400,000 long-lived objects (functions, classes, sympy tables). Each full
    cyclic collection walks all of them (0.3-1 s on a CPU), and the burst of objects a model load
    allocates triggers one, inside the load or in the next forward passes. `gc.freeze()` (once per
    process) moves every object alive now to the permanent generation, which collections skip;
    reference counting still frees them. INTERP_WIDGETS_GC_FREEZE=0 turns this off.
    """
    if _SETTLED:
        return
    import transformer_lens.model_bridge  # noqa: F401  (the import whose objects are frozen)

    if os.environ.get("INTERP_WIDGETS_GC_FREEZE", "1") != "0":
        gc.freeze()
    _SETTLED.append(True)


def _no_weight_init() -> Any:
    """A context in which torch's initialisers do nothing (transformers' own), or a no-op where it is missing."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:
        try:
            from transformers.modeling_utils import no_init_weights  # transformers 4.x
        except ImportError:
            return contextlib.nullcontext()
    return no_init_weights()


# ---- the hub ----------------------------------------------------------------------------------


def _is_native_dir(path: Path) -> bool:
    return (path / "model.safetensors").exists() and (path / "config.json").exists() and (path / "tokenizer").is_dir()


@dataclass(frozen=True)
class _Placement:
    """Where and in which dtype load_model puts the weights: one device, or a Hugging Face device map."""

    device: str | torch.device | None
    device_map: str | dict[str, str | int] | None
    dtype: torch.dtype | None
    max_memory: dict[str | int, str | int] | None
    offload_folder: str | None

    def __post_init__(self) -> None:
        if self.device is not None and self.device_map is not None:
            raise InterpWidgetsError("give either device= (the whole model on one device) or device_map= (split across devices), not both.")
        if self.dtype is not None and not (isinstance(self.dtype, torch.dtype) and self.dtype.is_floating_point):
            raise InterpWidgetsError(f"dtype must be a floating torch dtype such as torch.float16 or torch.bfloat16, got {self.dtype!r}.")
        if self.device_map is None and (self.max_memory is not None or self.offload_folder is not None):
            raise InterpWidgetsError("max_memory and offload_folder only apply with a device_map: pass device_map='auto' too.")

    def native(self, model: Any) -> Any:
        """An embedded / interp-widgets-format model: one device always; cast if a dtype was asked for."""
        if self.device_map is not None:
            raise InterpWidgetsError("device_map splits Hugging Face models across devices; this model is in the interp-widgets "
                                     "format and fits on one: load it with device='cuda' (or 'cpu') instead.")
        if self.dtype is not None:
            model.to(self.dtype)
            model.cfg.dtype = self.dtype
        return model

    def boot_options(self, accepted: set[str]) -> dict[str, Any]:
        """Keyword arguments for `TransformerBridge.boot_transformers`, whose parameters are `accepted`."""
        options: dict[str, Any] = {"device": str(self.device)} if self.device else {}
        if self.dtype is not None:
            options["dtype"] = self.dtype
        if self.device_map is None:
            return options
        try:
            import accelerate  # noqa: F401  (Hugging Face's device_map loading needs it)
        except ImportError:
            raise InterpWidgetsError("device_map needs accelerate: pip install 'interp-widgets[multi-device]'.") from None
        targets = set(self.device_map.values()) if isinstance(self.device_map, dict) else set()
        if "disk" in targets and "offload_folder" not in accepted:
            raise InterpWidgetsError("this transformer-lens version's TransformerBridge refuses disk offload (it supports it from 4.x): "
                                     "map every module to a GPU or the CPU, or upgrade transformer-lens.")
        options["device_map"] = self.device_map
        if self.max_memory is not None:
            options["max_memory"] = self.max_memory
        if "disk" in targets or self.offload_folder is not None:
            options["offload_folder"] = self.offload_folder or tempfile.mkdtemp(prefix="interp_widgets_offload_")
        return options


def _boot_transformers(name_or_path: str, placement: _Placement) -> Any:
    from transformer_lens.model_bridge import TransformerBridge

    accepted = set(inspect.signature(TransformerBridge.boot_transformers).parameters)
    try:
        model = TransformerBridge.boot_transformers(name_or_path, **placement.boot_options(accepted))
    except ValueError as error:
        if placement.device_map is None:
            raise
        # transformer-lens refuses some maps (meta targets; CPU or disk offload mixed with GPUs)
        raise InterpWidgetsError(f"TransformerBridge refused device_map={placement.device_map!r}: {error} Use a map onto GPUs "
                                 "only (device_map='auto' with max_memory for the GPUs), or onto the CPU and disk only.") from None
    model.eval()
    return model


def _hub_snapshot(name: str) -> str:
    """A cached copy of a hub model if there is one; otherwise the name, once the hub answers."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception:
        _require_hub(f"the model {name!r}")
        return name


def _require_hub(what: str) -> None:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not hub_reachable():
        raise InterpWidgetsError(
            f"{what} is not in the local cache and the model hub cannot be reached from here. Use the embedded "
            "model (load_model() / load_sae()), or a local directory saved where the hub is reachable."
        )


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub opens within `timeout` seconds (DNS included)."""
    from huggingface_hub import constants

    parsed = urlparse(constants.ENDPOINT)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
