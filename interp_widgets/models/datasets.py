"""The embedded corpus as data for compute: `compute` is handed its tokens and never loads them itself.

`held_out_index` is the activation index over the held-out split that the feature browser and the
dashboards read by default (compute.features.index.build_index over `validation_tokens`).
"""

from __future__ import annotations

from typing import Any

from interp_widgets.compute.features.index import ActivationIndex, build_index
from interp_widgets.models.loaders import validation_tokens


def held_out_index(model: Any, sae: Any, max_tokens: int | None = 65_536, context: int = 128, **options: Any) -> ActivationIndex:
    """The activation index of `sae` over the embedded corpus's held-out split: its first `max_tokens`
    tokens (None: all) in sequences of `context`, each led by the model's BOS. `options` go to
    build_index (hook, batch, include_bos, progress)."""
    tokens = validation_tokens(context, max_tokens, bos=model.tokenizer.bos_token_id)  # [n_sequences, context]
    return build_index(model, sae, tokens=tokens, context=context, max_tokens=max_tokens, **options)
