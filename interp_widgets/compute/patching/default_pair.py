"""Defaults the workbench (`iw.explore`) needs before the user has chosen them: a patching pair for a prompt.

Activation patching compares a clean prompt with a corrupt one of the same length and a metric
of the logits, and divides each patched run's change by the clean-minus-corrupt gap: a pair
whose runs hardly differ on the metric makes every cell noise over a near-zero gap. So the
default corruption is a swap the prediction depends on: one token replaced by a near
single-token neighbour in the embedding (same leading space and case, so the length stays;
`tasks.suggest_replacements`), tried at positions across the prompt in one batch, keeping the
swap that changes the model's top next token most (the largest logit-difference gap). The
metric is the logit difference between the clean run's top next token and the corrupt run's
(the clean run's second best when no swap changes the answer).
"""

from __future__ import annotations

from typing import Any

import torch

from interp_widgets.compute.core.hooks import as_tokens
from interp_widgets.compute.patching.activation import token_pair
from interp_widgets.compute.patching.tasks import suggest_replacements
from interp_widgets.errors import InterpWidgetsError

CANDIDATES = 2  # replacements tried per position
MAX_SWAPS = 48  # swaps tried in all (positions spread over the prompt): one batched forward pass per BATCH of them
BATCH = 16


def corrupt_prompt(model: Any, clean: str) -> str:
    """`clean` with the one-token swap (a near neighbour, the same length in tokens) that moves the model's next-token
    prediction most: the swap whose top next token differs from the clean run's with the largest logit-difference gap."""
    tokens = as_tokens(model, clean)  # [1, pos], BOS first
    swaps = _swaps(model, clean, tokens)
    if not swaps:
        raise InterpWidgetsError(f"no single-token replacement keeps {clean!r} the same length: type a corrupt prompt "
                                 "in the patching tab (as many tokens as the clean one).")
    with torch.inference_mode():
        rows = torch.cat([tokens, *(ids for _, _, ids in swaps)])  # [1 + swaps, pos]
        logits = torch.cat([model(rows[i:i + BATCH], return_type="logits")[:, -1].float() for i in range(0, rows.shape[0], BATCH)])
    clean_logits = logits[0]  # [vocab]
    answer, second = clean_logits.topk(2).indices.tolist()
    best_text, best_key = swaps[0][0], (False, float("-inf"))
    for (text, position, _), swapped in zip(swaps, logits[1:]):
        top = int(swapped.argmax())
        wrong = top if top != answer else second
        gap = float((clean_logits[answer] - clean_logits[wrong]) - (swapped[answer] - swapped[wrong]))
        # a swap that changes the answer first; then the largest gap, a swap before the last token counted double (its
        # effect must travel to the prediction: something to see in the map, where a last-token swap shows one cell)
        key = (top != answer, gap * (2.0 if position < tokens.shape[1] - 1 else 1.0))
        if key > best_key:
            best_text, best_key = text, key
    return best_text


def _swaps(model: Any, clean: str, tokens: torch.Tensor) -> list[tuple[str, int, torch.Tensor]]:
    """Up to MAX_SWAPS one-token swaps of `clean` that keep its length: (corrupt prompt, position, its tokens [1, pos]).
    Whole words are swapped where the prompt has any (a token that starts a word and is not continued by the next)."""
    n = tokens.shape[1]
    pieces = [model.tokenizer.decode([int(i)]) for i in tokens[0]]
    whole = [p for p in range(1, n) if (p == 1 or pieces[p].startswith(" ")) and (p == n - 1 or not pieces[p + 1][:1].isalnum())]
    candidates = whole or list(range(1, n))
    per_position = max(1, MAX_SWAPS // CANDIDATES)
    step = max(1, len(candidates) // per_position)
    out: list[tuple[str, int, torch.Tensor]] = []
    for position in candidates[::step][:per_position]:
        for word in suggest_replacements(model, tokens, position, k=CANDIDATES):
            ids = tokens[0].tolist()
            ids[position] = model.tokenizer(word, add_special_tokens=False)["input_ids"][0]
            candidate = model.tokenizer.decode(ids[1:])
            if candidate == clean:
                continue
            try:
                _, corrupt_tokens = token_pair(model, clean, candidate)
            except InterpWidgetsError:
                continue
            out.append((candidate, position, corrupt_tokens))
    return out


def patching_pair(model: Any, clean: str, corrupt: str = "") -> tuple[str, tuple[int, int]]:
    """The corrupt prompt (as given, or `corrupt_prompt`) and the metric's `(answer, wrong)` token ids: the model's top
    next tokens on each run (the clean run's second best when they agree)."""
    corrupt = corrupt or corrupt_prompt(model, clean)
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)  # [1, pos] each
    with torch.inference_mode():
        logits = model(torch.cat([clean_tokens, corrupt_tokens]), return_type="logits")[:, -1]  # [2, vocab]
    clean_best = logits[0].topk(2).indices.tolist()
    corrupt_best = int(logits[1].argmax())
    wrong = corrupt_best if corrupt_best != clean_best[0] else clean_best[1]
    return corrupt, (clean_best[0], wrong)
