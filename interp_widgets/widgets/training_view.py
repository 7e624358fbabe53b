"""A live view of SAE training: loss, L0 and dead fraction per SAE, redrawn at every log step.

    view = TrainingView(sae_names=["1x", "2x"]); display(view)
    train_saes(saes, store, config, on_log=view.update)
"""

from __future__ import annotations

import html
from typing import Sequence

import torch
import traitlets

from interp_widgets.widgets._base import Array, BaseWidget
from interp_widgets.widgets._charts import line_chart
from interp_widgets.widgets._colors import format_value

DEFAULT_METRICS = ("step", "nmse", "l0", "dead_fraction")
METRIC_LABELS = {
    "nmse": "NMSE: squared error / variance",
    "l0": "L0: active features per token",
    "dead_fraction": "dead: no activation in the last dead_after_tokens training tokens",
    "l1": "L1 penalty",
    "loss": "loss",
}


class TrainingView(BaseWidget):
    """Line charts of logged training metrics, one line per SAE."""

    history = Array(shape=(1, 0, len(DEFAULT_METRICS)), help="Logged values `[n_saes, n_points, n_metrics]`; the first metric is the step.")
    metrics = traitlets.List(traitlets.Unicode(), list(DEFAULT_METRICS), help="Names of the logged metrics, `step` first.").tag(sync=True)
    metric_labels = traitlets.Dict(traitlets.Unicode(), default_value=METRIC_LABELS, help="A chart title per metric (a metric without one is titled by its name).").tag(sync=True)
    sae_names = traitlets.List(traitlets.Unicode(), ["sae"], help="A name per SAE.").tag(sync=True)
    title = traitlets.Unicode("SAE training", help="Title above the charts.").tag(sync=True)

    def update(self, history: Sequence[Sequence[dict[str, float]]]) -> None:
        """Take the trainer's history (a list of logged dicts per SAE) and redraw."""
        values = [[[float(point.get(name, float("nan"))) for name in self.metrics] for point in per_sae] for per_sae in history]
        self.history = torch.tensor(values, dtype=torch.float32).reshape(len(history), -1, len(self.metrics))
        if len(self.sae_names) != len(history):
            self.sae_names = [f"sae {i}" for i in range(len(history))]

    def _latest(self) -> list[tuple[str, dict[str, float]]]:
        values = self.history
        if values.shape[1] == 0:
            return []
        return [(name, dict(zip(self.metrics, values[i, -1].tolist()))) for i, name in enumerate(self.sae_names)]

    def summary(self) -> str:
        return f"{len(self.sae_names)} SAEs, {self.history.shape[1]} points"

    def to_text(self) -> str:
        lines = [f"{self.title}"]
        for name, latest in self._latest():
            lines.append(f"  {name}: " + ", ".join(f"{k} {format_value(v)}" for k, v in latest.items()))
        return "\n".join(lines) if len(lines) > 1 else f"{self.title}: waiting for the first logged training step"

    def to_static_html(self) -> str:
        rows = "".join(
            "<tr>" + f"<td>{html.escape(name)}</td>" + "".join(f"<td>{format_value(latest[m])}</td>" for m in self.metrics) + "</tr>"
            for name, latest in self._latest()
        )
        head = "".join(f"<th>{html.escape(m)}</th>" for m in ["SAE", *self.metrics])
        steps = [format_value(s) for s in self.history[0, :, 0].tolist()] if self.history.shape[1] else []
        logged = self.history.shape[1] > 0  # before the first log the history is [1, 0, n_metrics], whatever the SAEs
        charts = "".join(line_chart(steps, [(name, self.history[i, :, m].tolist()) for i, name in enumerate(self.sae_names)],
                                    self.metric_labels.get(metric, metric), width=300)
                         for m, metric in enumerate(self.metrics) if m > 0 and logged) or html.escape(self.to_text())
        return (
            f"<div><b>{html.escape(self.title)}</b> <small>(static snapshot: last logged values)</small>"
            f"<table><tr>{head}</tr>{rows}</table><div>{charts}</div></div>"
        )
