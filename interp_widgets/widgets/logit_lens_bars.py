"""Feature logit-lens bars: the tokens a direction promotes and suppresses, as bars.

Top and bottom k tokens of the direction through the unembedding (`compute.features.logit_lens`),
a toggle that leaves out tokens whose unembedding norm is an outlier (and says which), and a click
on a bar that shows where in the current prompt the model predicts that token.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.core.hooks import as_tokens, token_strings
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.core.readouts import ReadoutSpec, as_readout
from interp_widgets.compute.features.logit_lens import feature_logit_lens, next_token_probability
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop, request_handler
from interp_widgets.widgets._charts import bar_chart


@dataclasses.dataclass(frozen=True, eq=False)
class BarsInputs(Inputs):
    """A direction (`(sae, index)` or `[d_model]`) through the unembedding, and a prompt to find its tokens in."""

    model: Model
    direction: ReadoutSpec
    name: str = ""
    """What the direction is called before its label (the SAE's name, as in "4x feature 495")."""
    prompt: str = ""
    k: int = 10
    apply_ln: bool = True
    exclude_outliers: bool = False
    reference_texts: Sequence[str] | None = None

    EDITABLE = ("exclude_outliers", "prompt")


class LogitLensBars(BaseWidget):
    """Top/bottom tokens of `direction @ W_U`, the outlier filter, and where the prompt predicts a token."""

    top = traitlets.List(traitlets.List(), default_value=[], help="[token, id, score] the direction promotes most, strongest first.").tag(sync=True)
    bottom = traitlets.List(traitlets.List(), default_value=[], help="[token, id, score] it suppresses most, strongest first.").tag(sync=True)
    ln_applied = traitlets.Bool(False, help="Whether the final LayerNorm's centring and scale were applied.").tag(sync=True)
    exclude_outliers = traitlets.Bool(False, help="Leave out tokens whose unembedding norm is an outlier (toggle in the view).").tag(sync=True)
    left_out = traitlets.List(traitlets.List(), default_value=[], help="[token, id, reason] for each token the filter left out.").tag(sync=True)
    k = traitlets.Int(10, help="How many tokens each bar list shows.").tag(sync=True)
    label = traitlets.Unicode("", help="The direction read (feature, neuron or vector and its hook).").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The current prompt's tokens (where a clicked token is predicted).").tag(sync=True)
    prompt = traitlets.Unicode("", help="The prompt whose tokens can be clicked (editable in the view).").tag(sync=True)
    where_token = traitlets.Unicode("", help="The clicked token.").tag(sync=True)
    where_values = Array(help="`[pos]` the model's probability of the clicked token as the next token after each position.")
    title = traitlets.Unicode("", help="Title shown above the bars.").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, direction: Any, prompt: str = "", k: int = 10, apply_ln: bool = True,
                   exclude_outliers: bool = False, reference_texts: Sequence[str] | None = None, name: str = "",
                   **kwargs: Any) -> "LogitLensBars":
        """`direction`: `(sae, index)` (its decoder row) or a residual direction `[d_model]`; `name`: what to call it."""
        inputs = BarsInputs(model, direction, name, prompt, k, apply_ln, exclude_outliers, reference_texts)
        return cls.computed(inputs, title=kwargs.pop("title", "Logit lens of a direction"), **kwargs)

    SELECTION = {"direction": "sae_feature", "name": "sae", "prompt": "prompt"}
    """The selection's feature, and its prompt for "where is it predicted"."""

    def compute(self, inputs: BarsInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """The bars (`compute.features.logit_lens`), and the prompt's tokens (a new prompt clears the clicked token)."""
        lens = feature_logit_lens(inputs.model, inputs.direction, inputs.k, inputs.apply_ln, inputs.exclude_outliers,
                                  reference_texts=inputs.reference_texts)
        out = {"label": f"{inputs.name + ' ' if inputs.name else ''}{as_readout(inputs.direction).label}",
               "top": [list(item) for item in lens.top], "bottom": [list(item) for item in lens.bottom],
               "ln_applied": lens.ln_applied, "left_out": [list(item) for item in lens.left_out]}
        if inputs.prompt != self.prompt or not self.tokens:
            tokens = as_tokens(inputs.model, inputs.prompt)[0] if inputs.prompt else []
            out.update(tokens=token_strings(inputs.model, tokens) if inputs.prompt else [],
                       where_token="", where_values=torch.zeros(0))
        return out

    def set_filter(self, exclude_outliers: bool) -> None:
        """Leave out (or put back) tokens whose unembedding norm is an outlier."""
        self.set(exclude_outliers=bool(exclude_outliers))

    def set_prompt(self, prompt: str) -> None:
        """The prompt in which a clicked token's predictions are shown."""
        self.set(prompt=prompt)

    def where(self, token_id: int) -> torch.Tensor:
        """`[pos]` the model's probability of `token_id` as the next token after each position of the prompt."""
        inputs = self._need_inputs()
        if not inputs.prompt:
            raise InterpWidgetsError("type a prompt first: the view shows where in it the model predicts the token.")
        probs = next_token_probability(inputs.model, as_tokens(inputs.model, inputs.prompt), int(token_id))
        with self.hold_sync():
            self.where_token = inputs.model.tokenizer.decode([int(token_id)])
            self.where_values = probs
        return probs

    @request_handler("where")
    def _request_where(self, token_id: int) -> dict[str, Any]:
        return {"max": float(self.where(token_id).max())}

    def summary(self) -> str:
        return f"{self.label}, top {self.k}"

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.label} ({'final LayerNorm applied' if self.ln_applied else 'raw W_U'})"]
        lines += [f"  + {_colors.format_value(score):>8} {token!r}" for token, _, score in self.top]
        lines += [f"  - {_colors.format_value(score):>8} {token!r}" for token, _, score in self.bottom]
        if self.left_out:
            lines.append(f"  left out: {', '.join(repr(t) for t, _, _ in self.left_out[:10])}")
        return "\n".join(lines)

    def to_static_html(self) -> str:
        def rows(items: list, sign: str) -> str:
            return "".join(f"<tr><td>{sign}</td><td><code>{html.escape(_snapshot.visible(token))}</code></td>"
                           f"<td>{html.escape(_colors.format_value(score))}</td></tr>" for token, _, score in items)

        note = f"left out: {', '.join(_snapshot.visible(t) for t, _, _ in self.left_out)}" if self.left_out else ""
        where = ""
        if self.where_token and self.tokens:
            values = self.where_values.tolist()
            where = _snapshot.token_spans(self.tokens, values, _colors.choose_scale(values or [0.0], "sequential"))
        items = list(self.top) + list(self.bottom)
        bars = bar_chart([_snapshot.visible(token) for token, _, _ in items], [score for _, _, score in items],
                         "promoted (+) and suppressed (−) tokens")
        body = f"{bars}<table>{rows(self.top, '+')}{rows(self.bottom, '−')}</table>{where}"
        return _snapshot.page("iw-llb", f"{self.title} · {self.label}", body, html.escape(note))
