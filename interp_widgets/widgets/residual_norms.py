"""Residual-stream norm per layer: averaged, per position, fitted, and beside what each block writes.

    view = ResidualNorms.from_model(model, "The residual stream is a shared memory.")
    ResidualNorms.from_model([model_a, model_b], prompt)          # several models overlaid
    ResidualNorms.from_model(model, [prompt_a, prompt_b])         # several prompts overlaid

The maths is `interp_widgets.compute.residual.norms`; this module holds the traits and the requests.
The prompt box edits the first prompt (every model's, when one prompt is overlaid on models).
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.core.hooks import token_strings, tokenize
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.residual.norms import ResidualNorms as NormsResult
from interp_widgets.compute.residual.norms import exponential_fit, residual_norms
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop
from interp_widgets.widgets._charts import line_chart
from interp_widgets.widgets._colors import format_value


@dataclasses.dataclass(frozen=True, eq=False)
class NormsInputs(Inputs):
    """Each model on each prompt (one series per pair), with or without BOS and the mid-block boundary."""

    models: tuple[Model, ...]
    prompts: tuple[str, ...]
    names: tuple[str, ...] | None = None
    mid: bool = False
    include_bos: bool = False

    EDITABLE = ("prompt", "mid", "include_bos")
    ALIASES = {"prompt": lambda inputs, prompt: {"prompts": (prompt, *inputs.prompts[1:]), "names": inputs.renamed(prompt)}}
    """The prompt box edits the first prompt (every model's, when one prompt is overlaid on models)."""

    def renamed(self, prompt: str) -> tuple[str, ...] | None:
        """The names after the first prompt becomes `prompt`: a given name of a series on the old first
        prompt described that prompt, so it gives way to the new one (names that tell models apart, one
        prompt overlaid on several models, stay)."""
        if self.names is None or prompt == self.prompts[0] or (len(self.prompts) == 1 and len(self.models) > 1):
            return self.names
        names, n_prompts = list(self.names), len(self.prompts)
        for index, model in enumerate(self.models):
            names[index * n_prompts] = short_prompt(prompt) if len(self.models) == 1 else f"{model_name(model)} \u00b7 {short_prompt(prompt)}"
        return tuple(names)

    def series(self) -> list[tuple[str, Any, str]]:
        """(name, model, prompt) per series: the given names, or the model and prompt where they vary."""
        pairs = [(model, prompt) for model in self.models for prompt in self.prompts]
        if self.names is not None:
            if len(self.names) != len(pairs):
                raise InterpWidgetsError(f"got {len(self.names)} names for {len(pairs)} series (models x prompts): give one each.")
            return [(name, model, prompt) for name, (model, prompt) in zip(self.names, pairs)]
        return [(" \u00b7 ".join(part for part, many in ((model_name(m), len(self.models) > 1), (short_prompt(p), len(self.prompts) > 1)) if many)
                 or model_name(m), m, p) for m, p in pairs]


def model_name(model: Any) -> str:
    return str(getattr(model.cfg, "model_name", "") or type(model).__name__)


def short_prompt(prompt: str) -> str:
    return prompt if len(prompt) <= 30 else prompt[:29] + "\u2026"


class ResidualNorms(BaseWidget):
    """Charts of the residual stream's L2 norm at every layer boundary, with an exponential fit."""

    labels = traitlets.List(traitlets.Unicode(), [], help="Layer boundaries: `0_pre` (the embeddings), `0_mid` (with mid-block), ..., `final_post`.").tag(sync=True)
    depths = Array(shape=(0,), help="Depth of each boundary in layers `[n_boundaries]` (mid-block boundaries at +0.5).")
    series_names = traitlets.List(traitlets.Unicode(), [], help="A name per overlaid series: each model and prompt, then (with several prompts) each model's mean over them.").tag(sync=True)
    mean_norms = Array(shape=(0, 0), help="Mean norm per series and boundary `[n_series, n_boundaries]` (BOS left out unless included).")
    fits = traitlets.List(traitlets.Dict(), [], help="Per series: the exponential fit `{factor, scale, r2}` of its mean norms against depth.").tag(sync=True)
    attn_norms = Array(shape=(0, 0), help="Mean norm of each block's attention output per model and prompt `[n_pairs, n_layers]`.")
    mlp_norms = Array(shape=(0, 0), help="Mean norm of each block's MLP output per model and prompt `[n_pairs, n_layers]`.")
    tokens = traitlets.List(traitlets.Unicode(), [], help="The first series' tokens (for the per-position chart).").tag(sync=True)
    position_norms = Array(shape=(0, 0), help="The first series' norm per boundary and position `[n_boundaries, pos]` (BOS included).")
    include_bos = traitlets.Bool(False, help="Whether the BOS position (an outlier) counts in the means and the fit.").tag(sync=True)
    mid = traitlets.Bool(False, help="Whether to show the mid-block boundary (after attention, before the MLP) too.").tag(sync=True)
    log_scale = traitlets.Bool(True, help="Log y axes (exponential growth is a straight line); the charts have a toggle.").tag(sync=True)
    prompt = traitlets.Unicode("", help="The first prompt.").tag(sync=True)
    editable = traitlets.Bool(True, help="Whether the prompt box is shown.").tag(sync=True)
    title = traitlets.Unicode("Residual stream norm per layer", help="Title above the charts.").tag(sync=True)

    @classmethod
    def from_model(cls, models: Any, prompts: str | Sequence[str], names: Sequence[str] | None = None,
                   mid: bool = False, include_bos: bool = False, **kwargs: Any) -> "ResidualNorms":
        """Norms for each model on each prompt (one series per pair)."""
        models = list(models) if isinstance(models, (list, tuple)) else [models]
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not models or not prompts:
            raise InterpWidgetsError("give at least one model and one prompt.")
        inputs = NormsInputs(tuple(models), tuple(prompts), tuple(names) if names is not None else None, mid, include_bos)
        return cls.computed(inputs, **kwargs)

    @classmethod
    def from_selected(cls, selection: Any, selected: dict[str, Any], **options: Any) -> "ResidualNorms":
        """The selection's model on its prompt (`from_model` takes `prompts`)."""
        return cls.from_model(selection.model, selected["prompt"], **options)

    SELECTION = {"prompt": "prompt"}
    """The selection's prompt as the first prompt (a prompt typed here is published)."""

    # ---- the kernel's work ------------------------------------------------------------------

    def compute(self, inputs: NormsInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """Run every model on its prompt (`compute.residual.norms.residual_norms`) and fit each series."""
        series = inputs.series()
        results: list[NormsResult] = []
        for _, model, prompt in series:
            results.append(residual_norms(model, tokenize(model, prompt), mid=inputs.mid, include_bos=inputs.include_bos))
        first = results[0]
        if any(r.labels != first.labels for r in results):
            raise InterpWidgetsError("the models overlaid have different numbers of layers: overlay models of one depth, "
                                     "or show each in its own view.")
        model, prompt = series[0][1], series[0][2]
        positions = first.positions()
        names = [name for name, _, _ in series]
        means = [r.mean() for r in results]
        n_prompts = len(inputs.prompts)
        if n_prompts > 1:  # each model's mean over all its prompts, as one more series
            for index in range(len(inputs.models)):
                label = f"mean of {n_prompts} prompts"
                names.append(label if len(inputs.models) == 1 else f"{series[index * n_prompts][0].split(' · ')[0]} · {label}")
                means.append(torch.stack(means[index * n_prompts : (index + 1) * n_prompts]).mean(0))
        depths = torch.tensor(first.depths)
        return {"labels": first.labels, "depths": depths, "series_names": names, "mean_norms": torch.stack(means),
                "fits": [vars(exponential_fit(mean, depths)) for mean in means],
                "attn_norms": torch.stack([r.attn[:, 0, positions].mean(-1) for r in results]),
                "mlp_norms": torch.stack([r.mlp[:, 0, positions].mean(-1) for r in results]),
                "tokens": token_strings(model, tokenize(model, prompt)[0]),
                "position_norms": first.stream[:, 0], "prompt": prompt}

    def set_prompt(self, prompt: str) -> None:
        """A new first prompt (for every model, when there is one prompt), recomputed."""
        self.set(prompt=prompt)

    # ---- text and snapshot ------------------------------------------------------------------

    def _rows(self) -> list[str]:
        norms = self.mean_norms
        lines = []
        for index, name in enumerate(self.series_names):
            fit = self.fits[index]
            values = ", ".join(f"{label} {format_value(float(v))}" for label, v in zip(self.labels, norms[index]))
            lines.append(f"{name}: growth x{fit['factor']:.2f} per layer (R\u00b2 {fit['r2']:.3f}); {values}")
        return lines

    def summary(self) -> str:
        return f"{len(self.series_names)} series, {len(self.labels)} boundaries"

    def to_text(self) -> str:
        bos = "BOS included" if self.include_bos else "BOS left out"
        return "\n".join([f"{self.title} ({bos})", *self._rows()])

    def to_static_html(self) -> str:
        rows = "".join(f"<li>{html.escape(row)}</li>" for row in self._rows())
        chart = line_chart(self.labels, list(zip(self.series_names, self.mean_norms.tolist())), "mean norm per layer boundary",
                           log=self.log_scale)
        return (f"<div class=\"iw-s\"><b>{html.escape(self.title)}</b> <small>(static snapshot)</small>"
                f"<div>{chart}</div><ul style=\"font-family:monospace\">{rows}</ul></div>")
