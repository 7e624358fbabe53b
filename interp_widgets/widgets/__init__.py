"""Thin anywidget classes: traits, the bundled front-end, and request handlers."""

from interp_widgets.widgets.token_highlights import TokenHighlights

__all__ = ["TokenHighlights"]
