"""Published transcoders, loaded as their files define them: circuit-tracer's transcoder sets and
cross-layer transcoders, and SAELens' transcoder directories.

One layer's transcoder reads the MLP's input `x [.., d]` and predicts its output:

    pre   = x @ W_enc + b_enc                         [.., F]   (W_enc kept here as [d, F])
    f     = activation(pre)                           [.., F]
    y_hat = f @ W_dec + b_dec  (+ x @ W_skip.T)       [.., d]   the skip term: a skip transcoder

The activation follows the file's convention, because the conventions differ at the edges:
- "relu":      max(pre, 0)
- "jumprelu":  pre * (pre > threshold), strict, no ReLU first (circuit-tracer)
- "jumprelu_relu_first": ReLU(pre) * (pre > threshold) (SAELens' JumpReLU transcoders)
- "topk":      the k largest pre-activations kept as they are, negative ones too when fewer than
               k are positive (circuit-tracer's TopK sets)
- "topk_relu": the k largest of ReLU(pre) (ours, `sae/transcoder.py`)

A cross-layer transcoder (CLT) has one encoder per layer, and a feature of layer l writes to layer
l and every later one: `W_dec_l [F, L-l, d]`, column j to layer l+j, so layer l's output is
`sum_{s<=l} f_s @ W_dec_s[:, l-s] + b_dec_l`. Decoders are read lazily, by rows, from the
safetensors file (`decoder_rows(ids)`), as circuit-tracer does: a published CLT's decoders can be
far larger than memory. Encoders are read whole (every feature's pre-activation is needed).

Files (circuit-tracer 0.5.0): a directory with `config.yaml` (`model_kind: transcoder_set` or
`cross_layer_transcoder`, `feature_input_hook`, `feature_output_hook`, optional `scan`,
`transcoders:` the per-layer files, optional `activation: topk` with `k`); a set's layer file holds
`W_enc [F, d]`, `W_dec [F, d]`, `b_enc [F]`, `b_dec [d]`, optional `W_skip [d, d]` and
`activation_function.threshold [F]`, nothing else; a CLT's `W_enc_<l>.safetensors` holds
`W_enc_<l> [F, d]`, `b_enc_<l>`, `b_dec_<l>`, optional `threshold_<l>`, and `W_dec_<l>.safetensors`
holds `W_dec_<l> [F, L-l, d]`. SAELens: `cfg.json` + `sae_weights.safetensors` with `W_enc [d, F]`,
`W_dec [F, d]`, `b_enc`, `b_dec`, optional `threshold`, `W_skip [d_out, d_in]`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from interp_widgets.errors import InterpWidgetsError

ACTIVATIONS = ("relu", "jumprelu", "jumprelu_relu_first", "topk", "topk_relu")
MLP_INPUT_HOOKS = ("mlp.hook_in", "ln2.hook_out", "hook_mlp_in")  # block-relative names of the MLP's input
MLP_OUTPUT_HOOKS = ("hook_mlp_out", "mlp.hook_out")


def activate(pre: Tensor, activation: str, threshold: Tensor | None = None, k: int | None = None) -> Tensor:
    """Feature activations from pre-activations `[.., F]`, in one of `ACTIVATIONS`' conventions."""
    if activation == "relu":
        return pre.clamp_min(0)
    if activation == "jumprelu":
        return pre * (pre > threshold)
    if activation == "jumprelu_relu_first":
        return pre.clamp_min(0) * (pre > threshold)
    if activation in ("topk", "topk_relu"):
        values = pre.clamp_min(0) if activation == "topk_relu" else pre
        top = values.topk(min(int(k), values.shape[-1]), dim=-1)
        return torch.zeros_like(values).scatter(-1, top.indices, top.values)
    raise InterpWidgetsError(f"unknown activation {activation!r}: one of {', '.join(ACTIVATIONS)}.")


class DecoderRows:
    """A decoder matrix on disk, `[F, ...]`, read by rows when asked (safetensors' get_slice)."""

    def __init__(self, path: Path, key: str, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> None:
        from safetensors import safe_open

        self.path, self.key, self.device, self.dtype = Path(path), key, device, dtype
        with safe_open(str(self.path), "pt") as handle:
            if key not in handle.keys():
                raise InterpWidgetsError(f"{self.path} has no {key!r}: the decoder is missing.")
            self.shape = tuple(handle.get_slice(key).get_shape())
        self._whole: Tensor | None = None

    def rows(self, ids: Tensor | Sequence[int]) -> Tensor:
        """Rows `ids` of the matrix, `[m, ...]`."""
        from safetensors import safe_open

        ids = torch.as_tensor(ids, dtype=torch.long).flatten()
        if self._whole is not None:
            return self._whole[ids]
        if not ids.numel():
            return torch.zeros(0, *self.shape[1:], dtype=self.dtype or torch.float32, device=self.device)
        unique, back = ids.unique(return_inverse=True)
        with safe_open(str(self.path), "pt") as handle:
            rows = handle.get_slice(self.key)[unique.tolist()]
        return rows.to(device=self.device, dtype=self.dtype or rows.dtype)[back]

    def whole(self) -> Tensor:
        """The full matrix (read once, then kept)."""
        if self._whole is None:
            from safetensors import safe_open

            with safe_open(str(self.path), "pt") as handle:
                whole = handle.get_tensor(self.key)
            self._whole = whole.to(device=self.device, dtype=self.dtype or whole.dtype)
        return self._whole


class LayerTranscoder(nn.Module):
    """One layer's published transcoder (see the module docstring): `forward(x)` predicts the MLP output.

    `W_enc [d, F]`, `b_enc [F]`, `b_dec [d]`, `W_skip [d, d]` or None; the decoder `W_dec [F, d]` is
    read from disk on first use (`decoder_rows(ids)` reads only those rows)."""

    def __init__(self, layer: int, W_enc: Tensor, b_enc: Tensor, b_dec: Tensor, decoder: DecoderRows | Tensor, activation: str,
                 threshold: Tensor | None = None, k: int | None = None, W_skip: Tensor | None = None,
                 input_hook: str = "mlp.hook_in", output_hook: str = "hook_mlp_out", source: str = "") -> None:
        super().__init__()
        self.layer, self.activation, self.k, self.source = layer, activation, k, source
        self.input_hook, self.output_hook = input_hook, output_hook
        self.W_enc, self.b_enc, self.b_dec = nn.Parameter(W_enc, False), nn.Parameter(b_enc, False), nn.Parameter(b_dec, False)
        self.threshold = None if threshold is None else nn.Parameter(threshold, False)
        self.W_skip = None if W_skip is None else nn.Parameter(W_skip, False)
        self.decoder = decoder if isinstance(decoder, DecoderRows) else None
        self._W_dec = decoder if isinstance(decoder, Tensor) else None
        self.d_in, self.d_sae = W_enc.shape

    @property
    def W_dec(self) -> Tensor:
        """The whole decoder `[F, d]` (read from disk on first use)."""
        return self._W_dec if self.decoder is None else self.decoder.whole()

    def decoder_rows(self, ids: Tensor | Sequence[int]) -> Tensor:
        """Decoder rows of features `ids`, `[m, d]`, without reading the others."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        return self._W_dec[ids] if self.decoder is None else self.decoder.rows(ids)

    def pre_activations(self, x: Tensor) -> Tensor:
        return x @ self.W_enc + self.b_enc

    def encode(self, x: Tensor) -> Tensor:
        return activate(self.pre_activations(x), self.activation, self.threshold, self.k)

    def decode(self, features: Tensor) -> Tensor:
        """`features @ W_dec + b_dec`, reading only the decoder rows of features that are active somewhere."""
        active = features.reshape(-1, features.shape[-1]).ne(0).any(0).nonzero()[:, 0]
        return features[..., active] @ self.decoder_rows(active).to(features.dtype) + self.b_dec

    def skip(self, x: Tensor) -> Tensor:
        """The skip term `x @ W_skip.T` (zero without a skip connection)."""
        return x @ self.W_skip.T if self.W_skip is not None else torch.zeros_like(x[..., : self.b_dec.shape[0]])

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)) + self.skip(x)

    def extra_repr(self) -> str:
        skip = ", skip" if self.W_skip is not None else ""
        return f"layer={self.layer}, d_model={self.d_in}, d_transcoder={self.d_sae}, activation={self.activation}{skip}"


class CrossLayerTranscoder(nn.Module):
    """A cross-layer transcoder: per layer an encoder, and decoders writing to that layer and every later one.

    Indexing gives layer l's part (`clt[l]`, a `CrossLayerPart`); `len(clt)` is the number of layers."""

    def __init__(self, parts: Sequence["CrossLayerPart"], source: str = "") -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.source = source

    def __len__(self) -> int:
        return len(self.parts)

    def __getitem__(self, layer: int) -> "CrossLayerPart":
        return self.parts[layer]

    def __iter__(self):
        return iter(self.parts)

    def encode(self, layer: int, x: Tensor) -> Tensor:
        return self.parts[layer].encode(x)

    def reconstruct(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        """Every layer's predicted MLP output `[.., d]` from every layer's MLP input."""
        outputs = [part.b_dec.expand_as(x).clone() for part, x in zip(self.parts, inputs)]
        for source, (part, x) in enumerate(zip(self.parts, inputs)):
            features = part.encode(x)
            active = features.reshape(-1, features.shape[-1]).ne(0).any(0).nonzero()[:, 0]
            rows = part.decoder_rows(active).to(features.dtype)  # [m, L - source, d]
            for offset in range(rows.shape[1]):
                outputs[source + offset] = outputs[source + offset] + features[..., active] @ rows[:, offset]
        return outputs

    def extra_repr(self) -> str:
        return f"layers={len(self)}, d_model={self.parts[0].d_in}, features per layer={self.parts[0].d_sae}"


class CrossLayerPart(LayerTranscoder):
    """Layer l's encoder of a cross-layer transcoder; its decoder `[F, L-l, d]` writes to layers l .. L-1.

    `decode` and `forward` give only what this layer's features write to layer l itself; the whole
    prediction of a layer's output needs every earlier layer's features (`CrossLayerTranscoder.reconstruct`)."""

    @property
    def n_outputs(self) -> int:
        return int(self.decoder.shape[1] if self.decoder is not None else self._W_dec.shape[1])

    def decode(self, features: Tensor) -> Tensor:
        active = features.reshape(-1, features.shape[-1]).ne(0).any(0).nonzero()[:, 0]
        return features[..., active] @ self.decoder_rows(active)[:, 0].to(features.dtype) + self.b_dec


# ---- reading files -----------------------------------------------------------------------------


def _tensors(path: Path, skip: Sequence[str] = ()) -> dict[str, Tensor]:
    from safetensors import safe_open

    if not path.is_file():
        raise InterpWidgetsError(f"{path} does not exist: the transcoder set names it.")
    try:
        with safe_open(str(path), "pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys() if key not in skip}
    except Exception as error:  # noqa: BLE001 - a broken file is the user's to fix
        raise InterpWidgetsError(f"{path} is not a readable safetensors file ({error}).") from None


def _keys(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        return list(handle.keys())


def _check_shape(path: Path, name: str, tensor: Tensor, shape: tuple[int, ...]) -> None:
    if tuple(tensor.shape) != shape:
        raise InterpWidgetsError(f"{path}: {name} is {list(tensor.shape)} but must be {list(shape)}.")


def read_circuit_tracer_layer(path: Path, layer: int, activation: str | None, k: int | None, input_hook: str, output_hook: str,
                              device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> LayerTranscoder:
    """One layer file of a circuit-tracer transcoder set (`W_enc [F, d]`; see the module docstring)."""
    allowed = {"W_enc", "W_dec", "b_enc", "b_dec", "W_skip", "activation_function.threshold"}
    keys = set(_keys(path)) if path.is_file() else set()
    if not path.is_file():
        raise InterpWidgetsError(f"{path} does not exist: the transcoder set's config.yaml names it.")
    if keys - allowed or not {"W_enc", "W_dec", "b_enc", "b_dec"} <= keys:
        raise InterpWidgetsError(f"{path} holds {sorted(keys)}: a circuit-tracer transcoder file holds W_enc, W_dec, b_enc, b_dec "
                                 "and optionally W_skip and activation_function.threshold, nothing else.")
    tensors = _tensors(path, skip=("W_dec",))
    move = lambda t: t.to(device=device, dtype=dtype or t.dtype)  # noqa: E731
    F, d = tensors["W_enc"].shape
    decoder = DecoderRows(path, "W_dec", device, dtype)
    for name, shape in (("b_enc", (F,)), ("b_dec", (d,)), ("W_skip", (d, d)), ("activation_function.threshold", (F,))):
        if name in tensors:
            _check_shape(path, name, tensors[name], shape)
    if decoder.shape != (F, d):
        raise InterpWidgetsError(f"{path}: W_dec is {list(decoder.shape)} but must be [{F}, {d}] (features, model width).")
    threshold = tensors.get("activation_function.threshold")
    kind = "topk" if activation == "topk" else "jumprelu" if threshold is not None else "relu"
    return LayerTranscoder(layer, move(tensors["W_enc"]).T.contiguous(), move(tensors["b_enc"]), move(tensors["b_dec"]), decoder, kind,
                           threshold=None if threshold is None else move(threshold), k=k,
                           W_skip=move(tensors["W_skip"]) if "W_skip" in tensors else None,
                           input_hook=input_hook, output_hook=output_hook, source=str(path))


def read_circuit_tracer_clt(folder: Path, n_layers: int | None, activation: str | None, k: int | None, input_hook: str, output_hook: str,
                            device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> CrossLayerTranscoder:
    """A circuit-tracer cross-layer transcoder: `W_enc_<l>.safetensors` and `W_dec_<l>.safetensors` per layer."""
    found = sorted(int(m.group(1)) for p in folder.glob("W_enc_*.safetensors") if (m := re.fullmatch(r"W_enc_(\d+)\.safetensors", p.name)))
    L = n_layers if n_layers is not None else len(found)
    if found != list(range(L)) or not L:
        raise InterpWidgetsError(f"{folder} must hold W_enc_0.safetensors ... W_enc_{max(L - 1, 0)}.safetensors and the matching "
                                 f"W_dec_<l>.safetensors (a circuit-tracer cross-layer transcoder); found layers {found}.")
    move = lambda t: t.to(device=device, dtype=dtype or t.dtype)  # noqa: E731
    parts = []
    for layer in range(L):
        enc_path, dec_path = folder / f"W_enc_{layer}.safetensors", folder / f"W_dec_{layer}.safetensors"
        allowed = {f"W_enc_{layer}", f"b_enc_{layer}", f"b_dec_{layer}", f"threshold_{layer}"}
        tensors = _tensors(enc_path)
        if set(tensors) - allowed or not {f"W_enc_{layer}", f"b_enc_{layer}", f"b_dec_{layer}"} <= set(tensors):
            raise InterpWidgetsError(f"{enc_path} holds {sorted(tensors)}: it must hold W_enc_{layer}, b_enc_{layer}, b_dec_{layer} "
                                     f"and optionally threshold_{layer}.")
        F, d = tensors[f"W_enc_{layer}"].shape
        if not dec_path.is_file():
            raise InterpWidgetsError(f"{dec_path} does not exist: each layer of a cross-layer transcoder has its decoder file.")
        decoder = DecoderRows(dec_path, f"W_dec_{layer}", device, dtype)
        if decoder.shape != (F, L - layer, d):
            raise InterpWidgetsError(f"{dec_path}: W_dec_{layer} is {list(decoder.shape)} but must be [{F}, {L - layer}, {d}] "
                                     f"(features, layers {layer}..{L - 1} it writes to, model width).")
        threshold = tensors.get(f"threshold_{layer}")
        kind = "topk" if activation == "topk" else "jumprelu" if threshold is not None else "relu"
        parts.append(CrossLayerPart(layer, move(tensors[f"W_enc_{layer}"]).T.contiguous(), move(tensors[f"b_enc_{layer}"]),
                                    move(tensors[f"b_dec_{layer}"]), decoder, kind, threshold=None if threshold is None else move(threshold),
                                    k=k, input_hook=input_hook, output_hook=output_hook, source=str(folder)))
    return CrossLayerTranscoder(parts, source=str(folder))


SAELENS_TRANSCODERS = {  # SAELens architecture -> (activation, has a skip connection)
    "transcoder": ("relu", False),
    "skip_transcoder": ("relu", True),
    "jumprelu_transcoder": ("jumprelu_relu_first", False),
    "jumprelu_skip_transcoder": ("jumprelu_relu_first", True),
}


def read_saelens_transcoder(folder: Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> LayerTranscoder:
    """A SAELens transcoder directory (`cfg.json` with a transcoder architecture, `sae_weights.safetensors`)."""
    try:
        cfg = json.loads((folder / "cfg.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InterpWidgetsError(f"{folder / 'cfg.json'} cannot be read as JSON ({error}).") from None
    metadata = cfg.get("metadata") or {}
    architecture = cfg.get("architecture")
    if architecture not in SAELENS_TRANSCODERS:
        raise InterpWidgetsError(f"{folder} holds a {architecture!r} SAE, not a SAELens transcoder ({', '.join(SAELENS_TRANSCODERS)}).")
    if cfg.get("apply_b_dec_to_input"):
        raise InterpWidgetsError(f"{folder} subtracts b_dec from its input, which a transcoder cannot do (its input and output differ).")
    activation, has_skip = SAELENS_TRANSCODERS[architecture]
    path = folder / "sae_weights.safetensors"
    allowed = {"W_enc", "W_dec", "b_enc", "b_dec", "threshold", "W_skip"}
    keys = set(_keys(path)) if path.is_file() else set()
    needed = {"W_enc", "W_dec", "b_enc", "b_dec"} | ({"threshold"} if activation.startswith("jumprelu") else set()) | ({"W_skip"} if has_skip else set())
    if keys - allowed or not needed <= keys:
        raise InterpWidgetsError(f"{path} holds {sorted(keys)}; a SAELens {architecture} holds {sorted(needed)}.")
    tensors = _tensors(path, skip=("W_dec",))
    move = lambda t: t.to(device=device, dtype=dtype or t.dtype)  # noqa: E731
    d, F = tensors["W_enc"].shape
    decoder = DecoderRows(path, "W_dec", device, dtype)
    d_out = decoder.shape[-1]
    if d_out != d or decoder.shape != (F, d):
        raise InterpWidgetsError(f"{path}: W_dec is {list(decoder.shape)}; attribution needs [{F}, {d}] (the MLP's input and output widths agree).")
    hook_in = metadata.get("hook_name") or cfg.get("hook_name") or ""
    hook_out = metadata.get("hook_name_out") or cfg.get("hook_name_out") or ""
    match = re.match(r"blocks\.(\d+)\.(.+)$", hook_in)
    if not match:
        raise InterpWidgetsError(f"{folder}: its hook_name {hook_in!r} does not say which block it reads (blocks.<layer>.<hook>).")
    out_site = hook_out.split(".", 2)[2] if hook_out.startswith(f"blocks.{match.group(1)}.") else "hook_mlp_out"
    return LayerTranscoder(int(match.group(1)), move(tensors["W_enc"]), move(tensors["b_enc"]), move(tensors["b_dec"]), decoder, activation,
                           threshold=move(tensors["threshold"]) if "threshold" in tensors else None,
                           W_skip=move(tensors["W_skip"]) if has_skip else None, input_hook=match.group(2), output_hook=out_site,
                           source=str(folder))
