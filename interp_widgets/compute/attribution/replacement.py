"""The local replacement model of one prompt: the run's frozen values (`FrozenRun`) and the frozen model's
weights with its batched linear backward pass (`LinearReplacement`). See compute/attribution/attribute.py
for what the graph is, and compute/attribution/frozen_parts.py for how each family's pieces are read.

Shapes: L layers, n positions, d model width, H heads, dh head width, B targets in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.attribution.frozen_parts import (
    MLP_INPUT_SITES, BlockLayout, TranscoderLayer, attention_weights, block_layouts, frozen_scale, identity_norm, optional_bias, read_norm,
    transcoder_layers,
)
from interp_widgets.errors import InterpWidgetsError

if TYPE_CHECKING:
    from interp_widgets.compute.attribution.attribute import SourceTable


@dataclass
class FrozenRun:
    """The prompt's run, with what the local replacement model freezes.  L layers, n positions."""

    tokens: Tensor  # [n]
    embedding: Tensor  # [n, d]   resid_pre of block 0: token (+ position) embedding
    ln1_scale: Tensor  # [L, n]   (ones where a block has no norm there)
    pattern: Tensor  # [L, heads, n, n]
    ln2_scale: Tensor  # [L, n]
    mlp_input: Tensor  # [L, n, d] what each layer's transcoder reads
    mlp_output: Tensor  # [L, n, d] what it predicts
    final_scale: Tensor  # [n]
    last_logits: Tensor  # [vocab] the model's logits (after any soft-cap)
    ln1_post_scale: Tensor | None = None  # [L, n] the attention output's norm (sandwich / post-norm blocks)
    resid_pre: Tensor | None = None  # [L, n, d] the clean residual streams, to check the replacement reproduces them
    resid_mid: Tensor | None = None  # [L, n, d]
    attn_out: Tensor | None = None  # [L, n, d]
    final_resid: Tensor | None = None  # [n, d]


def center(x: Tensor) -> Tensor:
    """Subtract the mean over the last axis (LayerNorm's centring, and its own transpose)."""
    return x - x.mean(-1, keepdim=True)


@torch.inference_mode()
def frozen_run(model: Any, tokens: Tensor, layouts: Sequence[BlockLayout] | None = None, input_sites: Sequence[str] | None = None,
               output_sites: Sequence[str] | None = None) -> FrozenRun:
    """One forward pass recording the activations the replacement model freezes or reads.

    `input_sites` / `output_sites`: the block-relative hooks each layer's transcoder reads and predicts."""
    L, n = model.cfg.n_layers, tokens.shape[-1]
    layouts = block_layouts(model) if layouts is None else layouts
    input_sites = [_cached_site(model, layer, "mlp.hook_in" if input_sites is None else input_sites[layer]) for layer in range(L)]
    output_sites = ["hook_mlp_out"] * L if output_sites is None else list(output_sites)
    norms = [(layer, site, prefix) for layer, layout in enumerate(layouts) for site, prefix in layout.names.items() if prefix]
    names = {"ln_final.hook_in", "ln_final.hook_out"} | {f"{prefix}.hook_{end}" for _, _, prefix in norms for end in ("in", "out")}
    for layer in range(L):
        names |= {f"blocks.{layer}.{site}" for site in ("hook_resid_pre", "attn.hook_pattern", "hook_attn_out", "hook_resid_mid",
                                                         input_sites[layer], output_sites[layer], "ln2.hook_out")}
    logits, cache = model.run_with_cache(tokens[None], names_filter=lambda name: name in names)
    def got(name: str) -> Tensor:  # batch 1 dropped (a flattened [n, d] activation, OPT's MLP input on 3.9, as it is)
        value = cache[name]
        return (value[0] if value.shape[0] == 1 and value.ndim >= 3 else value).float().cpu()

    # a bridge whose mlp.hook_in does not fire (transformer-lens 3.9's OPT) records the MLP's input at ln2.hook_out
    input_sites = [site if f"blocks.{layer}.{site}" in cache else "ln2.hook_out" for layer, site in enumerate(input_sites)]
    ones = torch.ones(L, n)
    scales = {site: ones.clone() for site in ("ln1", "ln1_post", "ln2")}
    for layer, site, prefix in norms:
        norm = getattr(layouts[layer], site)
        scales[site][layer] = frozen_scale(norm, got(f"{prefix}.hook_in").reshape(n, -1), got(f"{prefix}.hook_out").reshape(n, -1))
    final = read_norm(model.ln_final, model.cfg.d_model, "ln_final")
    stack = lambda site: torch.stack([got(f"blocks.{layer}.{site}").reshape(n, -1) for layer in range(L)])  # noqa: E731
    has_mid = "blocks.0.hook_resid_mid" in cache
    return FrozenRun(
        tokens, got("blocks.0.hook_resid_pre"), scales["ln1"], torch.stack([got(f"blocks.{layer}.attn.hook_pattern") for layer in range(L)]),
        scales["ln2"], torch.stack([got(f"blocks.{layer}.{input_sites[layer]}").reshape(n, -1) for layer in range(L)]),
        torch.stack([got(f"blocks.{layer}.{output_sites[layer]}").reshape(n, -1) for layer in range(L)]),
        frozen_scale(final, got("ln_final.hook_in"), got("ln_final.hook_out")), logits[0, -1].float().cpu(),
        ln1_post_scale=scales["ln1_post"], resid_pre=stack("hook_resid_pre"), resid_mid=stack("hook_resid_mid") if has_mid else None,
        attn_out=stack("hook_attn_out"), final_resid=got("ln_final.hook_in"),
    )


def _cached_site(model: Any, layer: int, site: str) -> str:
    """The hook that records a transcoder's input (the MLP's input has several names)."""
    return "mlp.hook_in" if site in MLP_INPUT_SITES else site


class LinearReplacement:
    """The frozen model's weights and the batched backward pass through it."""

    def __init__(self, model: Any, transcoders: Sequence[Any], run: FrozenRun, layouts: Sequence[BlockLayout] | None = None,
                 layers: Sequence[TranscoderLayer] | None = None) -> None:
        self.run = run
        self.L, d = model.cfg.n_layers, model.cfg.d_model
        self.layouts = list(block_layouts(model) if layouts is None else layouts)
        self.parallel = any(layout.parallel for layout in self.layouts)
        self.tc = list(transcoder_layers(transcoders) if layers is None else layers)
        f32 = lambda t: t.detach().float().cpu()  # noqa: E731  (the graph is built on the CPU, wherever the model runs)
        self.W_V, self.W_O, self.b_V, self.b_O = attention_weights(model)  # [L, H, d, dh], [L, H, dh, d], [L, H, dh], [L, d]
        L, H, _, dh = self.W_V.shape
        self.W_O_flat = self.W_O.reshape(L, H * dh, d)  # heads side by side: one matmul for all of them
        self.W_V_flat = self.W_V.permute(0, 1, 3, 2).reshape(L, H * dh, d).contiguous()
        # the MLP-side reader of each layer's transcoder: its norm, or the identity for one reading resid_mid
        self.readers = [identity_norm(d) if tc.reads_residual else layout.ln2 for tc, layout in zip(self.tc, self.layouts)]
        self.reader_scales = torch.stack([torch.ones(run.tokens.shape[0]) if tc.reads_residual else run.ln2_scale[layer]
                                          for layer, tc in enumerate(self.tc)])
        self.ln = [(lay.ln1.weight, lay.ln1.bias, lay.ln2.weight, lay.ln2.bias) for lay in self.layouts]  # LayerNorm-style view
        self.final_norm = read_norm(model.ln_final, d, "ln_final")
        self.final_w, self.final_b = self.final_norm.weight, self.final_norm.bias
        self.W_U, self.b_U = f32(model.W_U), optional_bias(model, "b_U", (model.W_U.shape[-1],))
        # the self-check's relative tolerance: float32 rounding, or the model's own (a bf16 model's activations are bf16)
        self.tolerance = max(1.0, 8 * torch.finfo(next(model.parameters()).dtype).eps / 1e-3)
        cap = float(getattr(model.cfg, "output_logits_soft_cap", -1.0) or -1.0)
        self.soft_cap = cap if cap > 0 else None
        self.W_enc = [tc.W_enc for tc in self.tc]  # [d, d_tc]
        self.b_enc = [tc.b_enc for tc in self.tc]
        self.b_dec = [tc.b_dec for tc in self.tc]
        # what each MLP writes that is no source: b_dec, and at a held BOS the whole output `[L, n, d]`
        self.constant_output = torch.stack(self.b_dec)[:, None].expand(-1, run.tokens.shape[0], -1).clone()

    @property
    def W_dec(self) -> list[Tensor]:
        """Each layer's decoder rows into its own layer, `[d_tc, d]` (read whole: use `tc[l].rows(ids)` for a few)."""
        return [tc.rows(torch.arange(tc.W_enc.shape[1]))[:, 0] for tc in self.tc]

    def hold_bos(self) -> None:
        """Hold every MLP's output at the first position at its value on the prompt (circuit-tracer's zero_bos)."""
        self.constant_output[:, 0] = self.run.mlp_output[:, 0] - self.skip(torch.arange(self.L), self.run.mlp_input[:, :1])[:, 0]

    # ---- the forward pieces --------------------------------------------------------------

    def attention(self, layer: int, resid: Tensor) -> Tensor:
        """Frozen attention output `[n, d]` of `resid [n, d]` (biases included)."""
        n, layout = resid.shape[0], self.layouts[layer]
        normed = layout.ln1.forward(resid, self.run.ln1_scale[layer, :n])
        values = torch.einsum("kd,hde->hke", normed, self.W_V[layer]) + self.b_V[layer][:, None]
        mixed = torch.einsum("hqk,hke->hqe", self.run.pattern[layer, :, :n, :n], values)
        out = torch.einsum("hqe,hed->qd", mixed, self.W_O[layer]) + self.b_O[layer]
        return out if layout.ln1_post is None else layout.ln1_post.forward(out, self.run.ln1_post_scale[layer, :n])

    def transcoder_input(self, layer: int, resid: Tensor) -> Tensor:
        """What layer's transcoder reads, `[n, d]`, from the residual stream it reads (resid_mid; resid_pre in a parallel block)."""
        return self.readers[layer].forward(resid, self.reader_scales[layer, : resid.shape[0]])

    def pre_activations(self, layer: int, resid_mid: Tensor) -> Tensor:
        """Every feature's pre-activation `[n, d_tc]` read from `resid_mid [n, d]` through the frozen norm."""
        return self.transcoder_input(layer, resid_mid) @ self.W_enc[layer] + self.b_enc[layer]

    def skip(self, layers: Tensor | int, x: Tensor) -> Tensor:
        """The skip term `x @ W_skip.T` of the given layers' transcoders (zero without one); `x [.., n, d]`."""
        if isinstance(layers, int):
            W_skip = self.tc[layers].W_skip
            return x @ W_skip.T if W_skip is not None else torch.zeros_like(x)
        return torch.stack([self.skip(int(layer), x[i]) for i, layer in enumerate(layers.tolist())])

    def raw_logits(self, final_resid: Tensor) -> Tensor:
        """Logits before any soft-cap from the final residual stream `[n, d]` at frozen scale."""
        return self.final_norm.forward(final_resid, self.run.final_scale[: final_resid.shape[0]]) @ self.W_U + self.b_U

    def cap_slope(self) -> Tensor:
        """d(capped logit) / d(raw logit) at the prompt's last position, `[vocab]` (ones without a soft-cap)."""
        if self.soft_cap is None:
            return torch.ones(self.W_U.shape[-1])
        raw = self.raw_logits(self.run.final_resid)[-1]
        return 1 - torch.tanh(raw / self.soft_cap).pow(2)

    def demeaned_unembedding(self, logit_tokens: Tensor) -> tuple[Tensor, Tensor]:
        """`(W_U[:, t] - mean_v W_U[:, v])` as rows `[k, d]`, and the matching demeaned unembedding bias `[k]`.
        With a soft-cap each column is scaled by its logit's cap slope (the capped logits' linearisation)."""
        slope = self.cap_slope()
        W_U, b_U = self.W_U * slope, self.b_U * slope
        return (W_U[:, logit_tokens] - W_U.mean(1, keepdim=True)).T, b_U[logit_tokens] - b_U.mean()

    def biases(self, logit_tokens: Tensor) -> tuple[list[Tensor], Tensor]:
        """Each target's constant part: the replacement model run with every source at zero.
        Returns pre-activation offsets per layer `[n, d_tc]` and logit offsets `[k]` (with a soft-cap,
        `attribute` replaces the latter by the linearisation's constant)."""
        resid, offsets = self.constant_walk(self.L)
        final = self.final_norm.forward(resid[-1:], self.run.final_scale[-1:])[0]
        rows, bias = self.demeaned_unembedding(logit_tokens)
        return offsets, rows @ final + bias

    def constant_walk(self, layers: int) -> tuple[Tensor, list[Tensor]]:
        """The replacement model with every source at zero through its first `layers` blocks: the residual
        stream after them `[n, d]` (resid_pre[layers]) and each block's transcoder pre-activation offsets `[n, d_tc]`."""
        resid = torch.zeros_like(self.run.embedding)
        offsets = []
        for layer in range(layers):
            attended = self.attention(layer, resid)
            if not self.layouts[layer].parallel:
                resid = resid + attended
            x = self.transcoder_input(layer, resid)
            offsets.append(x @ self.W_enc[layer] + self.b_enc[layer])
            resid = resid + self.constant_output[layer] + self.skip(layer, x) + (attended if self.layouts[layer].parallel else 0)
        return resid, offsets

    def check(self, where: str) -> None:
        """Refuse, naming the part, when the frozen pieces do not reproduce the model's own run."""
        run, problems = self.run, []
        gap = lambda got, want: float((got - want).abs().max() / want.abs().max().clamp_min(1e-6)) / self.tolerance  # noqa: E731
        for layer in range(self.L):
            parallel = self.layouts[layer].parallel
            if gap(self.attention(layer, run.resid_pre[layer]), run.attn_out[layer]) > 1e-3:
                problems.append(f"the attention output of block {layer}")
            read = run.resid_pre[layer] if parallel else run.resid_mid[layer] if run.resid_mid is not None else None
            if read is not None and gap(self.transcoder_input(layer, read), run.mlp_input[layer]) > 1e-3:
                problems.append(f"what block {layer}'s transcoder reads ({self.tc[layer].input_site})")
        if self.soft_cap is None and gap(self.raw_logits(run.final_resid)[-1], run.last_logits) > 1e-3:
            problems.append("the logits")
        if self.soft_cap is not None:
            capped = self.soft_cap * torch.tanh(self.raw_logits(run.final_resid)[-1] / self.soft_cap)
            if gap(capped, run.last_logits) > 1e-3:
                problems.append("the soft-capped logits")
        if problems:
            raise InterpWidgetsError(f"the frozen replacement of {where} does not reproduce {', '.join(problems[:3])} on this prompt: this "
                                     "block structure is not one attribution can freeze (LayerNorm / RMSNorm, sequential or parallel blocks).")

    # ---- the batched backward pass -------------------------------------------------------

    def feature_starts(self, layers: Tensor, positions: Tensor, features: Tensor) -> Tensor:
        """Gradient of each feature's pre-activation with respect to the residual stream it reads, `[B, d]`."""
        starts = torch.empty(len(layers), self.run.embedding.shape[-1])
        for layer in layers.unique().tolist():
            chosen = layers == layer
            columns = self.W_enc[layer][:, features[chosen]].T
            starts[chosen] = self.readers[layer].backward(columns, self.reader_scales[layer, positions[chosen]])  # one row per target
        return starts

    def logit_starts(self, logit_tokens: Tensor) -> Tensor:
        """Gradient of each chosen logit (relative to the mean) with respect to the final residual stream at the last position, `[k, d]`."""
        rows, _ = self.demeaned_unembedding(logit_tokens)
        return self.final_norm.backward(rows[:, None], self.run.final_scale[-1:])[:, 0]

    def skip_backward(self, layer: int, grad: Tensor) -> Tensor:
        """`grad [B, n, d]` at the MLP's output -> the skip term's part at the residual stream the transcoder reads."""
        W_skip = self.tc[layer].W_skip
        if W_skip is None:
            return torch.zeros_like(grad)
        return self.readers[layer].backward(grad @ W_skip, self.reader_scales[layer, : grad.shape[1]])

    def attention_backward(self, layer: int, grad: Tensor) -> Tensor:
        """`grad [B, n, d]` at the attention output -> its contribution at the attention input."""
        layout, (B, n, _), H = self.layouts[layer], grad.shape, self.W_V.shape[1]
        if layout.ln1_post is not None:
            grad = layout.ln1_post.backward(grad, self.run.ln1_post_scale[layer, :n])
        per_head = (grad @ self.W_O_flat[layer].T).view(B, n, H, -1).transpose(1, 2)  # [B, H, q, dh]
        at_values = torch.matmul(self.run.pattern[layer, :, :n, :n].transpose(-1, -2), per_head)  # [B, H, k, dh]
        at_normed = at_values.transpose(1, 2).reshape(B, n, -1) @ self.W_V_flat[layer]  # [B, k, d]
        return layout.ln1.backward(at_normed, self.run.ln1_scale[layer, :n])

    def rows(self, levels: Tensor, positions: Tensor, starts: Tensor, sources: "SourceTable") -> Tensor:
        """Direct-effect rows `[B, n_columns]` of a batch of targets.

        `levels [B]`: where each target reads the residual stream (feature of layer l: l, reading
        resid_mid[l] — resid_pre[l] in a parallel block; logit: L, reading the final residual
        stream); `positions [B]`; `starts [B, d]`.
        """
        # Causal and layered: a target needs nothing above its own level or after its own position. Sorted
        # by level, highest first, the targets that have joined are a prefix of the batch, and only that
        # prefix, up to the last position it reaches, is carried down.
        order = levels.argsort(descending=True, stable=True)
        levels, positions, starts = levels[order], positions[order], starts[order]
        B, d = len(levels), self.run.embedding.shape[-1]
        grad = torch.zeros(B, int(positions.max()) + 1, d)
        out = torch.zeros(B, sources.n_columns)
        active = reach = 0  # targets joined so far; positions they reach
        for level in range(int(levels[0]), -1, -1):
            parallel = level < self.L and self.layouts[level].parallel
            if level < self.L and active:  # grad is at resid_post[level]: read what MLP `level` wrote, then cross it and attention
                g = grad[:active, :reach]
                for position, columns, vectors in sources.features[level]:
                    if position < reach:
                        out[:active, columns] += g[:, position] @ vectors.T
                first = sources.error_offset + level * self.run.tokens.shape[0]
                out[:active, first : first + reach] = (g * sources.errors[level, :reach]).sum(-1)
                if parallel:  # attention and the skip both read resid_pre
                    grad[:active, :reach] = g + self.attention_backward(level, g) + self.skip_backward(level, g)
                else:
                    g = g + self.skip_backward(level, g)
                    grad[:active, :reach] = g + self.attention_backward(level, g)
            joining = int((levels == level).sum())
            if joining:  # (grad + start) + attention(grad + start), the start's part from its one position
                new = torch.arange(active, active + joining)
                where, vectors = positions[new], starts[new]
                reach = max(reach, int(where.max()) + 1)
                grad[new, where] += vectors
                if level < self.L and not parallel:  # a parallel block's feature reads resid_pre: attention `level` is above it
                    grad[active : active + joining, :reach] += self.attention_backward_from_one_position(level, where, vectors, reach)
                active += joining
        out[:, sources.token_offset : sources.token_offset + reach] = (grad[:, :reach] * self.run.embedding[:reach]).sum(-1)
        result = torch.empty_like(out)
        result[order] = out
        return result

    def attention_backward_from_one_position(self, layer: int, positions: Tensor, vectors: Tensor, n: int) -> Tensor:
        """`attention_backward` of gradients that are `vectors [J, d]` at `positions [J]` and zero
        elsewhere, `[J, n, d]`: each head's W_O, W_V product is taken once per target, not once per position."""
        J, H, layout = len(positions), self.W_V.shape[1], self.layouts[layer]
        if layout.ln1_post is not None:
            vectors = layout.ln1_post.backward(vectors, self.run.ln1_post_scale[layer, positions])
        per_head = (vectors @ self.W_O_flat[layer].T).view(J, H, -1).transpose(0, 1)  # [H, J, dh]
        through = torch.bmm(per_head, self.W_V_flat[layer].view(H, -1, vectors.shape[-1])).transpose(0, 1)  # [J, H, d]
        weights = self.run.pattern[layer][:, positions, :n].permute(1, 2, 0)  # [J, k, H]: how much each key fed the target
        return layout.ln1.backward(torch.bmm(weights, through), self.run.ln1_scale[layer, :n])
