"""Thin anywidget classes: typed inputs, one compute step, traits and the bundled front-end.

Every widget is one row of `registry.WIDGETS`; the classes are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from interp_widgets.widgets.registry import OTHER_EXPORTS, WIDGETS, module_of

__all__ = sorted([row.name for row in WIDGETS] + list(OTHER_EXPORTS))


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(module_of(name)), name)
    raise AttributeError(f"module 'interp_widgets.widgets' has no attribute {name!r}")
