"""CircuitsVis-compatible attention views: switch by changing the import.

    from circuitsvis.attention import attention_heads        # static HTML, script from a CDN
    from interp_widgets.attention import attention_heads     # live widget, same arguments
"""

from __future__ import annotations

from typing import Any, Sequence

from interp_widgets.widgets.attention_view import AttentionView


def attention_heads(
    attention: Any,
    tokens: Sequence[str],
    attention_head_names: Sequence[str] | None = None,
    max_value: float | None = None,
    min_value: float | None = None,
    negative_color: str | None = None,
    positive_color: str | None = None,
    mask_upper_tri: bool | None = None,
) -> AttentionView:
    """Heads of one layer, `attention [n_heads, dest, src]`, over `tokens`.

    Head names, colour and range arguments are accepted for compatibility: heads are named by
    index, weights are shown on [0, 1], and the upper triangle (future tokens) is never drawn.
    """
    return AttentionView.from_patterns(attention, tokens)


def attention_patterns(tokens: Sequence[str], attention: Any) -> AttentionView:
    """CircuitsVis' `attention_patterns(tokens, attention)`: the same view."""
    return AttentionView.from_patterns(attention, tokens)
