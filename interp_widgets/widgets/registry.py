"""Every widget, one row each: the class, its module in `interp_widgets.widgets`, its front-end bundle.

A bundle `b` is written here only: it is the esbuild entry `js/<b>.ts` (js/build.mjs bundles every
entry), built into `interp_widgets/static/<b>.js`, which becomes the class's `_esm` (set by
`BaseWidget` from this row: a widget module does not name its bundle). `interp_widgets` exports every
class lazily from here. A test (tests/unit/widgets/test_widget_registry.py) checks that the rows, the
classes, the lazy exports and the esbuild entries agree, and that no widget module names a bundle.
This module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WidgetRow:
    name: str  # the class, e.g. "FeatureAblation"
    module: str  # its module under interp_widgets.widgets, e.g. "feature_ablation"
    bundle: str  # its front-end entry js/<bundle>.ts -> interp_widgets/static/<bundle>.js


WIDGETS: tuple[WidgetRow, ...] = (
    WidgetRow("AttentionView", "attention_view", "attention"),
    WidgetRow("CircuitView", "circuit_view", "circuit_view"),
    WidgetRow("DirectionAblation", "direction_ablation", "direction_ablation"),
    WidgetRow("FeatureAblation", "feature_ablation", "feature_ablation"),
    WidgetRow("FeatureBrowser", "feature_browser", "feature_browser"),
    WidgetRow("FeatureDashboard", "feature_dashboard", "feature_dashboard"),
    WidgetRow("GraphView", "graph_view", "graph_view"),
    WidgetRow("HistogramView", "histogram", "histogram"),
    WidgetRow("LogitLensBars", "logit_lens_bars", "logit_lens_bars"),
    WidgetRow("LogitLensGrid", "logit_lens", "logit_lens"),
    WidgetRow("PatchingView", "patching", "patching"),
    WidgetRow("PositionalEmbeddings", "positional_embeddings", "positional_embeddings"),
    WidgetRow("ResidualNorms", "residual_norms", "residual_norms"),
    WidgetRow("SteeringView", "steering", "steering"),
    WidgetRow("SuperpositionToy", "superposition_toy", "superposition_toy"),
    WidgetRow("TokenHighlights", "token_highlights", "token_highlights"),
    WidgetRow("TrainingView", "training_view", "training_view"),
)

OTHER_EXPORTS = {"Selection": "selection", "Workbench": "workbench", "explore": "workbench"}
"""Names of `interp_widgets.widgets` that are not views (no bundle): the shared selection of linked views, the bench."""


@dataclass(frozen=True)
class BenchTab:
    name: str  # a registered widget class with `from_selection(selection)`, e.g. "TokenHighlights"
    label: str  # its tab in the bench
    needs_sae: bool  # shown only when the bench has an SAE (it reads the selection's feature)
    needs_index: bool = False  # reads the SAE's activation index (the bench builds it first, with a progress line)
    options: tuple[str, ...] = ()  # arguments of `iw.explore` passed on to its `from_selection` (e.g. the corrupt prompt)


BENCH_TABS: tuple[BenchTab, ...] = (
    BenchTab("TokenHighlights", "Highlights", True),
    BenchTab("FeatureBrowser", "Browser", True, needs_index=True),
    BenchTab("FeatureDashboard", "Dashboard", True, needs_index=True),
    BenchTab("FeatureAblation", "Ablation", True),
    BenchTab("LogitLensBars", "Lens bars", True),
    BenchTab("DirectionAblation", "Direction", True),
    BenchTab("ResidualNorms", "Norms", False),
    BenchTab("LogitLensGrid", "Lens grid", False),
    BenchTab("AttentionView", "Attention", False),
    BenchTab("PatchingView", "Patching", False, options=("corrupt",)),
    BenchTab("CircuitView", "Circuit", False, options=("corrupt",)),
    BenchTab("SteeringView", "Steering", True),
)
"""The tabs of `iw.explore` (widgets/workbench.py), in order: a view joins the bench with one row here."""


def bundle_of(name: str) -> str | None:
    """The front-end bundle of the registered widget class `name` (None for a class not in the registry)."""
    return next((row.bundle for row in WIDGETS if row.name == name), None)


def module_of(name: str) -> str:
    """The full module path of a registered widget (or other export) `name`."""
    for row in WIDGETS:
        if row.name == name:
            return f"interp_widgets.widgets.{row.module}"
    return f"interp_widgets.widgets.{OTHER_EXPORTS[name]}"
