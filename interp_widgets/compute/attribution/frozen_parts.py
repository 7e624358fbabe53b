"""The pieces of a model and its transcoders that the local replacement model is built from, read
the same way for every model family.

Norms. With its scale frozen at the prompt's value, every norm the families use is affine:

    y = D(x) * (g / s) + h        D: centring (LayerNorm) or the identity (RMSNorm)      [n, d]

`g` is the effective weight (Gemma's `1 + w`, ones for a parameter-free norm), `h` the bias (zero
for RMSNorm). Rather than trust each family's parameter names, `read_norm` finds D, g and h by
running the norm module itself on random inputs and fitting this form exactly; `frozen_scale`
reads the prompt's scale `s` per position from the norm's recorded input and output. Its
transpose: `D(grad * g / s)` (D is symmetric).

Blocks. Sequential (`resid_mid = resid_pre + attn`, MLP on resid_mid) or parallel (attention and
MLP both read resid_pre: Pythia, GPT-J, Phi, Falcon); an optional norm on the attention's output
(Gemma 2/3's sandwich, OLMo 2's post-norm); no norm before the MLP (OLMo 2) is the identity. Which
norm module plays which part is found from what it reads on a short run (`norm_roles`), not from
its name alone: bridges of different transformer-lens versions name them differently.
Grouped-query attention repeats each key/value head for its group of query heads; missing
projection biases are zeros. Transcoders: one per layer (ours, circuit-tracer's, SAELens') or a
cross-layer transcoder, each layer's part as a `TranscoderLayer`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from interp_widgets.errors import InterpWidgetsError


@dataclass
class NormMap:
    """A norm at frozen scale: `D(x) * (g / s) + h`."""

    centred: bool
    weight: Tensor  # [d] g
    bias: Tensor  # [d] h
    eps: float = 1e-5  # inside the scale's square root: what the scale is where the input is zero

    def shape(self, x: Tensor) -> Tensor:
        return x - x.mean(-1, keepdim=True) if self.centred else x

    def forward(self, x: Tensor, scale: Tensor) -> Tensor:
        """`x [.., n, d]`, `scale [n]`."""
        return self.shape(x) * (self.weight / scale[:, None]) + self.bias

    def backward(self, grad: Tensor, scale: Tensor) -> Tensor:
        """The transpose of `forward`'s linear part: `grad [.., n, d]`, `scale [n]`."""
        return self.shape(grad * (self.weight / scale[:, None]))


def identity_norm(d: int) -> NormMap:
    return NormMap(False, torch.ones(d), torch.zeros(d))


def norm_eps(module: Any) -> float:
    """The epsilon a norm module adds under its square root (1e-5 where it does not say)."""
    for part in module.modules():
        for name in ("eps", "variance_epsilon", "epsilon", "layer_norm_eps"):
            value = getattr(part, name, None)
            if isinstance(value, float) and 0 < value < 1:
                return value
    return 1e-5


def read_norm(module: Any, d: int, where: str) -> NormMap:
    """D, g and h of a norm module, fitted exactly from its outputs on random inputs."""
    parameter = next(iter(module.parameters()), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    device = parameter.device if parameter is not None else "cpu"
    if dtype != torch.float32:  # fit a float32 copy: bf16 rounding would blur LayerNorm and RMSNorm apart
        try:
            module, dtype = copy.deepcopy(module).float(), torch.float32
        except Exception:  # noqa: BLE001 - a module that cannot be copied is fitted at its own precision
            pass
    x = torch.randn(96, d, generator=torch.Generator().manual_seed(0)) * 3
    with torch.inference_mode():
        y = module(x.to(device=device, dtype=dtype)[None])[0].float().cpu()
    x = x.to(dtype).float()
    tolerance = max(1e-4, 30 * torch.finfo(dtype).eps) * float(y.abs().max())
    for centred in (False, True):
        z = x - x.mean(-1, keepdim=True) if centred else x
        z = z / z.pow(2).mean(-1, keepdim=True).sqrt()
        z_mean, y_mean = z.mean(0), y.mean(0)
        g = ((z - z_mean) * (y - y_mean)).sum(0) / (z - z_mean).pow(2).sum(0).clamp_min(1e-12)
        h = y_mean - g * z_mean
        if float((z * g + h - y).abs().max()) <= tolerance:
            return NormMap(centred, g, h if centred or float(h.abs().max()) > tolerance else torch.zeros(d), norm_eps(module))
    raise InterpWidgetsError(f"the norm at {where} ({type(module).__name__}) is neither a LayerNorm nor an RMSNorm (x / scale * g + h): "
                             "attribution freezes norms of that form only.")


def frozen_scale(norm: NormMap, x: Tensor, y: Tensor) -> Tensor:
    """The scale `s [n]` the norm used on the prompt, from its input and output `[n, d]` (least squares)."""
    shaped = norm.shape(x.float()) * norm.weight
    fitted = shaped.pow(2).sum(-1) / (shaped * (y.float() - norm.bias)).sum(-1).clamp_min(1e-30)
    # where the input is (nearly) zero, e.g. a zero BOS embedding, the output fixes no scale: the norm's own formula does
    direct = (norm.shape(x.float()).pow(2).mean(-1) + norm.eps).sqrt()
    return torch.where(shaped.pow(2).sum(-1) > 1e-8 * max(float(shaped.pow(2).sum(-1).max()), 1e-30), fitted, direct)


def optional_bias(model: Any, name: str, shape: tuple[int, ...]) -> Tensor:
    """A bias stacked over layers, zeros where the model's projections have none."""
    try:
        value = getattr(model, name)
    except (AttributeError, TypeError):
        value = None
    return torch.zeros(shape) if value is None else value.detach().float().cpu()


@dataclass
class BlockLayout:
    """How one block is wired: its norms (None: absent) and whether attention and MLP run in parallel."""

    ln1: NormMap  # before attention (identity when absent)
    ln1_post: NormMap | None  # on the attention's output
    ln2: NormMap  # before the MLP (identity when absent; ln1's when a parallel block shares one)
    parallel: bool
    names: dict[str, str | None]  # site -> the norm's hook prefix (blocks.l.ln1, ...), None when absent


def norm_roles(model: Any) -> list[dict[str, str]]:
    """Per block, which of its norm modules plays which part ({role: module name}, roles ln1, ln1_post, ln2,
    ln2_post), found from what each one reads on a short run: the residual stream before attention (ln1),
    the attention's output (ln1_post), resid_mid (ln2), the MLP's output (ln2_post). Names alone do not say it
    (transformer-lens 3.9 calls OLMo 2's post-norms ln1 and ln2)."""
    sites = ("ln1", "ln1_post", "ln2", "ln2_post")
    tokens = torch.arange(3)[None].to(next(model.parameters()).device)
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens)
    roles = []
    for layer, block in enumerate(model.blocks):
        got = lambda name: cache[f"blocks.{layer}.{name}"] if f"blocks.{layer}.{name}" in cache else None  # noqa: E731
        places = {"ln1": got("hook_resid_pre"), "ln1_post": got("attn.hook_out"), "ln2": got("hook_resid_mid"), "ln2_post": got("mlp.hook_out")}
        found: dict[str, str] = {}
        for site in sites:
            if getattr(block, site, None) is None or got(f"{site}.hook_in") is None:
                continue
            reads = got(f"{site}.hook_in").reshape(places["ln1"].shape) if places["ln1"] is not None else got(f"{site}.hook_in")
            matches = [role for role, value in places.items() if value is not None and value.shape == reads.shape
                       and torch.allclose(value.float(), reads.float(), atol=1e-6, rtol=1e-5) and role not in found]
            role = site if site in matches or not matches else matches[0]  # its own name first (BLOOM's attention output is resid_mid)
            found[role] = site
        roles.append(found)
    return roles


def block_layouts(model: Any) -> list[BlockLayout]:
    d, layouts = model.cfg.d_model, []
    parallel = bool(getattr(model.cfg, "parallel_attn_mlp", False))
    for layer, (block, roles) in enumerate(zip(model.blocks, norm_roles(model))):
        read = lambda role: read_norm(getattr(block, roles[role]), d, f"blocks.{layer}.{roles[role]}") if role in roles else None  # noqa: E731
        ln1, ln1_post, ln2 = read("ln1"), read("ln1_post"), read("ln2")
        names = {role: f"blocks.{layer}.{roles[role]}" if role in roles else None for role in ("ln1", "ln1_post", "ln2")}
        if ln2 is None and parallel:  # one norm feeds both (GPT-J, Phi)
            ln2, names["ln2"] = ln1, names["ln1"]
        layouts.append(BlockLayout(ln1 or identity_norm(d), ln1_post, ln2 or identity_norm(d), parallel, names))
    return layouts


def attention_weights(model: Any) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """`W_V [L, H, d, dh]`, `W_O [L, H, dh, d]`, `b_V [L, H, dh]`, `b_O [L, d]`, key/value heads repeated for their query heads."""
    W_V, W_O = model.W_V.detach().float().cpu(), model.W_O.detach().float().cpu()
    L, H = W_O.shape[:2]
    b_V = optional_bias(model, "b_V", (L, W_V.shape[1], W_V.shape[-1]))
    b_O = optional_bias(model, "b_O", (L, W_O.shape[-1]))
    if W_V.shape[1] != H:
        if H % W_V.shape[1]:
            raise InterpWidgetsError(f"{H} query heads cannot share {W_V.shape[1]} key/value heads evenly: this attention is not grouped-query attention.")
        group = H // W_V.shape[1]
        W_V, b_V = W_V.repeat_interleave(group, 1), b_V.repeat_interleave(group, 1)
    return W_V, W_O, b_V, b_O


# ---- transcoders ---------------------------------------------------------------------------------

MLP_INPUT_SITES = ("mlp.hook_in", "ln2.hook_out", "hook_mlp_in", "ln2.hook_normalized")
RESIDUAL_INPUT_SITES = ("hook_resid_mid",)
OUTPUT_SITES = ("hook_mlp_out", "mlp.hook_out")


@dataclass
class TranscoderLayer:
    """Layer l's transcoder as attribution reads it (float32, on the CPU, except `encode`)."""

    W_enc: Tensor  # [d, F]
    b_enc: Tensor  # [F]
    b_dec: Tensor  # [d] what layer l's output gets whatever the features
    W_skip: Tensor | None  # [d, d]: output += x @ W_skip.T
    encode: Callable[[Tensor], Tensor]  # MLP input [n, d] (float32) -> activations [n, F], in the file's convention
    rows: Callable[[Tensor], Tensor]  # feature ids [m] -> decoder rows [m, n_outputs, d] (layers l, l+1, ...)
    n_outputs: int
    reads_residual: bool  # reads resid_mid (before the MLP's norm) rather than the MLP's input
    input_site: str
    output_site: str


def transcoder_layers(transcoders: Sequence[Any]) -> list[TranscoderLayer]:
    f32 = lambda t: t.detach().float().cpu()  # noqa: E731
    layers = []
    for tc in transcoders:
        input_site = getattr(tc, "input_hook", None) or "mlp.hook_in"
        input_site = input_site.split(".", 2)[2] if input_site.startswith("blocks.") else input_site
        output_site = getattr(tc, "output_hook", None) or getattr(tc, "hook_name_out", None) or "hook_mlp_out"
        output_site = output_site.split(".", 2)[2] if output_site.startswith("blocks.") else output_site
        if hasattr(tc, "decoder_rows"):
            cross_layer = getattr(tc, "n_outputs", None) is not None  # rows [m, L - l, d]; else [m, d]
            n_outputs = int(tc.n_outputs) if cross_layer else 1
            rows = lambda ids, tc=tc, cross_layer=cross_layer: f32(tc.decoder_rows(ids)) if cross_layer else f32(tc.decoder_rows(ids))[:, None]  # noqa: E731
        else:
            W_dec = tc.W_dec
            n_outputs = 1
            rows = lambda ids, W_dec=W_dec: f32(W_dec[ids.to(W_dec.device)])[:, None]  # noqa: E731

        def encode(x: Tensor, tc: Any = tc) -> Tensor:
            with torch.inference_mode():
                return tc.encode(x.to(device=tc.W_enc.device, dtype=tc.W_enc.dtype)).float().cpu()

        skip = getattr(tc, "W_skip", None)
        layers.append(TranscoderLayer(f32(tc.W_enc), f32(tc.b_enc), f32(tc.b_dec), None if skip is None else f32(skip), encode, rows,
                                      n_outputs, input_site in RESIDUAL_INPUT_SITES, input_site, output_site))
    return layers
