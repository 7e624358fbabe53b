"""Small static charts for the snapshots: a line chart, horizontal bars, a histogram, as inline SVG strings.

A view's static snapshot (`to_static_html()`) is drawn by the browser as HTML and by `_svg.py` as a
standalone SVG picture; a chart written here is an inline `<svg>` that both keep as it is. Every
label is XML-escaped; colours are the colour-blind-safe pair of `_colors` and the Okabe-Ito palette.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

from interp_widgets.widgets._colors import NEGATIVE_RGB, POSITIVE_RGB, SERIES, format_value

PALETTE = SERIES  # the live charts' series colours, in the same order
FONT = 10


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = FONT) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="#222">{_esc(text)}</text>'


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str, log: bool = False,
               width: int = 420, height: int = 200) -> str:
    """One polyline per named series over the x labels (log y where asked and every value is positive), a key below."""
    values = [v for _, ys in series for v in _finite(ys)]
    if not values or not x_labels:
        return ""
    log = log and min(values) > 0
    scale = (lambda v: math.log10(v)) if log else (lambda v: v)
    low, high = scale(min(values)), scale(max(values))
    high = high if high > low else low + 1.0
    left, right, top, bottom = 48, width - 10, 18, height - 22
    n = len(x_labels)

    def x_of(i: int) -> float:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

    def y_of(v: float) -> float:
        return bottom - (bottom - top) * (scale(v) - low) / (high - low)

    parts = [_text(left, 11, title + (" (log y)" if log else "")),
             f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#888"/>',
             _text(left - 4, top + 4, format_value(max(values)), "end"), _text(left - 4, bottom, format_value(min(values)), "end"),
             _text(x_of(0), bottom + 12, x_labels[0], "start"), _text(x_of(n - 1), bottom + 12, x_labels[-1], "end")]
    for index, (name, ys) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(ys) if math.isfinite(v))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    key_y = height + 4
    for index, (name, _) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        y = key_y + 12 * index
        parts.append(f'<rect x="{left}" y="{y - 8}" width="10" height="8" fill="{colour}"/>' + _text(left + 14, y, name))
    total = key_y + 12 * len(series) + 2
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" viewBox="0 0 {width} {total}" '
            f'role="img" aria-label="{_esc(title)}">{"".join(parts)}</svg>')


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, width: int = 420) -> str:
    """Horizontal bars from a zero line (orange above zero, blue below), a label and the value on each row."""
    if not labels:
        return ""
    row, label_width = 14, 110
    span = max((abs(v) for v in _finite(values)), default=1.0) or 1.0
    both = any(v < 0 for v in _finite(values)) and any(v > 0 for v in _finite(values))
    track = width - label_width - 60
    zero = label_width + (track / 2 if both else (track if all(v <= 0 for v in _finite(values)) else 0))
    reach = track / 2 if both else track
    parts = [_text(0, 11, title)]
    for index, (label, value) in enumerate(zip(labels, values)):
        y = 16 + index * row
        length = reach * abs(value) / span if math.isfinite(value) else 0.0
        x = zero if value >= 0 else zero - length
        rgb = POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
        parts.append(_text(label_width - 4, y + 10, label, "end"))
        parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{length:.1f}" height="{row - 4}" fill="rgb{rgb}"/>')
        parts.append(_text(label_width + track + 4, y + 10, format_value(value)))
    height = 16 + len(labels) * row + 4
    parts.append(f'<line x1="{zero:.1f}" y1="14" x2="{zero:.1f}" y2="{height - 2}" stroke="#888"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{_esc(title)}">{"".join(parts)}</svg>')


def histogram(counts: Sequence[float], edges: Sequence[float], title: str, marker: float | None = None, marker_label: str = "",
              width: int = 420, height: int = 160) -> str:
    """Bars over bin edges, an optional marker line (a mean), the end edges labelled."""
    if not counts or len(edges) != len(counts) + 1:
        return ""
    left, right, top, bottom = 8, width - 8, 18, height - 16
    peak = max(counts) or 1.0
    low, high = edges[0], edges[-1] if edges[-1] > edges[0] else edges[0] + 1.0

    def x_of(v: float) -> float:
        return left + (right - left) * (v - low) / (high - low)

    parts = [_text(left, 11, title)]
    for count, a, b in zip(counts, edges[:-1], edges[1:]):
        h = (bottom - top) * count / peak
        parts.append(f'<rect x="{x_of(a):.1f}" y="{bottom - h:.1f}" width="{max(0.5, x_of(b) - x_of(a) - 0.5):.1f}" height="{h:.1f}" '
                     f'fill="rgb{POSITIVE_RGB}"/>')
    if marker is not None and math.isfinite(marker):
        parts.append(f'<line x1="{x_of(marker):.1f}" y1="{top}" x2="{x_of(marker):.1f}" y2="{bottom}" stroke="#222" stroke-dasharray="3 2"/>')
        parts.append(_text(x_of(marker) + 3, top + 8, f"{marker_label} {format_value(marker)}"))
    parts += [_text(left, bottom + 12, format_value(low)), _text(right, bottom + 12, format_value(high), "end")]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{_esc(title)}">{"".join(parts)}</svg>')
