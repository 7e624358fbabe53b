"""A histogram with its mean marked, e.g. the MCS of one dictionary's features against another's."""

from __future__ import annotations

import html
from typing import Any

import torch
import traitlets

from interp_widgets.widgets._base import Array, BaseWidget
from interp_widgets.widgets._charts import histogram
from interp_widgets.widgets._colors import format_value


class HistogramView(BaseWidget):
    """Bars over bin edges, with an optional marker at the mean."""

    counts = Array(help="Count per bin `[bins]`.")
    edges = Array(shape=(1,), help="Bin edges `[bins + 1]`.")
    title = traitlets.Unicode("", help="Title above the chart.").tag(sync=True)
    mean = traitlets.Float(None, allow_none=True, help="Where to draw the mean marker (None: no marker).").tag(sync=True)
    mean_label = traitlets.Unicode("mean", help="Label of the marker.").tag(sync=True)
    caption = traitlets.Unicode("", help="A line of text under the chart.").tag(sync=True)
    x_label = traitlets.Unicode("value", help="What the x axis measures.").tag(sync=True)
    y_label = traitlets.Unicode("count", help="What the bar heights count.").tag(sync=True)
    unit = traitlets.Unicode("", help='What one count is, for the hover read-out (e.g. "features").').tag(sync=True)

    @classmethod
    def from_values(cls, values: torch.Tensor, bins: int = 40, low: float | None = None, high: float | None = None, **kwargs: Any) -> "HistogramView":
        values = values.detach().float().cpu().flatten()
        low = float(values.min()) if low is None else low
        high = float(values.max()) if high is None else high
        counts = torch.histc(values, bins=bins, min=low, max=high)
        return cls(counts=counts, edges=torch.linspace(low, high, bins + 1), mean=float(values.mean()), **kwargs)

    @classmethod
    def from_comparison(cls, comparison: Any, title: str = "max cosine similarity per feature", **kwargs: Any) -> "HistogramView":
        """The MCS histogram of a dictionary comparison (`sae.compare.compare_dictionaries`), MMCS marked."""
        counts, edges = comparison.histogram()
        return cls(counts=counts, edges=edges, title=title, mean=comparison.mmcs, mean_label="MMCS",
                   x_label="max cosine similarity to the other dictionary", y_label="features", unit="features",
                   caption=f"{comparison.mcs.numel()} features; MMCS {comparison.mmcs:.3f}", **kwargs)

    def summary(self) -> str:
        return f"{self.counts.numel()} bins, mean {self.mean}"

    def to_text(self) -> str:
        counts, edges = self.counts.tolist(), self.edges.tolist()
        peak = max(counts) if counts else 1
        lines = [self.title or "histogram"]
        for i, count in enumerate(counts):
            bar = "#" * round(30 * count / peak) if peak else ""
            lines.append(f"{format_value(edges[i]):>8} .. {format_value(edges[i + 1]):>8} {int(count):>6} {bar}")
        if self.mean is not None:
            lines.append(f"{self.mean_label} {format_value(self.mean)}")
        return "\n".join(lines)

    def to_static_html(self) -> str:
        chart = histogram(self.counts.tolist(), self.edges.tolist(), f"{self.title or self.x_label} ({self.y_label} per bin)",
                          self.mean, self.mean_label)
        return f"<div>{chart}</div><pre>{html.escape(self.to_text())}</pre><div>{html.escape(self.caption)}</div>"
