"""A small random-weight model and tokenizer, for tests and demos that need no download.

The weights are random (seeded), so the values it gives are meaningless; it exists so that the
widgets and the maths can be exercised in seconds, anywhere. The tokenizer is a byte-level BPE
trained in milliseconds on a paragraph shipped with the package, so real words split into
realistic pieces.
"""

from __future__ import annotations

import functools
import tempfile
from importlib import resources
from typing import Any

TOY_BOS = "<|endoftext|>"


@functools.lru_cache(maxsize=4)
def toy_tokenizer_dir(vocab_size: int = 512) -> str:
    """Train the toy tokenizer once per process and save it as a Hugging Face tokenizer directory.

    transformer-lens reloads tokenizers by path, so the tokenizer has to live in a directory.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    text = resources.files("interp_widgets.models").joinpath("toy_corpus.txt").read_text(encoding="utf-8")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[TOY_BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(text.splitlines(), trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=TOY_BOS, eos_token=TOY_BOS, pad_token=TOY_BOS
    )
    directory = tempfile.mkdtemp(prefix="interp_widgets_toy_tokenizer_")
    wrapped.save_pretrained(directory)
    return directory


def toy_tokenizer(vocab_size: int = 512) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(toy_tokenizer_dir(vocab_size))


def toy_model(
    seed: int = 0,
    n_layers: int = 2,
    d_model: int = 64,
    n_heads: int = 4,
    d_mlp: int | None = 256,
    n_ctx: int = 128,
    vocab_size: int = 512,
) -> Any:
    """A randomly initialised `TransformerBridge` built from a config: no weights to download.

    `d_mlp=None` gives an attention-only model.
    """
    from interp_widgets.models.bridge import boot_from_config

    tokenizer = toy_tokenizer(vocab_size)
    config = dict(
        n_layers=n_layers,
        d_model=d_model,
        n_ctx=n_ctx,
        d_head=d_model // n_heads,
        n_heads=n_heads,
        d_mlp=d_mlp,
        d_vocab=len(tokenizer),
        act_fn="gelu",
        normalization_type="LN",
        attn_only=d_mlp is None,
        seed=seed,
    )
    return boot_from_config(config, tokenizer)
