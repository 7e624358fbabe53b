"""One forward pass over the edge graph: record what every sender writes, move what receivers read.

A receiver's input is the residual stream `r` plus a *correction* `c` that only it sees: head h's
query becomes `q_h + (norm(r + c_h) - norm(r)) @ W_Q[h]` (the same for keys and values, one per
key/value head), an MLP's input `norm(r + c) - norm(r)` more, the logits' input `r + c`. The rest of
the model runs as it is. Three uses:

- exact edge patching: `c` = the sum, over the receiver's patched edges, of (other run's sender
  value - this run's live sender value), so those edges carry the other run's values
  (`MaskPatch`: one edge set per copy of the batch; `EdgePatch`: one edge per copy);
- gradients at every receiver in one backward pass: `c` = zeros that require grad (`ProbePatch`);
- integrated gradients: the input itself (`blocks.0.hook_resid_pre`) replaced by a point on the
  path from the corrupt to the clean input.

With `verify=True` the run checks the decomposition the graph relies on (q/k/v = norm(r) @ W + a
constant, the MLP reads norm(r), every block writes the sum of its heads and MLP plus a constant)
and refuses, saying which layer breaks it, rather than give wrong edges. Post-norm blocks (Gemma 2/3,
OLMo 2: a norm on the attention output before the add) are decomposed at that norm's own scale in
each run: a head's value is its output through the norm with the scale fixed (the norm is linear then),
so the heads' values sum to what the block writes, in the clean run and the corrupt one alike. (A head's
value then depends on the other heads through that shared scale; with the scale fixed, it is exact.)
Shapes: N rows, P positions, S senders, R receivers, D = d_model; senders and receivers lead
(`[S, N, P, D]`, corrections `[R, N, P, D]`) so that sums over them are plain matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from interp_widgets.compute.circuits.graph import EdgeGraph
from interp_widgets.compute.core.hooks import hook_names
from interp_widgets.errors import InterpWidgetsError

RELATIVE_TOLERANCE = 2e-3


@dataclass
class LayerWeights:
    W_Q: Tensor  # [H, D, dh]
    W_K: Tensor  # [K, D, dh]
    W_V: Tensor  # [K, D, dh]
    W_O: Tensor  # [H, dh, D]
    attn_norm: Callable[[Tensor], Tensor]
    mlp_norm: Callable[[Tensor], Tensor]
    post_attn: Any = None  # a norm on the attention output before the residual add (Gemma 2/3, OLMo 2), or None


def _norm(module: Any) -> Callable[[Tensor], Tensor]:
    if module is None:
        return lambda x: x
    inner = getattr(module, "original_component", None)
    return inner if isinstance(inner, torch.nn.Module) else module


def layer_weights(model: Any, graph: EdgeGraph) -> list[LayerWeights]:
    """Each layer's projections (key/value ones per key/value head) and the norms in front of them."""
    def per_kv(weight: Tensor) -> Tensor:
        return weight[:, :: graph.group] if weight.shape[1] == graph.n_heads and graph.group > 1 else weight
    try:
        W_Q, W_K, W_V, W_O = (model.W_Q.detach(), per_kv(model.W_K.detach()), per_kv(model.W_V.detach()), model.W_O.detach())
    except (AttributeError, RuntimeError, NotImplementedError) as error:
        raise InterpWidgetsError(f"this model does not expose its attention weights per head (W_Q, W_K, W_V, W_O: {error}); "
                                 "circuit discovery needs them.") from None
    out = []
    for layer, block in enumerate(model.blocks):
        ln1 = getattr(block, "ln1", None)
        ln2 = getattr(block, "ln2", None) if graph.has_mlp else None
        mlp_norm = _norm(ln2 if ln2 is not None or not graph.parallel else ln1)
        out.append(LayerWeights(W_Q[layer], W_K[layer], W_V[layer], W_O[layer], _norm(ln1), mlp_norm, getattr(block, "ln1_post", None)))
    return out


def post_norm_share(norm: Any, heads: Tensor, scale: Tensor) -> Tensor:
    """Each head's share of a post-norm's output `[N, P, H, D]`, at the scale the norm used in this run (`scale`
    `[N, P, 1]`): the norm is linear once its scale is fixed, so the shares sum to its output (less its bias)."""
    if not getattr(norm, "uses_rms_norm", True):
        heads = heads - heads.mean(-1, keepdim=True)
    weight = norm.weight
    weight = 1.0 + weight if getattr(norm, "uses_weight_offset", False) else weight
    return (heads.float() / scale.float()[:, :, None] * weight.float()).to(heads.dtype)


class MaskPatch:
    """Copy c of the batch (rows c * B + b) patches the edges in `mask[c]`: `[C, P or 1, S, R]`."""

    def __init__(self, mask: Tensor, other: Tensor):
        self.mask, self.other = mask, other  # other: [S, B, P, D] sender values of the other run

    def correction(self, receivers: slice, live: Tensor) -> Tensor | None:
        n = live.shape[0]
        mask = self.mask[:, :, :n, receivers]
        if not mask.any():
            return None
        C, B = mask.shape[0], self.other.shape[1]
        P, D, R = live.shape[2], live.shape[3], mask.shape[-1]
        if mask.shape[1] == P and P > 1:  # per-position edges
            diff = self.other[:n, None] - live.view(n, C, B, P, D)
            return torch.einsum("cpsr,scbpd->rcbpd", mask.to(live.dtype), diff).reshape(R, C * B, P, D)
        # sum_s w[c, s, r] (other_s - live_s), as [R, n] @ [n, B P D] products (senders lead: no copies)
        weights = mask[:, 0].to(live.dtype).transpose(1, 2)  # [C, R, n]
        other = torch.matmul(weights, self.other[:n].reshape(n, B * P * D))  # [C, R, B P D]
        mine = torch.matmul(weights, live.reshape(n, C, B * P * D).transpose(0, 1))
        return (other - mine).view(C, R, B, P, D).transpose(0, 1).reshape(R, C * B, P, D)


class EdgePatch:
    """Copy c of the batch patches one edge, `senders[c] -> receivers[c]` (at `positions[c]`, or all when -1)."""

    def __init__(self, senders: Tensor, receivers: Tensor, positions: Tensor, other: Tensor):
        self.senders, self.receivers, self.positions, self.other = senders, receivers, positions, other

    def correction(self, receivers: slice, live: Tensor) -> Tensor | None:
        chosen = ((self.receivers >= receivers.start) & (self.receivers < receivers.stop)).nonzero()[:, 0]
        if len(chosen) == 0:
            return None
        C, B = len(self.senders), self.other.shape[1]
        P, D = live.shape[2], live.shape[3]
        s = self.senders[chosen]
        diff = self.other[s] - live.view(live.shape[0], C, B, P, D)[s, chosen]  # [n, B, P, D]
        pos = self.positions[chosen]
        keep = (pos[:, None] < 0) | (pos[:, None] == torch.arange(P, device=pos.device)[None])
        out = live.new_zeros(receivers.stop - receivers.start, C, B, P, D)
        out[self.receivers[chosen] - receivers.start, chosen] = diff * keep[:, None, :, None].to(diff.dtype)
        return out.view(-1, C * B, P, D)


class ProbePatch:
    """Zero corrections that require grad: their gradients are the metric's gradients at each receiver."""

    def __init__(self) -> None:
        self.leaves: dict[int, Tensor] = {}

    def correction(self, receivers: slice, live: Tensor) -> Tensor:
        leaf = live.new_zeros(receivers.stop - receivers.start, *live.shape[1:]).requires_grad_(True)
        self.leaves[receivers.start] = leaf
        return leaf

    def gradients(self, total: Tensor, n_receivers: int) -> Tensor:
        """`[R, N, P, D]` gradients of `total` (a scalar) at every receiver."""
        starts = sorted(self.leaves)
        grads = torch.autograd.grad(total, [self.leaves[s] for s in starts], allow_unused=True)
        first = self.leaves[starts[0]]
        out = first.new_zeros(n_receivers, *first.shape[1:])
        for start, grad in zip(starts, grads):
            if grad is not None:
                out[start: start + grad.shape[0]] = grad
        return out


def _check(what: str, actual: Tensor, expected: Tensor, fix: str) -> None:
    """`actual - expected` must be a constant (a bias) up to rounding, relative to `actual`'s size."""
    remainder = (actual - expected).float()
    remainder = remainder - remainder.mean(dim=(0, 1), keepdim=True)
    scale = float(actual.float().abs().max()) + 1e-12
    if float(remainder.abs().max()) > RELATIVE_TOLERANCE * scale + 1e-5:
        raise InterpWidgetsError(f"circuit discovery cannot decompose this model: {what} ({fix}). Models with this block "
                                 "structure are not supported by the edge graph.")


REQUIRED_HOOKS = ("blocks.{l}.hook_resid_pre", "blocks.{l}.attn.hook_q", "blocks.{l}.attn.hook_k", "blocks.{l}.attn.hook_v",
                  "blocks.{l}.attn.hook_z", "blocks.{l}.hook_resid_post")
MLP_HOOKS = ("blocks.{l}.mlp.hook_in", "blocks.{l}.hook_mlp_out")


def check_hooks(model: Any, graph: EdgeGraph) -> None:
    names = set(hook_names(model))
    wanted = list(REQUIRED_HOOKS) + (list(MLP_HOOKS) if graph.has_mlp else []) + \
        (["blocks.{l}.hook_resid_mid"] if graph.has_mlp and not graph.parallel else [])
    if any(hasattr(block, "ln1_post") for block in model.blocks):
        wanted.append("blocks.{l}.ln1_post.hook_scale")
    missing = [w.format(l=l) for l in range(graph.n_layers) for w in wanted if w.format(l=l) not in names]
    if missing:
        raise InterpWidgetsError(f"this model lacks hook points the edge graph reads ({', '.join(missing[:4])}"
                                 f"{' ...' if len(missing) > 4 else ''}): circuit discovery is not available for it.")


class GraphRun:
    """The hooks of one forward pass. `sent` (after the run): live sender values `[S, N, P, D]`."""

    def __init__(self, graph: EdgeGraph, weights: list[LayerWeights], patch: Any = None, input_value: Tensor | None = None,
                 verify: bool = False):
        self.graph, self.weights, self.patch, self.input_value, self.verify = graph, weights, patch, input_value, verify
        self.sent: Tensor | None = None
        self.residual: dict[str, Tensor] = {}

    def _store(self, index: slice | int, value: Tensor) -> None:
        if self.sent is None:
            N, P, D = value.shape[0], value.shape[1], value.shape[-1]
            self.sent = value.new_zeros(len(self.graph.senders), N, P, D)
        self.sent[index] = value.detach().movedim(2, 0) if value.ndim == 4 else value.detach()

    def _correction(self, receivers: slice) -> Tensor | None:
        if self.patch is None:
            return None
        n_read = int(self.graph.reads[receivers.start])
        return self.patch.correction(receivers, self.sent[:n_read])

    def hooks(self) -> list[tuple[str, Callable[..., Any]]]:
        g = self.graph
        out: list[tuple[str, Callable[..., Any]]] = []
        for layer, slots in enumerate(g.layers):
            w = self.weights[layer]
            out.append((f"blocks.{layer}.hook_resid_pre", self._resid_pre(layer)))
            for name, receivers, W in (("q", slots.q, w.W_Q), ("k", slots.k, w.W_K), ("v", slots.v, w.W_V)):
                out.append((f"blocks.{layer}.attn.hook_{name}", self._projection(layer, name, receivers, W)))
            out.append((f"blocks.{layer}.attn.hook_z", self._heads(layer, slots)))
            if w.post_attn is not None:
                out.append((f"blocks.{layer}.ln1_post.hook_scale", self._post_norm_heads(layer, slots)))
            if g.has_mlp:
                if not g.parallel:
                    out.append((f"blocks.{layer}.hook_resid_mid", self._remember(f"mid{layer}")))
                out.append((f"blocks.{layer}.mlp.hook_in", self._mlp_in(layer, slots)))
                out.append((f"blocks.{layer}.hook_mlp_out", self._mlp_out(slots)))
            out.append((f"blocks.{layer}.hook_resid_post", self._resid_post(layer, slots)))
        return out

    def _remember(self, key: str) -> Callable[..., None]:
        def hook(x: Tensor, hook: Any) -> None:
            self.residual[key] = x.detach()
        return hook

    def _resid_pre(self, layer: int) -> Callable[..., Tensor | None]:
        def hook(x: Tensor, hook: Any) -> Tensor | None:
            if layer == 0 and self.input_value is not None:
                x = self.input_value.to(x.dtype)
            self.residual[f"pre{layer}"] = x.detach()
            if layer == 0:
                self._store(0, x)
            return x if layer == 0 and self.input_value is not None else None
        return hook

    def _projection(self, layer: int, name: str, receivers: slice, W: Tensor) -> Callable[..., Tensor | None]:
        norm = self.weights[layer].attn_norm

        def hook(x: Tensor, hook: Any) -> Tensor | None:
            r = self.residual[f"pre{layer}"]
            if x.shape[-2] != W.shape[0]:
                raise InterpWidgetsError(f"blocks.{layer}.attn.hook_{name} has {x.shape[-2]} heads where the weights have "
                                         f"{W.shape[0]}: circuit discovery cannot map this model's heads.")
            if self.verify:
                _check(f"blocks.{layer}.attn.hook_{name} is not its norm's output times W_{name.upper()}", x,
                       torch.einsum("npd,hde->nphe", norm(r), W), "rotary or a per-head norm applied before the hook?")
            c = self._correction(receivers)
            if c is None:
                return None
            moved = norm(r[None] + c) - norm(r)[None]  # [heads, N, P, D]
            return x + torch.einsum("hnpd,hde->nphe", moved.to(W.dtype), W).to(x.dtype)
        return hook

    def _heads(self, layer: int, slots: Any) -> Callable[..., None]:
        W_O = self.weights[layer].W_O

        def hook(z: Tensor, hook: Any) -> None:
            heads = torch.einsum("nphe,hed->nphd", z.to(W_O.dtype), W_O)
            if self.weights[layer].post_attn is None:
                self._store(slots.heads, heads)
            else:  # shares are known once the post-norm's scale is (its own hook, next)
                self.residual[f"heads{layer}"] = heads
        return hook

    def _post_norm_heads(self, layer: int, slots: Any) -> Callable[..., None]:
        def hook(scale: Tensor, hook: Any) -> None:
            self._store(slots.heads, post_norm_share(self.weights[layer].post_attn, self.residual[f"heads{layer}"], scale))
        return hook

    def _mlp_in(self, layer: int, slots: Any) -> Callable[..., Tensor | None]:
        norm = self.weights[layer].mlp_norm
        receivers = slice(slots.mlp_in, slots.mlp_in + 1)

        def hook(x: Tensor, hook: Any) -> Tensor | None:
            r = self.residual[f"pre{layer}" if self.graph.parallel else f"mid{layer}"]
            if self.verify:
                _check(f"blocks.{layer}.mlp.hook_in is not the MLP's norm of the residual stream", x, norm(r),
                       "the MLP reads something other than the stream")
            c = self._correction(receivers)
            if c is None:
                return None
            return x + (norm(r + c[0]) - norm(r)).to(x.dtype)
        return hook

    def _mlp_out(self, slots: Any) -> Callable[..., None]:
        def hook(x: Tensor, hook: Any) -> None:
            self._store(slots.mlp, x)
        return hook

    def _resid_post(self, layer: int, slots: Any) -> Callable[..., Tensor | None]:
        last = layer == self.graph.n_layers - 1

        def hook(x: Tensor, hook: Any) -> Tensor | None:
            if self.verify:
                end = slots.mlp + 1 if slots.mlp is not None else slots.heads.stop
                written = self.sent[slots.heads.start:end].sum(0)
                _check(f"blocks.{layer} does not add the sum of its heads' outputs and its MLP's output to the stream",
                       x - self.residual[f"pre{layer}"], written, "post-norm or scaled residual writes?")
                if self.graph.has_mlp and not self.graph.parallel:
                    _check(f"blocks.{layer}.hook_resid_mid is not the stream plus the heads' outputs",
                           self.residual[f"mid{layer}"] - self.residual[f"pre{layer}"], self.sent[slots.heads].sum(0),
                           "post-norm attention?")
            if not last:
                return None
            c = self._correction(slice(len(self.graph.receivers) - 1, len(self.graph.receivers)))
            return None if c is None else x + c[0].to(x.dtype)
        return hook


def run_graph(model: Any, tokens: Tensor, run: GraphRun) -> Tensor:
    """Logits `[N, P, vocab]` of one forward pass with `run`'s hooks (removed afterwards)."""
    with model.hooks(fwd_hooks=run.hooks()):
        return model(tokens)
