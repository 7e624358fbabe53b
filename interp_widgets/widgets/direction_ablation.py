"""Direction ablation view: each next token's log-prob change when a feature or direction is removed.

The text coloured by the change in log-prob of each actual token (red where it became less likely
without the direction), and a list of the largest changes. The maths is
`compute.direction_ablation`; the prompt is editable in the widget.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.direction_ablation import direction_ablation
from interp_widgets.compute.readouts import as_readout
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import BaseWidget, bundle_path, request_handler
from interp_widgets.widgets.token_highlights import _default_hook
from interp_widgets.widgets._wire import from_wire, to_wire
from interp_widgets.widgets.selection import Linked


class DirectionAblation(Linked, BaseWidget):
    """The prompt coloured by how much less likely each token became with the direction removed."""

    _esm = bundle_path("direction_ablation.js")

    tokens = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    decrease = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    """`[pos]` clean minus ablated log-prob of token t (NaN at BOS): positive = less likely without the direction."""
    largest = traitlets.List(default_value=[]).tag(sync=True)
    """[position, token, change] of the largest changes, largest |change| first."""
    label = traitlets.Unicode("").tag(sync=True)
    mode = traitlets.Unicode("").tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, prompt: str, feature: Any, hook: str | None = None, positions: Sequence[int] | None = None,
                   mode: str | None = None, name: str = "", **kwargs: Any) -> "DirectionAblation":
        """`feature`: `(sae, index)` or a direction `[d]` at `hook` (default: the SAE's hook)."""
        readout = as_readout(feature)
        hook = hook or _default_hook([readout])
        widget = cls(label=f"{name + ' ' if name else ''}{readout.label} at {hook}", title=kwargs.pop("title", "Direction ablation"), **kwargs)
        widget._source = {"model": model, "hook": hook, "feature": feature, "positions": positions, "mode": mode}
        widget.set_prompt(prompt)
        return widget

    @classmethod
    def from_selection(cls, selection: Any, **kwargs: Any) -> "DirectionAblation":
        """Remove the selection's feature on the selection's prompt; follows both."""
        widget = cls.from_model(selection.model, selection.prompt, (selection.current_sae, selection.feature), name=selection.sae, **kwargs)

        def follow(changed: set[str]) -> None:
            if changed & {"sae", "feature", "prompt"}:
                source = widget._need_source()
                source.update(feature=(selection.current_sae, selection.feature), hook=selection.hook)
                widget.label = f"{selection.sae} feature {selection.feature} at {selection.hook}"
                widget.set_prompt(selection.prompt)

        widget._follow(selection, follow)
        return widget

    def set_prompt(self, prompt: str) -> None:
        """Recompute the clean and ablated log-probs on a new prompt."""
        source = self._need_source()
        result = direction_ablation(source["model"], prompt, source["hook"], source["feature"], source["positions"], source["mode"])
        decrease = torch.cat([torch.tensor([float("nan")]), result.clean - result.ablated])
        with self.hold_sync():
            self.tokens = result.tokens
            self.decrease = to_wire(decrease)
            self.largest = [[p + 1, token, change] for p, token, change in result.largest_changes(10)]
            self.mode = result.mode
            self.prompt = prompt

    @request_handler("set_prompt")
    def _request_prompt(self, prompt: str) -> dict[str, Any]:
        self.set_prompt(prompt)
        self._publish(prompt=prompt, target=-1)
        return {"n_tokens": len(self.tokens)}

    def summary(self) -> str:
        return f"{self.label}, {len(self.tokens)} tokens"

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.label} ({self.mode}); change in log-prob of each token without it"]
        lines += [f"  {_colors.format_value(change):>8}  token {position} {token!r}" for position, token, change in self.largest]
        return "\n".join(lines)

    def to_static_html(self) -> str:
        values = from_wire(self.decrease).tolist() if self.tokens else []
        scale = _colors.choose_scale([v for v in values if v == v] or [0.0], "diverging")
        footer = html.escape(f"{self.mode} mode · red: the token became less likely without the direction")
        return _snapshot.page("iw-da", f"{self.title} · {self.label}", _snapshot.token_spans(self.tokens, values, scale), footer)
