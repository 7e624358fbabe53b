"""Shared by the benchmarks: a random model of GPT-2 small's shape, and the common command-line options.

Speed depends on shapes, not on trained weights, so GPT-2 small's shape (12 layers, d_model 768,
12 heads, d_mlp 3,072, vocabulary 50,257) is built from a config with random weights: offline,
no download. Its tokenizer is the small toy one (the ids it writes all fit the 50,257 rows).
"""

from __future__ import annotations

import argparse
from typing import Any

GPT2_SMALL = dict(n_layers=12, d_model=768, n_ctx=1024, d_head=64, n_heads=12, d_mlp=3072, d_vocab=50257, act_fn="gelu",
                  normalization_type="LN", positional_embedding_type="standard", attn_only=False)
GPT2_LABEL = "GPT-2-small-shaped random"


def gpt2_small_shaped(device: str | None = None, seed: int = 0) -> Any:
    """A `TransformerBridge` of GPT-2 small's shape with seeded random weights (learned positions, LayerNorm, GELU)."""
    from interp_widgets.models.bridge import boot_from_config
    from interp_widgets.models.toy import toy_tokenizer

    return boot_from_config({**GPT2_SMALL, "seed": seed}, toy_tokenizer(), device=device)


def options(description: str | None) -> argparse.Namespace:
    """--quick (smaller sizes, fewer repeats: what run_all.py --quick passes) and --device (cpu, cuda)."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    return parser.parse_args()
