"""interp-widgets: live Jupyter widgets for mechanistic interpretability.

    import interp_widgets as iw
    model = iw.models.toy_model()
    iw.TokenHighlights.from_model(model, "The cat sat", hook="blocks.0.hook_resid_post", directions=[0, 1])
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from interp_widgets.widgets.registry import OTHER_EXPORTS, WIDGETS

_LAZY = {
    **{row.name: "interp_widgets.widgets" for row in WIDGETS},  # every widget, from its registry
    **{name: "interp_widgets.widgets" for name in OTHER_EXPORTS},
    "colored_tokens": "interp_widgets.tokens",
    "colored_tokens_multi": "interp_widgets.tokens",
    "InterpWidgetsError": "interp_widgets.errors",
    "load_model": "interp_widgets.models.loaders",
    "load_sae": "interp_widgets.models.loaders",
    "load_transcoders": "interp_widgets.models.transcoders",
    "Steer": "interp_widgets.compute.steering.steer",
    "Neuron": "interp_widgets.compute.steering.steer",
}

__all__ = sorted(_LAZY) + ["__version__"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext interp_widgets`: rich displays of models, SAEs, caches and selections, and `%explore`."""
    from interp_widgets._ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from interp_widgets._ipython import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    """Import heavy modules (torch, anywidget) only when first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("compute", "models", "widgets", "attention", "tokens"):
        import importlib

        return importlib.import_module(f"interp_widgets.{name}")
    raise AttributeError(f"module 'interp_widgets' has no attribute {name!r}")
