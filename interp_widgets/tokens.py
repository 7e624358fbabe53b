"""CircuitsVis-compatible entry points: switch by changing the import.

    from circuitsvis.tokens import colored_tokens      # static HTML
    from interp_widgets.tokens import colored_tokens   # live widget, same arguments
"""

from __future__ import annotations

from typing import Any, Sequence

from interp_widgets.widgets.token_highlights import TokenHighlights, as_series


def colored_tokens(
    tokens: Sequence[str],
    values: Any,
    min_value: float | None = None,
    max_value: float | None = None,
    negative_color: str | None = None,
    positive_color: str | None = None,
) -> TokenHighlights:
    """Tokens coloured by one value each (`values` `[n_tokens]`).

    The colour arguments are accepted for compatibility; the widget keeps its colour-blind-aware
    blue/orange scale.
    """
    return TokenHighlights(tokens=list(tokens), values=values, vmin=min_value, vmax=max_value)


def colored_tokens_multi(tokens: Sequence[str], values: Any, labels: Sequence[str], shared_scale: bool = True) -> TokenHighlights:
    """Tokens with several switchable series; `values` is `[n_tokens, n_labels]` as in CircuitsVis.

    One colour scale serves every series (`shared_scale`), so switching series never switches
    between a diverging and a sequential scale; the legend says which scale is shown.
    """
    series = as_series(values)
    if series.shape[0] == len(tokens) and series.shape[1] == len(labels):
        series = series.T
    return TokenHighlights(tokens=list(tokens), values=series, series_names=list(labels), shared_scale=shared_scale)
