"""Tiny random models of every family transformers and transformer-lens' bridge both support, and native configs.

Each Hugging Face family is built from its config (2 layers, d_model 64, the toy tokenizer's
vocabulary), its norm weights and biases moved off their initial values (as in a trained model),
saved with `save_pretrained` and loaded through `iw.load_model(path)`: the path users take.
Native configs go through `TransformerBridge.boot_native` (the embedded models' path).
Other test folders may use `hf_family(name)` / `native_family(name)` (cached per process).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import torch

LAYERS, WIDTH, HEADS, CONTEXT = 2, 64, 4, 128

# family -> (config class name in transformers, config keywords): every one keeps 2 layers, width 64, 4 heads
HF_FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "gpt2": ("GPT2Config", dict(n_layer=LAYERS, n_embd=WIDTH, n_head=HEADS, n_positions=CONTEXT, activation_function="gelu_new")),
    "neox": ("GPTNeoXConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, intermediate_size=256,
                                   max_position_embeddings=CONTEXT, rotary_pct=0.25)),
    "llama": ("LlamaConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                  intermediate_size=128, max_position_embeddings=CONTEXT)),
    "mistral": ("MistralConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                      intermediate_size=128, max_position_embeddings=CONTEXT, sliding_window=None)),
    "qwen2": ("Qwen2Config", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                  intermediate_size=128, max_position_embeddings=CONTEXT)),
    "qwen3": ("Qwen3Config", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                  head_dim=16, intermediate_size=128, max_position_embeddings=CONTEXT)),
    "gemma": ("GemmaConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=1,
                                  head_dim=16, intermediate_size=128, max_position_embeddings=CONTEXT)),
    # soft-caps (attention 50, final 30), sandwich norms; the window (8) shorter than the prompts: sliding on
    "gemma2": ("Gemma2Config", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                    head_dim=16, intermediate_size=128, max_position_embeddings=CONTEXT, sliding_window=8,
                                    final_logit_softcapping=3.0, attn_logit_softcapping=5.0)),
    # the window longer than any prompt: sliding off
    "gemma2-nowindow": ("Gemma2Config", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                             head_dim=16, intermediate_size=128, max_position_embeddings=CONTEXT, sliding_window=CONTEXT,
                                             final_logit_softcapping=3.0, attn_logit_softcapping=5.0)),
    "gemma3": ("Gemma3TextConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                        head_dim=16, intermediate_size=128, max_position_embeddings=CONTEXT, sliding_window=8,
                                        layer_types=["sliding_attention", "full_attention"])),
    "olmo": ("OlmoConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, intermediate_size=128,
                                max_position_embeddings=CONTEXT)),
    "olmo2": ("Olmo2Config", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, intermediate_size=128,
                                  max_position_embeddings=CONTEXT)),
    "phi": ("PhiConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, intermediate_size=256,
                              max_position_embeddings=CONTEXT, partial_rotary_factor=0.5)),
    "phi3": ("Phi3Config", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                intermediate_size=128, max_position_embeddings=CONTEXT, pad_token_id=0)),
    "gptj": ("GPTJConfig", dict(n_layer=LAYERS, n_embd=WIDTH, n_head=HEADS, n_positions=CONTEXT, rotary_dim=8)),
    "falcon": ("FalconConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, max_position_embeddings=CONTEXT)),
    "opt": ("OPTConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, ffn_dim=256,
                              max_position_embeddings=CONTEXT, word_embed_proj_dim=WIDTH)),
    "neo": ("GPTNeoConfig", dict(num_layers=LAYERS, hidden_size=WIDTH, num_heads=HEADS, attention_types=[[["global", "local"], 1]],
                                 window_size=8, max_position_embeddings=CONTEXT)),
    "stablelm": ("StableLmConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=HEADS,
                                        intermediate_size=128, max_position_embeddings=CONTEXT)),
    "granite": ("GraniteConfig", dict(num_hidden_layers=LAYERS, hidden_size=WIDTH, num_attention_heads=HEADS, num_key_value_heads=2,
                                      intermediate_size=128, max_position_embeddings=CONTEXT)),
    "bloom": ("BloomConfig", dict(n_layer=LAYERS, hidden_size=WIDTH, n_head=HEADS)),
}

# native TransformerBridge configs (boot_native), each a variation on a small LayerNorm model
_NATIVE_BASE = dict(n_layers=LAYERS, d_model=WIDTH, n_ctx=CONTEXT, d_head=WIDTH // HEADS, n_heads=HEADS, d_mlp=256, act_fn="gelu",
                    normalization_type="LN", seed=0)
NATIVE_FAMILIES: dict[str, dict[str, Any]] = {
    "native-ln": {},
    "native-rms-rotary": dict(normalization_type="RMS", positional_embedding_type="rotary", rotary_dim=8),
    "native-lnpre": dict(normalization_type="LNPre"),
    "native-attn-only": dict(attn_only=True, d_mlp=None),
    "native-gqa": dict(normalization_type="RMS", positional_embedding_type="rotary", rotary_dim=8, n_key_value_heads=2),
    "native-gated": dict(normalization_type="RMS", gated_mlp=True, act_fn="silu", d_mlp=128),
    "native-softcap": dict(normalization_type="RMS", positional_embedding_type="rotary", rotary_dim=8,
                           attn_scores_soft_cap=5.0, output_logits_soft_cap=3.0),
}


def _moved_norms(model: torch.nn.Module, seed: int = 1) -> None:
    """Move every norm's weight and bias off its initial value (ones/zeros), as training does."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            lowered = name.lower()
            if "norm" in lowered or ".ln" in lowered or "ln_" in lowered or "layernorm" in lowered:
                parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))


@functools.lru_cache(maxsize=None)
def hf_family_dir(name: str) -> Path:
    """A saved random model of family `name` (config + weights + the toy tokenizer), once per process."""
    import transformers
    from transformers import AutoModelForCausalLM

    from interp_widgets.models.toy import toy_tokenizer

    tokenizer = toy_tokenizer()
    config_class, keywords = HF_FAMILIES[name]
    config = getattr(transformers, config_class)(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                                 eos_token_id=tokenizer.eos_token_id, **keywords)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    _moved_norms(model)
    path = Path(tempfile.mkdtemp(prefix=f"iw_family_{name}_"))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@functools.lru_cache(maxsize=None)
def hf_family(name: str) -> tuple[Any, Any]:
    """(`iw.load_model(path)` of the saved family, the plain Hugging Face model loaded from the same files)."""
    from transformers import AutoModelForCausalLM

    import interp_widgets as iw

    path = hf_family_dir(name)
    reference = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager").eval()
    return iw.load_model(str(path)), reference


@functools.lru_cache(maxsize=None)
def native_family(name: str) -> Any:
    """A native TransformerBridge of config `name`, with its norms moved off their initial values."""
    from interp_widgets.models.bridge import boot_from_config
    from interp_widgets.models.toy import toy_tokenizer

    tokenizer = toy_tokenizer()
    config = {**_NATIVE_BASE, "d_vocab": len(tokenizer), **NATIVE_FAMILIES[name]}
    model = boot_from_config(config, tokenizer)
    _moved_norms(model.original_model)
    return model


ALL_FAMILIES = tuple(HF_FAMILIES) + tuple(NATIVE_FAMILIES)


def family_model(name: str) -> tuple[Any, Any]:
    """(the bridge, the plain Hugging Face model or None for a native config)."""
    return hf_family(name) if name in HF_FAMILIES else (native_family(name), None)
