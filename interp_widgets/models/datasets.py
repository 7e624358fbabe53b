"""The embedded corpus as data for compute: `compute` is handed its tokens and never loads them itself.

`held_out_index` is the activation index over the held-out split that the feature browser and the
dashboards read by default (compute.features.index.build_index over `validation_tokens`). A model
with another tokenizer (any Hugging Face model) gets the same held-out text, decoded with the
embedded tokenizer and tokenized with its own.
"""

from __future__ import annotations

import functools
from typing import Any

from interp_widgets.compute.features.index import ActivationIndex, build_index
from interp_widgets.models.loaders import embedded_dir, validation_tokens


@functools.lru_cache(maxsize=1)
def _embedded_tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_dir() / "tokenizer"))


def _shares_embedded_tokenizer(model: Any) -> bool:
    return model.tokenizer.get_vocab() == _embedded_tokenizer().get_vocab()


def held_out_texts(max_tokens: int | None = 65_536, context: int = 128) -> list[str]:
    """The held-out split's first `max_tokens` embedded tokens as text, one string per window of `context`."""
    windows = validation_tokens(context, max_tokens)[:, 1:]  # without the leading BOS
    return _embedded_tokenizer().batch_decode(windows.tolist(), skip_special_tokens=True)


def held_out_index(model: Any, sae: Any, max_tokens: int | None = 65_536, context: int = 128, **options: Any) -> ActivationIndex:
    """The activation index of `sae` over the embedded corpus's held-out split: its first `max_tokens`
    tokens (None: all) in sequences of `context`, each led by the model's BOS. `options` go to
    build_index (hook, batch, include_bos, progress)."""
    context = min(context, int(model.cfg.n_ctx))
    if _shares_embedded_tokenizer(model):
        tokens = validation_tokens(context, max_tokens, bos=model.tokenizer.bos_token_id)  # [n_sequences, context]
        return build_index(model, sae, tokens=tokens, context=context, max_tokens=max_tokens, **options)
    # another vocabulary: the same text in its own tokens (a few more windows of text than tokens needed)
    texts = held_out_texts(None if max_tokens is None else 2 * max_tokens, context)
    return build_index(model, sae, texts=texts, context=context, max_tokens=max_tokens, **options)
