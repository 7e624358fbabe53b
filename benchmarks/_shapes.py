"""Shared by the benchmarks: random models of GPT-2 small's shape (native, and Hugging Face models of three
families saved and loaded the way users load them), and the common command-line options.

Speed depends on shapes, not on trained weights, so GPT-2 small's shape (12 layers, d_model 768,
12 heads, d_mlp 3,072, vocabulary 50,257) is built from a config with random weights: offline,
no download. Its tokenizer is the small toy one (the ids it writes all fit the 50,257 rows).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

GPT2_SMALL = dict(n_layers=12, d_model=768, n_ctx=1024, d_head=64, n_heads=12, d_mlp=3072, d_vocab=50257, act_fn="gelu_new",
                  normalization_type="LN", positional_embedding_type="standard", attn_only=False)
GPT2_LABEL = "GPT-2-small-shaped random"


def gpt2_small_shaped(device: str | None = None, seed: int = 0) -> Any:
    """A `TransformerBridge` of GPT-2 small's shape with seeded random weights (learned positions, LayerNorm, GPT-2's
    tanh-approximate GELU, `gelu_new`)."""
    from interp_widgets.models.bridge import boot_from_config
    from interp_widgets.models.toy import toy_tokenizer

    return boot_from_config({**GPT2_SMALL, "seed": seed}, toy_tokenizer(), device=device)


# The path users take: a Hugging Face model saved with save_pretrained and loaded with iw.load_model(path).
HF_PREFIX = "HF-path"
HF_SHAPES = {
    "GPT-2-small-shaped GPT2LMHeadModel": ("GPT2Config", dict(n_layer=12, n_embd=768, n_head=12, n_positions=1024, vocab_size=50257,
                                                              activation_function="gelu_new")),
    "Pythia-160M-shaped GPTNeoX": ("GPTNeoXConfig", dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12,
                                                         intermediate_size=3072, vocab_size=50304, max_position_embeddings=2048,
                                                         rotary_pct=0.25, use_parallel_residual=True)),
    "SmolLM2-135M-shaped Llama": ("LlamaConfig", dict(num_hidden_layers=30, hidden_size=576, num_attention_heads=9, num_key_value_heads=3,
                                                      intermediate_size=1536, vocab_size=49152, max_position_embeddings=2048,
                                                      tie_word_embeddings=True)),
}
HF_GPT2 = "GPT-2-small-shaped GPT2LMHeadModel"


def hf_shaped(name: str, seed: int = 0) -> tuple[Any, str]:
    """`(iw.load_model(path), path)` for a random Hugging Face model of shape `name` (`HF_SHAPES`), saved with
    `save_pretrained` (and the toy tokenizer) in a temporary directory: the bridge over Hugging Face modules."""
    import tempfile

    import torch
    import transformers

    import interp_widgets as iw
    from interp_widgets.models.toy import toy_tokenizer

    config_class, keywords = HF_SHAPES[name]
    tokenizer = toy_tokenizer()
    config = getattr(transformers, config_class)(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, **keywords)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    path = tempfile.mkdtemp(prefix="iw_bench_hf_")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    del model
    return iw.load_model(path), path


def gpt2_prompt(model: Any, n_tokens: int) -> tuple[Any, list[str]]:
    """The first `n_tokens` of the package's toy corpus, repeated as often as needed (BOS first): ids `[n_tokens]`
    and their token strings."""
    from importlib import resources

    text = resources.files("interp_widgets.models").joinpath("toy_corpus.txt").read_text(encoding="utf-8")
    ids = model.to_tokens(text * (1 + 8 * n_tokens // len(text)), truncate=False)[0, :n_tokens]
    return ids, [model.tokenizer.decode([i]) for i in ids.tolist()]


def gpt2_feature_values(n_tokens: int, n_features: int, device: str | None = None, d_sae: int = 6144, k: int = 32,
                        hook_name: str = "blocks.6.hook_resid_post") -> tuple[list[str], Any, str]:
    """Token strings, `[n_tokens, n_features]` activations and a description: random firing features of a
    random TopK SAE (L0 `k`) on the GPT-2-small-shaped model's `hook_name` over a toy-corpus prompt.

    A trained SAE's feature is zero on most tokens, as these are (a random ReLU SAE would fire on half).
    """
    import torch

    from interp_widgets.compute.core.hooks import activations_at
    from interp_widgets.sae.model import TopKSAE

    model = gpt2_small_shaped(device)
    ids, strings = gpt2_prompt(model, n_tokens)
    sae = TopKSAE(GPT2_SMALL["d_model"], d_sae, k=k, hook_name=hook_name, seed=0).to(model.cfg.device)
    with torch.inference_mode():
        codes = sae.encode(activations_at(model, ids[None].to(model.cfg.device), hook_name))[0].float().cpu()  # [pos, d_sae]
    firing = ((codes > 0).sum(0) > 0).nonzero()[:, 0]
    chosen = firing[torch.randperm(firing.numel(), generator=torch.Generator().manual_seed(0))[:n_features]]
    values = codes[:, chosen].contiguous()  # [pos, n_features]
    density = float((values > 0).float().mean())
    return strings, values, f"TopK SAE d_sae {d_sae:,} L0 {k} at {hook_name}, random firing features (nonzero on {density:.1%} of tokens)"


def save_native(model: Any, directory: Any, dtype: Any) -> None:
    """Write a random-shaped model in our own format (`config.json` with GPT2_SMALL, `model.safetensors`
    in `dtype`): each tensor once (the bridge lists some under alias names), wrapper names stripped."""
    import json
    from pathlib import Path

    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    unique: dict[str, Any] = {}
    seen: set[int] = set()
    for key, tensor in model.original_model.state_dict().items():
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            unique[key.replace("._original_component", "")] = tensor.detach().to(dtype).contiguous().clone()
    save_file(unique, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps({"config": {**GPT2_SMALL, "seed": 0}}))


def hf_options(parser: argparse.ArgumentParser) -> None:
    """--hf-only (only the Hugging Face path's lines, GPT-2's shape) and --hf-all (with it: all three shapes)."""
    parser.add_argument("--hf-only", action="store_true", help="only the Hugging Face path's lines (GPT-2's shape)")
    parser.add_argument("--hf-all", action="store_true", help="with --hf-only: all three Hugging Face shapes")


def options(description: str | None, more: Callable[[argparse.ArgumentParser], Any] | None = None) -> argparse.Namespace:
    """--quick (smaller sizes, fewer repeats: what run_all.py --quick passes) and --device (cpu, cuda);
    `more(parser)` adds a benchmark's own options."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    if more is not None:
        more(parser)
    return parser.parse_args()
