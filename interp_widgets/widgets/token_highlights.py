"""Token highlights: a prompt's tokens coloured by a per-token value.

Built from plain data (`TokenHighlights(tokens=..., values=...)`, or `colored_tokens` with
CircuitsVis' argument order) or from a model (`TokenHighlights.from_model(model, prompt, hook,
directions)`). Built from a model, the prompt is editable in the widget: Enter sends it to the
kernel, which re-tokenizes, recomputes every series and updates the view.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Sequence

import numpy as np
import torch
import traitlets

from interp_widgets.compute.core.model import Model
from interp_widgets.compute.core.readouts import Readout, as_readout, default_hook, token_values
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop

TEXT_ROWS = 40  # rows of the plain-text form before it is cut short


def as_series(values: Any) -> torch.Tensor:
    """Values as float32 `[n_series, n_tokens]`, from a list, array or tensor of 1 or 2 dims."""
    if isinstance(values, torch.Tensor):
        tensor = values.detach().cpu().float()
    else:
        try:
            tensor = torch.as_tensor(np.asarray(values, dtype=np.float32))
        except (TypeError, ValueError) as error:
            raise InterpWidgetsError(f"values must be numbers (a list, array or tensor): {error}") from None
    if tensor.ndim == 1:
        tensor = tensor[None, :]
    if tensor.ndim != 2:
        raise InterpWidgetsError(
            f"values must have shape [n_tokens] or [n_series, n_tokens], got {list(tensor.shape)}."
        )
    bad = (~torch.isfinite(tensor)).nonzero().tolist()
    if bad:
        where = ", ".join(f"series {s} position {p}" for s, p in bad[:5])
        raise InterpWidgetsError(f"values contain NaN or infinity at {where}: replace them before plotting.")
    return tensor.contiguous()


@dataclasses.dataclass(frozen=True, eq=False)
class HighlightInputs(Inputs):
    """A model read at one hook with one or more readouts, on a prompt."""

    model: Model
    prompt: str
    hook: str
    readouts: tuple[Readout, ...]
    names: tuple[str, ...] | None = None
    """A name per series (None: each readout's label, after `name`)."""
    name: str = ""
    """What is read, before each readout's label (the SAE's name, as in "4x feature 495")."""

    EDITABLE = ("prompt",)
    ALIASES = {"directions": lambda inputs, directions: {"readouts": as_readouts(directions)}}
    RESETS = {"readouts": {"names": None}}

    def series_names(self) -> tuple[str, ...]:
        if self.names is None:
            return tuple(f"{self.name + ' ' if self.name else ''}{r.label}" for r in self.readouts)
        if len(self.names) != len(self.readouts):
            raise InterpWidgetsError(f"got {len(self.names)} names for {len(self.readouts)} directions: give one name each.")
        return tuple(self.names)


def as_readouts(directions: Any) -> tuple[Readout, ...]:
    """One direction or a list of them (each a neuron index, a vector `[d]` or `(sae, feature)`) as readouts."""
    specs = list(directions) if isinstance(directions, list) else [directions]
    if not specs:
        raise InterpWidgetsError("directions is empty: pass at least one neuron, vector or (sae, feature).")
    return tuple(as_readout(spec) for spec in specs)


class TokenHighlights(BaseWidget):
    """Tokens coloured by one of several per-token series, with a legend and hover details."""

    tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The tokens, exactly as the tokenizer decodes them.").tag(sync=True)
    values = Array(shape=(1, 0), help="Per-token values `[n_series, n_tokens]` (set a list, array or tensor).")
    series_names = traitlets.List(traitlets.Unicode(), default_value=[], help="A name per series (buttons switch between them).").tag(sync=True)
    active_series = traitlets.Int(0, help="Index of the series shown.").tag(sync=True)
    title = traitlets.Unicode("", help="Title shown above the tokens.").tag(sync=True)
    value_label = traitlets.Unicode("", help="What a value is, for the legend and tooltip (defaults to the series name).").tag(sync=True)
    scale = traitlets.Enum(["auto", "diverging", "sequential"], default_value="auto", help="Colour scale: diverging around 0 (auto when any value is negative) or sequential.").tag(sync=True)
    shared_scale = traitlets.Bool(False, help="One colour scale for every series (so series compare by colour), instead of one per series.").tag(sync=True)
    vmin = traitlets.Float(None, allow_none=True, help="Lower end of the colour scale (default: from the data).").tag(sync=True)
    vmax = traitlets.Float(None, allow_none=True, help="Upper end of the colour scale (default: from the data).").tag(sync=True)
    editable = traitlets.Bool(False, help="Whether the prompt box is shown (only for views built from a model).").tag(sync=True)
    prompt = traitlets.Unicode("", help="The prompt the tokens come from, when built from a model.").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._check_consistent()

    @traitlets.validate("values")
    def _validate_values(self, proposal: Any) -> torch.Tensor:
        return as_series(proposal["value"])

    # ---- construction -----------------------------------------------------------------------

    @classmethod
    def from_model(
        cls,
        model: Any,
        prompt: str,
        hook: str | None = None,
        directions: Any = 0,
        names: Sequence[str] | None = None,
        editable: bool = True,
        name: str = "",
        **kwargs: Any,
    ) -> "TokenHighlights":
        """Values read from `model` at hook point `hook` while it runs on `prompt`.

        `directions` is one direction or a list of them, each a neuron index (int), a vector
        `[d]`, or `(sae, feature_index)`. With an SAE, `hook` defaults to the SAE's own hook.
        `names`: one per direction (default: `name` and each direction's label, e.g. "4x feature 495").
        """
        readouts = as_readouts(directions)
        hook = hook or default_hook(readouts)
        inputs = HighlightInputs(model, prompt, hook, readouts, tuple(names) if names is not None else None, name)
        inputs.series_names()  # one name per direction, checked before anything runs
        return cls.computed(inputs, editable=editable, title=kwargs.pop("title", f"{hook}"), **kwargs)

    SELECTION = {"prompt": "prompt", "hook": "hook", "directions": "sae_feature", "name": "sae"}
    """The selection's feature (read at its SAE's hook) on the selection's prompt; a prompt typed here is published."""

    def compute(self, inputs: HighlightInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        tokens, values = token_values(inputs.model, inputs.prompt, inputs.hook, list(inputs.readouts))
        names = inputs.series_names()
        return {"tokens": tokens, "values": values, "series_names": list(names), "active_series": min(self.active_series, len(names) - 1)}

    def set_prompt(self, prompt: str) -> None:
        """Re-tokenize a new prompt and recompute every series (what Enter in the widget does)."""
        self.set(prompt=prompt)

    # ---- views of the state -----------------------------------------------------------------

    def series(self) -> torch.Tensor:
        """The values as a tensor `[n_series, n_tokens]`."""
        return self.values

    def _check_consistent(self) -> None:
        n_series, n_tokens = self.values.shape
        if n_tokens != len(self.tokens):
            raise InterpWidgetsError(
                f"got {len(self.tokens)} tokens but {n_tokens} values per series: give one value per token."
            )
        if not self.series_names:
            self.series_names = [f"series {i}" for i in range(n_series)] if n_series > 1 else ["value"]
        if len(self.series_names) != n_series:
            raise InterpWidgetsError(
                f"got {len(self.series_names)} series names for {n_series} series: give one name each."
            )
        if not 0 <= self.active_series < n_series:
            raise InterpWidgetsError(f"active_series {self.active_series} is out of range (0 to {n_series - 1}).")

    def _shared(self) -> bool:
        return self.shared_scale and self.values.shape[0] > 1

    def _shown(self) -> tuple[str, list[float], _colors.Scale]:
        index = min(self.active_series, self.values.shape[0] - 1)
        series = self.series()
        shown = series[index].tolist() if self.tokens else []
        scale_values = series.flatten().tolist() if self._shared() else shown
        label = self.value_label or (self.series_names[index] if self.series_names else "value")
        return label, shown, _colors.choose_scale(scale_values, self.scale, self.vmin, self.vmax)

    def _legend(self, label: str, shown: list[float], scale: _colors.Scale) -> str:
        """The legend in words (the front-end draws the same as a colour bar)."""
        if shown and all(value == 0 for value in shown):
            return f"{label}: 0 at every token of this prompt (it never fires here)"
        return (f"{_colors.format_value(scale.min)} … {_colors.format_value(scale.max)} {label} "
                f"{_colors.scale_caption(scale, self._shared())}")

    def summary(self) -> str:
        n_series = self.values.shape[0]
        return f"{len(self.tokens)} tokens, {n_series} series, showing {self.active_series}"

    def to_text(self) -> str:
        label, shown, scale = self._shown()
        lines = [f"{self.title or 'TokenHighlights'}: {self._legend(label, shown, scale)}", f"{'pos':>5}  {'value':>10}  token"]
        for position, (token, value) in enumerate(zip(self.tokens[:TEXT_ROWS], shown)):
            lines.append(f"{position:>5}  {_colors.format_value(value):>10}  {token!r}")
        if len(self.tokens) > TEXT_ROWS:
            lines.append(f"  … {len(self.tokens) - TEXT_ROWS} more tokens")
        return "\n".join(lines)

    def to_static_html(self) -> str:
        """Tokens as escaped text in spans; colours quantised into a few CSS classes."""
        label, shown, scale = self._shown()
        head = f"{self.title + ' · ' if self.title else ''}{label}"
        return _snapshot.page("iw-s", head, _snapshot.token_spans(self.tokens, shown, scale),
                              html.escape(self._legend(label, shown, scale)))
