"""Reading `block_maths.Block`s off a model: TransformerLens native models and Hugging Face families.

Every piece is the model's own module or a view of its own weights (an edit in place shows);
nothing is kept but views, taken at every call (GPT-NeoX's fused query/key/value projection runs whole, then splits). A family not
listed here, or a configuration a family's reader does not cover (GPT-2's inverse-layer scaling,
rotary scaling other than the model's own tables, ...), gets a reason instead, and the callers run
the model itself.

HF families: GPT-2 (`GPT2LMHeadModel`), GPT-NeoX (`GPTNeoXForCausalLM`, Pythia: parallel or
sequential residual, partial rotary), and the Llama layout (`LlamaForCausalLM`, Mistral, Qwen 2,
Qwen 3 with q/k norms, Gemma with its scaled embedding and (1 + w) norms, Gemma 2 with sandwich
norms, attention and logit soft-caps and sliding windows, Gemma 3 with q/k norms and a local
rotary base on sliding layers). Others (Phi, Falcon, GPT-J, OPT, BLOOM, ...) keep the exact fallback.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor

from interp_widgets.compute.core.block_maths import Block, ModelMaths, Rotary, heads_of, projection, raw_module
from interp_widgets.compute.core.linear import FastLinear

LLAMA_LAYOUT = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "GemmaForCausalLM",
                "Gemma2ForCausalLM", "Gemma3ForCausalLM"}


def native_maths(model: Any) -> ModelMaths | str:
    """The pieces of a TransformerLens native model (`boot_native`: the embedded models)."""
    try:
        return _native(model)
    except AttributeError as error:  # another transformer-lens version's native layout
        return f"an unexpected native model layout ({error})"


def _native(model: Any) -> ModelMaths | str:
    native = model.original_model
    cfg = native.cfg
    if getattr(cfg, "parallel_attn_mlp", False):
        return "parallel attention/MLP in a native model"
    token_embedding = raw_module(native.tok_embed)
    position_embedding = raw_module(native.pos) if native.pos is not None else None

    def embed(tokens: Tensor, positions: Tensor) -> Tensor:
        x = token_embedding(tokens)
        return x + position_embedding(positions) if position_embedding is not None else x

    blocks = []
    for bridge in model.blocks:
        block = raw_module(bridge)
        attn = raw_module(block.attn)
        if not getattr(attn, "causal", False):
            return "non-causal attention"
        mlp = None
        if not block.cfg.attn_only:
            raw_mlp = raw_module(block.mlp)
            if getattr(raw_mlp, "ln", None) is not None:
                return "a SoLU MLP with its inner LayerNorm"
            if hasattr(raw_mlp, "gate"):
                gate, up, down = (FastLinear(raw_module(getattr(raw_mlp, name))) for name in ("gate", "in", "out"))
                mlp = (lambda x, g=gate, u=up, d=down, act=raw_mlp.act: d(act(g(x)) * u(x)))
            else:
                fc_in, fc_out = FastLinear(raw_module(raw_mlp.fc_in)), FastLinear(raw_module(raw_mlp.fc_out))
                mlp = (lambda x, i=fc_in, o=fc_out, act=raw_mlp.act: o(act(i(x))))
        rotary = attn.rotary
        kv_heads = int(getattr(attn, "n_kv_heads", attn.n_heads // int(getattr(attn, "kv_repeats", 1))))
        cap = float(getattr(attn, "attn_scores_soft_cap", -1.0))
        blocks.append(Block(
            ln1=raw_module(block.ln1),
            q=heads_of(FastLinear(raw_module(attn.q)), attn.n_heads, attn.d_head),
            k=heads_of(FastLinear(raw_module(attn.k)), kv_heads, attn.d_head),
            v=heads_of(FastLinear(raw_module(attn.v)), kv_heads, attn.d_head),
            o=FastLinear(raw_module(attn.o)), heads=attn.n_heads, kv_heads=kv_heads, d_head=attn.d_head,
            scale=float(attn.scale), softcap=cap if cap > 0 else None,
            rotary=Rotary(lambda n, r=rotary: (r.cos_cached, r.sin_cached), turn=rotary._rotate_half) if rotary is not None else None,
            ln2=None if block.cfg.attn_only else raw_module(block.ln2), mlp=mlp,
        ))
    cap = float(getattr(native, "output_logits_soft_cap", -1.0))
    return ModelMaths(embed, blocks, raw_module(native.ln_out), FastLinear(raw_module(native.head)), int(cfg.n_ctx),
                      cap if cap > 0 else None)


def hf_maths(model: Any) -> ModelMaths | str:
    """The pieces of a Hugging Face model under a TransformerBridge, for the families listed in the module doc."""
    hf = model.original_model
    name = type(hf).__name__
    devices = {parameter.device for parameter in hf.parameters()}
    if getattr(hf, "hf_device_map", None) and len(set(hf.hf_device_map.values())) > 1 or len(devices) > 1 \
            or any(device.type == "meta" for device in devices):
        return "the model is split across devices (device_map): its accelerate hooks move the weights per block"
    try:
        if name == "GPT2LMHeadModel":
            return _gpt2(hf)
        if name == "GPTNeoXForCausalLM":
            return _neox(hf)
        if name in LLAMA_LAYOUT:
            return _llama_layout(hf)
    except AttributeError as error:  # a layout this reader does not know (another transformers version)
        return f"an unexpected {name} layout ({error})"
    return f"{name} has no fast path here (the exact fallback runs the model itself)"


def _rotary_tables(rotary: Any, d_head: int, layer_type: str | None = None) -> Any:
    """`tables(n)` from a Hugging Face rotary module: its own cos/sin for positions 0..n-1."""
    takes_type = "layer_type" in inspect.signature(rotary.forward).parameters

    def tables(n: int) -> tuple[Tensor, Tensor]:
        inv = next((b for b in rotary.buffers()), None)
        probe = torch.zeros(1, n, d_head, dtype=torch.float32, device=inv.device if inv is not None else None)
        positions = torch.arange(n, device=probe.device)[None]
        with torch.inference_mode():
            cos, sin = rotary(probe, positions, layer_type) if takes_type else rotary(probe, positions)
        return cos[0], sin[0]

    return tables


def _gpt2(hf: Any) -> ModelMaths | str:
    config = hf.config
    if getattr(config, "scale_attn_by_inverse_layer_idx", False) or getattr(config, "reorder_and_upcast_attn", False):
        return "GPT-2 with scale_attn_by_inverse_layer_idx or reorder_and_upcast_attn"
    transformer = hf.transformer
    wte, wpe = raw_module(transformer.wte), raw_module(transformer.wpe)
    d, heads = config.n_embd, config.n_head
    d_head = d // heads
    scale = float(d_head) ** 0.5 if getattr(config, "scale_attn_weights", True) else 1.0
    blocks = []
    for layer in transformer.h:
        layer = raw_module(layer)
        attn, mlp = raw_module(layer.attn), raw_module(layer.mlp)
        qkv, proj = raw_module(attn.c_attn), raw_module(attn.c_proj)
        fc, out = raw_module(mlp.c_fc), raw_module(mlp.c_proj)  # Conv1D: weight [in, out]
        q, k, v = (projection(lambda i=i, qkv=qkv: (qkv.weight[:, i * d:(i + 1) * d].T, qkv.bias[i * d:(i + 1) * d])) for i in range(3))
        fc_in = projection(lambda fc=fc: (fc.weight.T, fc.bias))
        fc_out = projection(lambda out=out: (out.weight.T, out.bias))
        blocks.append(Block(
            ln1=raw_module(layer.ln_1), q=heads_of(q, heads, d_head), k=heads_of(k, heads, d_head), v=heads_of(v, heads, d_head),
            o=projection(lambda proj=proj: (proj.weight.T, proj.bias)), heads=heads, kv_heads=heads, d_head=d_head, scale=scale,
            ln2=raw_module(layer.ln_2), mlp=(lambda x, i=fc_in, o=fc_out, act=raw_module(mlp.act): o(act(i(x)))),
        ))
    return ModelMaths(lambda tokens, positions: wte(tokens) + wpe(positions), blocks, raw_module(transformer.ln_f),
                      FastLinear(raw_module(hf.lm_head)), int(config.n_positions))


def _neox(hf: Any) -> ModelMaths | str:
    config = hf.config
    body = hf.gpt_neox
    embed_in = raw_module(body.embed_in)
    heads, d = config.num_attention_heads, config.hidden_size
    d_head = d // heads
    rotary = Rotary(_rotary_tables(raw_module(body.rotary_emb), d_head))
    blocks = []
    for layer in body.layers:
        layer = raw_module(layer)
        attn, mlp = raw_module(layer.attention), raw_module(layer.mlp)
        fused = FastLinear(raw_module(attn.query_key_value))  # output [.., heads, (q, k, v), d_head]

        def qkv(x: Tensor, fused: Any = fused) -> tuple[Tensor, Tensor, Tensor]:
            parts = fused(x).unflatten(-1, (heads, 3, d_head))
            return parts[..., 0, :], parts[..., 1, :], parts[..., 2, :]

        def part(i: int, qkv: Any = qkv) -> Any:
            return lambda x: qkv(x)[i]

        up, down = FastLinear(raw_module(mlp.dense_h_to_4h)), FastLinear(raw_module(mlp.dense_4h_to_h))
        blocks.append(Block(
            ln1=raw_module(layer.input_layernorm), q=part(0), k=part(1), v=part(2), qkv=qkv,
            o=FastLinear(raw_module(attn.dense)), heads=heads, kv_heads=heads, d_head=d_head,
            scale=1.0 / float(attn.scaling), rotary=rotary, ln2=raw_module(layer.post_attention_layernorm),
            mlp=(lambda x, u=up, o=down, act=raw_module(mlp.act): o(act(u(x)))), parallel=bool(config.use_parallel_residual),
        ))
    return ModelMaths(lambda tokens, positions: embed_in(tokens), blocks, raw_module(body.final_layer_norm),
                      FastLinear(raw_module(getattr(hf, "lm_head", None) or hf.embed_out)), int(config.max_position_embeddings))


def _llama_layout(hf: Any) -> ModelMaths | str:
    config = getattr(hf.config, "text_config", hf.config)
    body = hf.model
    embed = raw_module(body.embed_tokens)  # Gemma's scales by sqrt(d) in its own forward
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    d_head = getattr(config, "head_dim", None) or config.hidden_size // heads
    rotary_module = raw_module(body.rotary_emb)
    layer_types = getattr(config, "layer_types", None)
    rotaries: dict[Any, Rotary] = {}
    blocks = []
    for index, layer in enumerate(body.layers):
        layer = raw_module(layer)
        attn, mlp = raw_module(layer.self_attn), raw_module(layer.mlp)
        layer_type = layer_types[index] if layer_types else None
        if layer_type not in rotaries:
            rotaries[layer_type] = Rotary(_rotary_tables(rotary_module, d_head, layer_type))
        window = getattr(attn, "sliding_window", None)
        if window is None and type(hf).__name__ == "MistralForCausalLM":
            window = getattr(config, "sliding_window", None)
        q_norm = raw_module(attn.q_norm) if hasattr(attn, "q_norm") else None
        k_norm = raw_module(attn.k_norm) if hasattr(attn, "k_norm") else None
        sandwich = hasattr(layer, "pre_feedforward_layernorm")
        gate, up, down = (FastLinear(raw_module(getattr(mlp, name))) for name in ("gate_proj", "up_proj", "down_proj"))
        cap = getattr(attn, "attn_logit_softcapping", None) or getattr(config, "attn_logit_softcapping", None)
        blocks.append(Block(
            ln1=raw_module(layer.input_layernorm),
            q=heads_of(FastLinear(raw_module(attn.q_proj)), heads, d_head, q_norm),
            k=heads_of(FastLinear(raw_module(attn.k_proj)), kv_heads, d_head, k_norm),
            v=heads_of(FastLinear(raw_module(attn.v_proj)), kv_heads, d_head),
            o=FastLinear(raw_module(attn.o_proj)), heads=heads, kv_heads=kv_heads, d_head=d_head, scale=1.0 / float(attn.scaling),
            rotary=rotaries[layer_type], softcap=float(cap) if cap else None, window=int(window) if window else None,
            post_attn=raw_module(layer.post_attention_layernorm) if sandwich else None,
            ln2=raw_module(layer.pre_feedforward_layernorm if sandwich else layer.post_attention_layernorm),
            mlp=(lambda x, g=gate, u=up, o=down, act=raw_module(mlp.act_fn): o(act(g(x)) * u(x))),
            post_mlp=raw_module(layer.post_feedforward_layernorm) if sandwich else None,
        ))
    cap = getattr(config, "final_logit_softcapping", None)
    return ModelMaths(lambda tokens, positions: embed(tokens), blocks, raw_module(body.norm), FastLinear(raw_module(hf.lm_head)),
                      int(config.max_position_embeddings), float(cap) if cap else None)
