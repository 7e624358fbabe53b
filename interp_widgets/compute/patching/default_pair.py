"""Defaults the workbench (`iw.explore`) needs before the user has chosen them: a patching pair for a prompt.

Activation patching compares a clean prompt with a corrupt one of the same length and a metric
of the logits. Given only a prompt, a usable default is: replace one token by its nearest
single-token neighbour in the embedding (same leading space and case, so the length stays;
`tasks.suggest_replacements`), and measure the logit difference between the model's top next
token on the clean prompt and its top next token on the corrupt one (the second-best clean token
when both runs agree).
"""

from __future__ import annotations

from typing import Any

import torch

from interp_widgets.compute.core.hooks import as_tokens
from interp_widgets.compute.patching.activation import token_pair
from interp_widgets.compute.patching.tasks import suggest_replacements
from interp_widgets.errors import InterpWidgetsError

CANDIDATES = 3  # replacements tried per position


def corrupt_prompt(model: Any, clean: str) -> str:
    """`clean` with one token (the earliest that can be) swapped for a near neighbour of the same length in tokens."""
    tokens = as_tokens(model, clean)  # [1, pos], BOS first
    for position in range(1, tokens.shape[1]):
        for word in suggest_replacements(model, tokens, position, k=CANDIDATES):
            ids = tokens[0].tolist()
            ids[position] = model.tokenizer(word, add_special_tokens=False)["input_ids"][0]
            candidate = model.tokenizer.decode(ids[1:])
            try:
                token_pair(model, clean, candidate)
            except InterpWidgetsError:
                continue
            if candidate != clean:
                return candidate
    raise InterpWidgetsError(f"no single-token replacement keeps {clean!r} the same length: type a corrupt prompt "
                             "in the patching tab (as many tokens as the clean one).")


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
