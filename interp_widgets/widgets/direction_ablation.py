"""Direction ablation view: each next token's log-prob change when a feature or direction is removed.

The text coloured by the log-prob drop of each actual token (clean - ablated; orange where it became less likely
without the direction), and a list of the largest changes. The maths is
`compute.ablation.direction`; the prompt is editable in the widget.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.ablation.direction import direction_ablation
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.core.readouts import ReadoutSpec, as_readout, default_hook
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop


@dataclasses.dataclass(frozen=True, eq=False)
class DirectionAblationInputs(Inputs):
    """What is removed (a feature `(sae, index)` or a direction `[d]`) at which hook, on which prompt."""

    model: Model
    prompt: str
    direction: ReadoutSpec
    hook: str
    name: str = ""
    """What the direction is called before its label (the SAE's name, as in "4x feature 495")."""
    positions: tuple[int, ...] | None = None
    mode: str | None = None

    EDITABLE = ("prompt",)


class DirectionAblation(BaseWidget):
    """The prompt coloured by how much less likely each token became with the direction removed."""

    tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The prompt's tokens, exactly as the tokenizer decodes them.").tag(sync=True)
    decrease = Array(help="`[pos]` clean minus ablated log-prob of token t (NaN at BOS): positive = less likely without the direction.")
    largest = traitlets.List(traitlets.List(), default_value=[], help="[position, token, change] of the largest changes, largest |change| first.").tag(sync=True)
    label = traitlets.Unicode("", help="What was removed: the feature or direction and its hook.").tag(sync=True)
    mode = traitlets.Unicode("", help="How the direction was removed: 'feature' (the SAE feature's own contribution subtracted) or 'project' (projected out).").tag(sync=True)
    prompt = traitlets.Unicode("", help="The prompt the tokens come from (editable in the view).").tag(sync=True)
    title = traitlets.Unicode("", help="Title shown above the tokens.").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, prompt: str, direction: Any, hook: str | None = None, positions: Sequence[int] | None = None,
                   mode: str | None = None, name: str = "", **kwargs: Any) -> "DirectionAblation":
        """`direction`: `(sae, index)` or a vector `[d]` at `hook` (default: the SAE's hook); `name`: what to call it."""
        hook = hook or default_hook([as_readout(direction)])
        inputs = DirectionAblationInputs(model, prompt, direction, hook, name, tuple(positions) if positions is not None else None, mode)
        return cls.computed(inputs, title=kwargs.pop("title", "Direction ablation"), **kwargs)

    SELECTION = {"prompt": "prompt", "direction": "sae_feature", "hook": "hook", "name": "sae"}
    """Remove the selection's feature (at its SAE's hook) on the selection's prompt."""

    def compute(self, inputs: DirectionAblationInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """The clean and ablated log-probs of every token (`compute.ablation.direction`), as the view shows them."""
        result = direction_ablation(inputs.model, inputs.prompt, inputs.hook, inputs.direction,
                                    list(inputs.positions) if inputs.positions is not None else None, inputs.mode)
        label = f"{inputs.name + ' ' if inputs.name else ''}{as_readout(inputs.direction).label} at {inputs.hook}"
        return {"label": label, "tokens": result.tokens, "decrease": torch.cat([torch.tensor([float("nan")]), result.drop]),
                "largest": [[p + 1, token, change] for p, token, change in result.largest_drops(10)], "mode": result.mode}

    def set_prompt(self, prompt: str) -> None:
        """Recompute the clean and ablated log-probs on a new prompt."""
        self.set(prompt=prompt)

    def summary(self) -> str:
        return f"{self.label}, {len(self.tokens)} tokens"

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.label} ({self.mode}); log-prob drop of each token without it (clean - ablated; positive: less likely)"]
        lines += [f"  {_colors.format_value(drop):>8}  token {position} {token!r}" for position, token, drop in self.largest]
        return "\n".join(lines)

    def to_static_html(self) -> str:
        values = self.decrease.tolist() if self.tokens else []
        scale = _colors.choose_scale([v for v in values if v == v] or [0.0], "diverging")
        footer = html.escape(f"{self.mode} mode · log-prob drop = clean - ablated; orange: the token became less likely without the direction, blue: more likely")
        return _snapshot.page("iw-da", f"{self.title} · {self.label}", _snapshot.token_spans(self.tokens, values, scale), footer)
