"""Thin anywidget classes: traits, the bundled front-end, and request handlers."""

from interp_widgets.widgets.attention import AttentionView
from interp_widgets.widgets.direction_ablation import DirectionAblation
from interp_widgets.widgets.feature_ablation import FeatureAblation
from interp_widgets.widgets.feature_browser import FeatureBrowser
from interp_widgets.widgets.feature_dashboard import FeatureDashboard
from interp_widgets.widgets.histogram import HistogramView
from interp_widgets.widgets.logit_lens import LogitLensGrid
from interp_widgets.widgets.logit_lens_bars import LogitLensBars
from interp_widgets.widgets.patching import PatchingView
from interp_widgets.widgets.residual_norms import ResidualNorms
from interp_widgets.widgets.selection import Selection
from interp_widgets.widgets.token_highlights import TokenHighlights
from interp_widgets.widgets.training_view import TrainingView

__all__ = ["AttentionView", "DirectionAblation", "FeatureAblation", "FeatureBrowser", "FeatureDashboard", "HistogramView", "LogitLensBars", "LogitLensGrid", "PatchingView", "ResidualNorms", "Selection", "TokenHighlights", "TrainingView"]
