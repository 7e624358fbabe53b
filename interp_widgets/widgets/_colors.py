"""The palette and colour scale of the front-end (`js/lib/palette.ts`, `js/lib/colors.ts`), for
static snapshots and SVG pictures: one palette on each side, checked equal by
tests/unit/widgets/test_palette.py.

Colours are laid over the background with an alpha proportional to |value|; blue below zero,
orange above (a colour-blind-aware pair), which also colour an attribution graph's inhibiting and
exciting edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

NEGATIVE_RGB = (33, 102, 172)
"""Below zero, a suppressed token, an inhibiting edge: blue (`--iw-negative`)."""
POSITIVE_RGB = (230, 97, 1)
"""Above zero, a promoted token, an exciting edge: orange (`--iw-positive`)."""
NEGATIVE_RGB_DARK = (94, 166, 232)
"""The same pair in dark themes."""
POSITIVE_RGB_DARK = (250, 140, 50)
SERIES = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
"""Series of a chart, in order (Okabe & Ito's colour-blind-safe set)."""
NODE_KINDS = ("#444444", "#1B9E77", "#999999", "#7570B3")
"""Attribution-graph nodes by kind: token, feature, error, logit."""
MAX_ALPHA = 0.85


def hex_color(rgb: tuple[int, int, int]) -> str:
    """`#rrggbb` of a palette triple."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class Scale:
    kind: str  # "diverging" or "sequential"
    min: float
    max: float


def choose_scale(values: Sequence[float], kind: str = "auto", vmin: float | None = None, vmax: float | None = None) -> Scale:
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    if kind == "diverging" or (kind == "auto" and lo < 0):
        bound = max(abs(vmin if vmin is not None else lo), abs(vmax if vmax is not None else hi)) or 1.0
        return Scale("diverging", -bound, bound)
    low = vmin if vmin is not None else min(0.0, lo)
    top = vmax if vmax is not None else hi
    return Scale("sequential", low, top if top > low else low + 1.0)


def strength(value: float, scale: Scale) -> float:
    """Signed colour strength in [-1, 1] (negative means the negative hue)."""
    if not math.isfinite(value):
        return 0.0
    if scale.kind == "diverging":
        raw = value / scale.max
    else:
        raw = (value - scale.min) / (scale.max - scale.min)
    return max(-1.0, min(1.0, raw))


def rgba(signed_strength: float, dark: bool = False) -> str:
    """The colour of a signed strength laid over a light (or, with `dark`, a dark) background."""
    if dark:
        rgb = NEGATIVE_RGB_DARK if signed_strength < 0 else POSITIVE_RGB_DARK
    else:
        rgb = NEGATIVE_RGB if signed_strength < 0 else POSITIVE_RGB
    alpha = abs(signed_strength) * MAX_ALPHA
    return f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.3f})"


def scale_caption(scale: Scale, shared: bool) -> str:
    """Twin of `scaleCaption` in js/lib/colors.ts: what the colours mean."""
    kind = "diverging around 0: blue below, orange above" if scale.kind == "diverging" else "sequential: orange = high"
    return f"({kind}; {'one scale for all series' if shared else 'scale of this series'})"


def format_value(value: float) -> str:
    """Same short formatting as the front-end's `formatValue`."""
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-3 or magnitude >= 1e4):
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa}e{int(exponent):+d}"
    return f"{value:.1f}" if magnitude >= 100 else f"{value:.3f}"
