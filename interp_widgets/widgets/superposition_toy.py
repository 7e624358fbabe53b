"""SuperpositionToy: Elhage et al.'s toy model trained live in the kernel, with sliders.

    toy = iw.SuperpositionToy.from_settings(n_features=5, n_hidden=2, feature_probability=0.05)
    toy                          # the picture redraws while it trains
    toy.set(feature_probability=1.0)   # or move the slider: dense features get no superposition
    toy.show_phase_diagram()     # 8 x 8 cells over sparsity x relative importance, in one batch

The maths is `compute.superposition`. The view draws the learned feature directions (m = 2; on a
line for m = 1) or `Wᵀ W` with each feature's norm and superposition (m > 2); the training
trajectory (dimensions per feature fall in steps as features enter superposition); the MCS
histogram between the two best seeds; and, on request, the phase diagram.
"""

from __future__ import annotations

import dataclasses
import html
import math
from typing import Any, Iterator

import torch
import traitlets

from interp_widgets.compute.superposition import (
    PHASES, ToySetting, dimensions_per_feature, geometry, phase_diagram, seed_mcs, training_steps,
)
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop, request_handler
from interp_widgets.widgets._colors import format_value

PHASE_PROBABILITIES = tuple(float(p) for p in torch.logspace(0, -2, 8))  # dense (1) to sparse (0.01)
PHASE_IMPORTANCES = tuple(float(r) for r in torch.logspace(-1, 1, 8))  # last feature's importance 0.1 .. 10
MAX_FEATURES, MAX_HIDDEN = 40, 20


@dataclasses.dataclass(frozen=True, eq=False)
class ToyInputs(Inputs):
    """One toy setting, trained with `seeds` seeds in one batch for `steps` steps."""

    n_features: int = 5
    n_hidden: int = 2
    feature_probability: float = 0.05
    importance_decay: float = 1.0
    seeds: int = 4
    steps: int = 1500

    EDITABLE = ("n_features", "n_hidden", "feature_probability", "importance_decay")

    def settings(self) -> list[ToySetting]:
        if not 1 <= self.n_features <= MAX_FEATURES or not 1 <= self.n_hidden <= MAX_HIDDEN:
            raise InterpWidgetsError(f"n_features={self.n_features}, n_hidden={self.n_hidden}: the toy takes 1-{MAX_FEATURES} "
                                     f"features into 1-{MAX_HIDDEN} dimensions; pick sizes in that range.")
        if self.seeds < 1:
            raise InterpWidgetsError(f"seeds={self.seeds}: train at least one seed.")
        return [ToySetting(int(self.n_features), int(self.n_hidden), float(self.feature_probability), float(self.importance_decay), seed)
                for seed in range(int(self.seeds))]


class SuperpositionToy(BaseWidget):
    """n sparse features into m dimensions and back through a ReLU; what the model learned, live."""

    n_features = traitlets.Int(5, help="n: how many sparse features the toy model compresses.").tag(sync=True)
    n_hidden = traitlets.Int(2, help="m: the hidden dimensions they are squeezed into.").tag(sync=True)
    feature_probability = traitlets.Float(0.05, help="Chance each feature is nonzero (1 − sparsity).").tag(sync=True)
    importance_decay = traitlets.Float(1.0, help="Importance of feature i is decay ** i.").tag(sync=True)
    W = Array(shape=(0, 0), help="The best seed's weights `[m, n]`: column i is feature i's direction.")
    bias = Array(help="`[n]`.")
    norms = Array(help="`‖Wᵢ‖ [n]`: 1 represented, 0 dropped.")
    superposition = Array(help="`Σ_{j≠i} (Ŵᵢ·Wⱼ)² [n]`: 0 a dimension of its own.")
    gram = Array(shape=(0, 0), help="`Wᵀ W [n, n]`.")
    importance = Array(help="`[n]`.")
    loss = traitlets.Float(0.0, help="The best seed's loss at `step`.").tag(sync=True)
    seed_losses = traitlets.List(traitlets.Float(), default_value=[], help="Each seed's loss at `step` (the best seed is drawn).").tag(sync=True)
    step = traitlets.Int(0, help="Training step the picture shows (the last one when training is done).").tag(sync=True)
    trajectory_steps = Array(help="`[T]` steps of the snapshots.")
    trajectory_loss = Array(help="`[T]` the best seed's loss at each snapshot.")
    trajectory_dims = Array(help="`[T]` its dimensions per feature `m / ‖W‖_F²` (falls in steps as features enter superposition).")
    mcs_counts = Array(help="MCS histogram between the two best seeds `[bins]` (empty with one seed).")
    mcs_edges = Array(help="`[bins + 1]` edges of the MCS histogram.")
    mcs_mean = traitlets.Float(None, allow_none=True, help="Mean MCS between the two best seeds (None with one seed).").tag(sync=True)
    phase = Array(dtype=torch.int64, shape=(0, 0), help="Phase diagram `[P, R]` (indices into `phase_names`; empty until requested).")
    phase_probabilities = traitlets.List(traitlets.Float(), default_value=[], help="The phase diagram's feature probabilities (its rows).").tag(sync=True)
    phase_importances = traitlets.List(traitlets.Float(), default_value=[], help="The phase diagram's relative importances (its columns).").tag(sync=True)
    phase_names = traitlets.List(traitlets.Unicode(), default_value=list(PHASES), help="What each phase index means (the diagram's legend).").tag(sync=True)
    progress = traitlets.Unicode("", help="While training or the phase diagram runs: how far it is.").tag(sync=True)
    title = traitlets.Unicode("Toy model of superposition", help="Title shown above the view.").tag(sync=True)

    @classmethod
    def from_settings(cls, n_features: int = 5, n_hidden: int = 2, feature_probability: float = 0.05, importance_decay: float = 1.0,
                      seeds: int = 4, steps: int = 1500, phase_diagram: bool = False, **kwargs: Any) -> "SuperpositionToy":
        """Train the toy (every seed in one batch) and show it; `phase_diagram=True` computes the 8 x 8 diagram too."""
        widget = cls.computed(ToyInputs(n_features, n_hidden, feature_probability, importance_decay, seeds, steps), **kwargs)
        if phase_diagram:
            widget.show_phase_diagram()
        return widget

    def compute(self, inputs: ToyInputs, progress: Progress, should_stop: ShouldStop) -> Iterator[dict[str, Any]]:
        """Train every seed at once; yield the best seed's picture at each snapshot, return the final one."""
        training = training_steps(inputs.settings(), steps=inputs.steps, snapshot_every=max(1, inputs.steps // 30),
                                  progress=lambda done, total: progress(done, total, "training"), should_stop=should_stop)
        while True:
            try:
                step, W, loss = next(training)
            except StopIteration as finished:
                return self._final(inputs, finished.value)
            best = int(loss.argmin())  # the seed doing best so far
            yield {"step": step, **self._picture(W[best, : inputs.n_hidden, : inputs.n_features])}

    def _picture(self, W: torch.Tensor) -> dict[str, Any]:
        summary = geometry(W)
        return {"W": W, "norms": summary["norms"], "superposition": summary["superposition"], "gram": summary["gram"]}

    def _final(self, inputs: ToyInputs, models: Any) -> dict[str, Any]:
        order = torch.argsort(models.loss)
        best = int(order[0])
        W, b = models.weights(best)
        values = {**self._picture(W), "bias": b, "importance": models.settings[best].importance(), "loss": float(models.loss[best]),
                  "seed_losses": [float(v) for v in models.loss], "step": models.steps[-1] if models.steps else inputs.steps,
                  "trajectory_steps": torch.tensor(models.steps, dtype=torch.float32),
                  "trajectory_loss": models.loss_history[:, best], "trajectory_dims": dimensions_per_feature(models)[:, best]}
        values.update(mcs_counts=torch.zeros(0), mcs_edges=torch.zeros(0), mcs_mean=None)
        if len(order) > 1:
            try:
                mcs = seed_mcs(W, models.weights(int(order[1]))[0])
                values.update(mcs_counts=mcs["counts"], mcs_edges=mcs["edges"], mcs_mean=float(mcs["mcs"].mean()))
            except InterpWidgetsError:
                pass  # a seed that represents nothing has no directions to compare: no histogram
        return values

    @request_handler("phase_diagram", supersedes=True)
    def show_phase_diagram(self, n_features: int = 2, n_hidden: int = 1, seeds: int = 2, steps: int = 1500) -> dict[str, Any]:
        """The 8 x 8 phase diagram (all cells and seeds in one batch): what happens to the last feature."""
        self.progress = "phase diagram: training 8 x 8 cells"
        try:
            diagram = phase_diagram(PHASE_PROBABILITIES, PHASE_IMPORTANCES, n_features, n_hidden, seeds=seeds, steps=steps,
                                    should_stop=self.should_stop)
        finally:
            self.progress = ""
        self.stop_if_superseded()
        self.phase_probabilities, self.phase_importances = list(PHASE_PROBABILITIES), list(PHASE_IMPORTANCES)
        self.phase = diagram["phase"]
        return {"cells": int(diagram["phase"].numel())}

    def summary(self) -> str:
        return (f"n={self.n_features}, m={self.n_hidden}, p={format_value(self.feature_probability)}, "
                f"decay={format_value(self.importance_decay)}, loss {format_value(self.loss)}")

    def _rows(self) -> list[tuple[int, float, float, float | None]]:
        """(feature, norm, superposition, angle in the plane in degrees or None)."""
        W = self.W
        rows = []
        for i in range(W.shape[1] if W.ndim == 2 else 0):
            angle = math.degrees(math.atan2(float(W[1, i]), float(W[0, i]))) if W.shape[0] == 2 else None
            rows.append((i, float(self.norms[i]), float(self.superposition[i]), angle))
        return rows

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.n_features} features into {self.n_hidden} dimensions, feature probability "
                 f"{format_value(self.feature_probability)}, importance decay {format_value(self.importance_decay)}; "
                 f"loss {format_value(self.loss)} (best of {len(self.seed_losses)} seeds), step {self.step}"]
        for i, norm, sup, angle in self._rows():
            where = f"  angle {angle:7.1f} deg" if angle is not None else ""
            lines.append(f"  feature {i:>2}: norm {norm:.3f}  superposition {sup:.3f}{where}")
        if len(self.trajectory_dims):
            lines.append(f"  dimensions per feature: {format_value(float(self.trajectory_dims[-1]))}")
        if self.mcs_mean is not None:
            lines.append(f"  MCS between the two best seeds: mean {format_value(self.mcs_mean)}")
        if self.phase.numel():
            lines.append("  phase diagram (rows: feature probability, columns: last feature's importance): " +
                         "; ".join(f"p={format_value(p)}: " + " ".join(self.phase_names[int(v)][0] for v in row)
                                   for p, row in zip(self.phase_probabilities, self.phase)))
        return "\n".join(lines)

    def to_static_html(self) -> str:
        body = f'<svg viewBox="-1.4 -1.4 2.8 2.8" width="220" height="220" role="img" aria-label="feature directions">{self._arrows()}</svg>' \
            if self.W.ndim == 2 and self.W.shape[0] == 2 else ""
        rows = "".join(f"<tr><td>{i}</td><td>{norm:.3f}</td><td>{sup:.3f}</td><td>{'' if a is None else f'{a:.1f}'}</td></tr>"
                       for i, norm, sup, a in self._rows())
        table = f"<table><tr><th>feature</th><th>norm</th><th>superposition</th><th>angle</th></tr>{rows}</table>"
        return (f'<div class="iw-toy-snapshot"><div><b>{html.escape(self.title)}</b> <small>(static snapshot)</small></div>'
                f"<div>{html.escape(self.summary())}</div>{body}{table}</div>")

    def _arrows(self) -> str:
        scale = max(1.0, float(self.norms.max()) if self.norms.numel() else 1.0)
        return "".join(f'<line x1="0" y1="0" x2="{float(self.W[0, i]) / scale:.3f}" y2="{-float(self.W[1, i]) / scale:.3f}" '
                       f'stroke="currentColor" stroke-width="0.03"/>' for i in range(self.W.shape[1]))
