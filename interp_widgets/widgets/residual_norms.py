"""Residual-stream norm per layer: averaged, per position, fitted, and beside what each block writes.

    view = ResidualNorms.from_model(model, "The residual stream is a shared memory.")
    ResidualNorms.from_model([model_a, model_b], prompt)          # several models overlaid
    ResidualNorms.from_model(model, [prompt_a, prompt_b])         # several prompts overlaid

The maths is `interp_widgets.compute.residual`; this module holds the traits and the requests.
The prompt box edits the first prompt (every model's, when one prompt is overlaid on models).
"""

from __future__ import annotations

import html
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.hooks import tokenize
from interp_widgets.compute.residual import ResidualNorms as NormsResult
from interp_widgets.compute.residual import exponential_fit, residual_norms
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import BaseWidget, bundle_path, request_handler
from interp_widgets.widgets._colors import format_value
from interp_widgets.widgets._wire import to_wire


class ResidualNorms(BaseWidget):
    """Charts of the residual stream's L2 norm at every layer boundary, with an exponential fit."""

    _esm = bundle_path("residual_norms.js")

    labels = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    """Layer boundaries: `0_pre` (the embeddings), `0_mid` (with mid-block), ..., `final_post`."""
    depths = traitlets.Any(to_wire(torch.zeros(0))).tag(sync=True)
    """Depth of each boundary in layers `[n_boundaries]` (mid-block boundaries at +0.5)."""
    series_names = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    """A name per overlaid series: each model and prompt, then (with several prompts) each model's mean over them."""
    mean_norms = traitlets.Any(to_wire(torch.zeros(0, 0))).tag(sync=True)
    """Mean norm per series and boundary `[n_series, n_boundaries]` (BOS left out unless included)."""
    fits = traitlets.List(traitlets.Dict(), []).tag(sync=True)
    """Per series: the exponential fit `{factor, scale, r2}` of its mean norms against depth."""
    attn_norms = traitlets.Any(to_wire(torch.zeros(0, 0))).tag(sync=True)
    """Mean norm of each block's attention output per model and prompt `[n_pairs, n_layers]`."""
    mlp_norms = traitlets.Any(to_wire(torch.zeros(0, 0))).tag(sync=True)
    """Mean norm of each block's MLP output per model and prompt `[n_pairs, n_layers]`."""
    tokens = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    """The first series' tokens (for the per-position chart)."""
    position_norms = traitlets.Any(to_wire(torch.zeros(0, 0))).tag(sync=True)
    """The first series' norm per boundary and position `[n_boundaries, pos]` (BOS included)."""
    include_bos = traitlets.Bool(False).tag(sync=True)
    """Whether the BOS position (an outlier) counts in the means and the fit."""
    mid = traitlets.Bool(False).tag(sync=True)
    """Whether to show the mid-block boundary (after attention, before the MLP) too."""
    log_scale = traitlets.Bool(True).tag(sync=True)
    """Log y axes (exponential growth is a straight line); the charts have a toggle."""
    prompt = traitlets.Unicode("").tag(sync=True)
    """The first prompt."""
    editable = traitlets.Bool(True).tag(sync=True)
    """Whether the prompt box is shown."""
    title = traitlets.Unicode("Residual stream norm per layer").tag(sync=True)
    """Title above the charts."""

    def __init__(self, **kwargs: Any) -> None:
        self._models: list[Any] = []
        self._prompts: list[str] = []
        self._names: list[str] | None = None
        super().__init__(**kwargs)

    @classmethod
    def from_model(cls, models: Any, prompts: str | Sequence[str], names: Sequence[str] | None = None,
                   mid: bool = False, include_bos: bool = False, **kwargs: Any) -> "ResidualNorms":
        """Norms for each model on each prompt (one series per pair)."""
        models = list(models) if isinstance(models, (list, tuple)) else [models]
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not models or not prompts:
            raise InterpWidgetsError("give at least one model and one prompt.")
        widget = cls(mid=mid, include_bos=include_bos, **kwargs)
        widget._models, widget._prompts = models, prompts
        widget._names = list(names) if names is not None else None
        widget.recompute()
        return widget

    # ---- the kernel's work ------------------------------------------------------------------

    def _series(self) -> list[tuple[str, Any, str]]:
        pairs = [(model, prompt) for model in self._models for prompt in self._prompts]
        if self._names is not None:
            if len(self._names) != len(pairs):
                raise InterpWidgetsError(f"got {len(self._names)} names for {len(pairs)} series (models x prompts): give one each.")
            return [(name, model, prompt) for name, (model, prompt) in zip(self._names, pairs)]

        def model_name(model: Any) -> str:
            return str(getattr(model.cfg, "model_name", "") or type(model).__name__)

        def short(prompt: str) -> str:
            return prompt if len(prompt) <= 30 else prompt[:29] + "\u2026"

        return [(" \u00b7 ".join(part for part, many in ((model_name(m), len(self._models) > 1), (short(p), len(self._prompts) > 1)) if many)
                 or model_name(m), m, p) for m, p in pairs]

    def recompute(self) -> None:
        """Run every model on its prompt and update the charts."""
        series = self._series()
        results: list[NormsResult] = []
        for _, model, prompt in series:
            results.append(residual_norms(model, tokenize(model, prompt), mid=self.mid, include_bos=self.include_bos))
        first = results[0]
        if any(r.labels != first.labels for r in results):
            raise InterpWidgetsError("the models overlaid have different numbers of layers: overlay models of one depth, "
                                     "or show each in its own view.")
        model, prompt = series[0][1], series[0][2]
        positions = first.positions()
        names = [name for name, _, _ in series]
        means = [r.mean() for r in results]
        if len(self._prompts) > 1:  # each model's mean over all its prompts, as one more series
            for index, overlaid in enumerate(self._models):
                mine = means[index * len(self._prompts) : (index + 1) * len(self._prompts)]
                label = f"mean of {len(self._prompts)} prompts"
                names.append(label if len(self._models) == 1 else f"{series[index * len(self._prompts)][0].split(' · ')[0]} · {label}")
                means.append(torch.stack(mine).mean(0))
        depths = torch.tensor(first.depths)
        with self.hold_sync():
            self.labels = first.labels
            self.depths = to_wire(depths.float())
            self.series_names = names
            self.mean_norms = to_wire(torch.stack(means).float())
            self.fits = [vars(exponential_fit(mean, depths)) for mean in means]
            self.attn_norms = to_wire(torch.stack([r.attn[:, 0, positions].mean(-1) for r in results]).float())
            self.mlp_norms = to_wire(torch.stack([r.mlp[:, 0, positions].mean(-1) for r in results]).float())
            self.tokens = [str(t) for t in model.to_str_tokens(tokenize(model, prompt)[0])]
            self.position_norms = to_wire(first.stream[:, 0].float().contiguous())
            self.prompt = prompt

    def set_prompt(self, prompt: str) -> None:
        """A new first prompt (for every model, when there is one prompt), recomputed."""
        old = list(self._prompts)
        self._prompts[0] = prompt
        try:
            self.recompute()
        except Exception:
            self._prompts = old
            raise

    @request_handler("set_prompt")
    def _request_set_prompt(self, prompt: str) -> dict[str, Any]:
        self.set_prompt(prompt)
        return {"n_tokens": len(self.tokens)}

    @request_handler("set_options")
    def _request_set_options(self, include_bos: bool | None = None, mid: bool | None = None) -> dict[str, Any]:
        with self.hold_trait_notifications():
            if include_bos is not None:
                self.include_bos = bool(include_bos)
            if mid is not None:
                self.mid = bool(mid)
        self.recompute()
        return {"include_bos": self.include_bos, "mid": self.mid}

    # ---- text and snapshot ------------------------------------------------------------------

    def _rows(self) -> list[str]:
        from interp_widgets.widgets._wire import from_wire

        norms = from_wire(self.mean_norms)
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
        return (f"<div class=\"iw-s\"><b>{html.escape(self.title)}</b> <small>(static snapshot)</small>"
                f"<ul style=\"font-family:monospace\">{rows}</ul></div>")
