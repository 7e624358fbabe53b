"""What each attention head does: role scores measured on a prompt and on repeated random tokens.

- Previous-token score of a head: its mean attention from each position to the one before, on
  the given text (the user's prompt in the attention view). Query position 1 is left out: its
  previous token is BOS, which many heads attend to by default, so it says nothing about a
  previous-token head; the mean runs over queries 2 to the end.
- Induction score of a head: on a block of seeded random tokens repeated once, `[BOS, A, A]`
  (`repeated_random_tokens`, *not* the user's prompt: induction needs a repeat to show), its mean
  attention from each token of the second copy to the token *after* that token's first
  occurrence (the one to copy next). The loss on the second copy far below the first is the
  behavioural sign of induction.
- Duplicate-token score: on the same repeated random tokens `[BOS, A, A]`, attention from each token of the second copy
  to its own earlier occurrence. Attention-to-BOS score: mean attention to position 0 (a head
  "resting" on BOS does little on that token).

Shapes: patterns `[n_layers, batch, n_heads, query, key]`; every score `[n_layers, n_heads]`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import model_device


def attention_patterns(model: Any, tokens: Tensor) -> Tensor:
    """Attention patterns `[n_layers, batch, n_heads, query, key]` for `tokens [batch, pos]`."""
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(model.cfg.n_layers)]
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in names)
    return torch.stack([cache[name].float() for name in names])


def previous_token_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]`: mean attention to the previous position, `[.., heads]`.

    Over queries 2 to the end: query 1's previous position is BOS, where many heads rest by default.
    """
    diagonal = patterns.diagonal(offset=-1, dim1=-2, dim2=-1)  # query q, key q - 1
    return diagonal[..., 1:].mean(dim=(-3, -1))  # the query at 1 has only BOS behind it: left out


def previous_token_scores(model: Any, tokens: Tensor) -> Tensor:
    """Mean attention to the previous position, per head: `[n_layers, n_heads]`."""
    return previous_token_score(attention_patterns(model, tokens))


def repeated_random_tokens(model: Any, n_sequences: int = 8, half: int = 60, seed: int = 0) -> Tensor:
    """`[n, 1 + 2 * half]`: BOS, then a block of random tokens, then the same block again."""
    generator = torch.Generator().manual_seed(seed)
    bos = model.tokenizer.bos_token_id
    block = torch.randint(1, model.cfg.d_vocab, (n_sequences, half), generator=generator)
    block[block == bos] = 1
    return torch.cat([torch.full((n_sequences, 1), bos), block, block], dim=1).to(model_device(model))


def induction_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]` on `[BOS, A, A]`: attention to the token to copy, `[.., heads]`.

    The second copy of token i sits at 1 + half + i; the token after its first copy at 2 + i: a
    constant offset of half - 1 below the diagonal, read for the `half` queries of the second copy.
    """
    half = (patterns.shape[-1] - 1) // 2
    stripe = patterns.diagonal(offset=-(half - 1), dim1=-2, dim2=-1)  # query q, key q - half + 1
    return stripe[..., -half:].mean(dim=(-3, -1))


def duplicate_token_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]` on `[BOS, A, A]`: attention to the earlier copy of the same token, `[.., heads]`."""
    half = (patterns.shape[-1] - 1) // 2
    stripe = patterns.diagonal(offset=-half, dim1=-2, dim2=-1)  # query q, key q - half
    return stripe[..., -half:].mean(dim=(-3, -1))


def bos_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]`: mean attention to position 0 over queries after it, `[.., heads]`."""
    return patterns[..., 1:, 0].mean(dim=(-3, -1))


# What each of `head_scores`' numbers is measured on, in words a view or a table can show as they are.
HEAD_SCORE_LABELS = {
    "previous_token": "previous-token score on the prompt (queries from position 2: position 1's previous token is BOS)",
    "induction": "induction score on repeated random tokens (seeded; not the prompt)",
    "duplicate_token": "duplicate-token score on repeated random tokens (seeded; not the prompt)",
    "bos": "attention to BOS on the prompt",
}


def head_scores(model: Any, text_tokens: Tensor, n_sequences: int = 4, half: int = 40, seed: int = 0) -> dict[str, Tensor]:
    """Every head's role scores, each `[n_layers, n_heads]`: previous-token and attention-to-BOS on
    `text_tokens [batch, pos]`; induction and duplicate-token on `n_sequences` blocks of `half` seeded
    random tokens repeated once, whatever the text. `HEAD_SCORE_LABELS` says so in words."""
    text = attention_patterns(model, text_tokens)
    repeated = attention_patterns(model, repeated_random_tokens(model, n_sequences, half, seed))
    return {
        "previous_token": previous_token_score(text),
        "induction": induction_score(repeated),
        "duplicate_token": duplicate_token_score(repeated),
        "bos": bos_score(text),
    }


def induction_scores(model: Any, tokens: Tensor) -> Tensor:
    """Per head `[n_layers, n_heads]`, on `repeated_random_tokens`: attention to the token to copy."""
    return induction_score(attention_patterns(model, tokens))


def repeated_sequence_loss(model: Any, tokens: Tensor) -> tuple[float, float]:
    """Mean next-token loss on the first copy and on the second copy of a repeated block."""
    half = (tokens.shape[1] - 1) // 2
    with torch.inference_mode():
        losses = model(tokens, return_type="loss", loss_per_token=True).float()  # [batch, pos - 1]
    return float(losses[:, 1:half].mean()), float(losses[:, half + 1 :].mean())


