"""Thin anywidget classes: traits, the bundled front-end, and request handlers."""

from interp_widgets.widgets.attention import AttentionView
from interp_widgets.widgets.histogram import HistogramView
from interp_widgets.widgets.logit_lens import LogitLensGrid
from interp_widgets.widgets.residual_norms import ResidualNorms
from interp_widgets.widgets.token_highlights import TokenHighlights
from interp_widgets.widgets.training_view import TrainingView

__all__ = ["AttentionView", "HistogramView", "LogitLensGrid", "ResidualNorms", "TokenHighlights", "TrainingView"]
