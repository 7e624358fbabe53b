"""What a generation may ask for: how many tokens, how to sample, when to stop (checked before the first step).

`check_sampling` refuses a bad `max_new_tokens` (also one past the model's context), temperature, top_p or
seed with the fix; `stop_rule` turns `stop` (token ids and/or strings) into the ids and texts that end a run.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from interp_widgets.errors import InterpWidgetsError


def stop_rule(model: Any, stop: Any) -> tuple[set[int], list[str]]:
    """`(token ids, texts)`: a run ends after the token that is one of the ids or completes one of the texts."""
    items = [] if stop is None else [stop] if isinstance(stop, (str, int)) else list(stop)
    ids, texts = set(), []
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= item < model.cfg.d_vocab:
            ids.add(int(item))
        elif isinstance(item, str) and item:
            texts.append(item)
        else:
            raise InterpWidgetsError(f"stop item {item!r} is neither a token id (0 to {model.cfg.d_vocab - 1}) nor a non-empty string.")
    return ids, texts


def check_sampling(max_new_tokens: Any, temperature: Any, top_p: Any, seed: Any, prompt_length: int, n_ctx: int) -> None:
    """Refuse sampling settings the decoder cannot honour, each with its fix."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
        raise InterpWidgetsError(f"max_new_tokens must be a positive whole number, got {max_new_tokens!r}.")
    if prompt_length + max_new_tokens > n_ctx:
        raise InterpWidgetsError(f"the prompt is {prompt_length} tokens and max_new_tokens is {max_new_tokens}, beyond the "
                                 f"model's context of {n_ctx}: ask for at most {n_ctx - prompt_length} new tokens or shorten the prompt.")
    if not isinstance(temperature, Real) or not math.isfinite(temperature) or temperature < 0:
        raise InterpWidgetsError(f"temperature must be a finite number >= 0 (0: always the most likely token), got {temperature!r}.")
    if not isinstance(top_p, Real) or not 0 < top_p <= 1:
        raise InterpWidgetsError(f"top_p must be in (0, 1], got {top_p!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InterpWidgetsError(f"seed must be a whole number, got {seed!r}.")
