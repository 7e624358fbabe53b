"""Feature logit-lens bars: the tokens a direction promotes and suppresses, as bars.

Top and bottom k tokens of the direction through the unembedding (`compute.feature_logit_lens`),
a toggle that leaves out tokens whose unembedding norm is an outlier (and says which), and a click
on a bar that shows where in the current prompt the model predicts that token.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.ablation import as_tokens
from interp_widgets.compute.feature_logit_lens import feature_logit_lens
from interp_widgets.compute.readouts import as_readout
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import BaseWidget, bundle_path, request_handler
from interp_widgets.widgets._wire import from_wire, to_wire
from interp_widgets.widgets.selection import Linked


class LogitLensBars(Linked, BaseWidget):
    """Top/bottom tokens of `direction @ W_U`, the outlier filter, and where the prompt predicts a token."""

    _esm = bundle_path("logit_lens_bars.js")

    top = traitlets.List(default_value=[]).tag(sync=True)
    """[token, id, score] the direction promotes most, strongest first."""
    bottom = traitlets.List(default_value=[]).tag(sync=True)
    """[token, id, score] it suppresses most, strongest first."""
    ln_applied = traitlets.Bool(False).tag(sync=True)
    """Whether the final LayerNorm's centring and scale were applied."""
    exclude_outliers = traitlets.Bool(False).tag(sync=True)
    """Leave out tokens whose unembedding norm is an outlier (toggle in the view)."""
    left_out = traitlets.List(default_value=[]).tag(sync=True)
    """[token, id, reason] for each token the filter left out."""
    k = traitlets.Int(10).tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    """The current prompt's tokens (where a clicked token is predicted)."""
    prompt = traitlets.Unicode("").tag(sync=True)
    where_token = traitlets.Unicode("").tag(sync=True)
    """The clicked token."""
    where_values = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    """`[pos]` the model's probability of the clicked token as the next token after each position."""
    title = traitlets.Unicode("").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, feature: Any, prompt: str = "", k: int = 10, apply_ln: bool = True,
                   exclude_outliers: bool = False, reference_texts: Sequence[str] | None = None, name: str = "",
                   **kwargs: Any) -> "LogitLensBars":
        """`feature`: `(sae, index)` (its decoder row) or a residual direction `[d_model]`."""
        readout = as_readout(feature)
        widget = cls(k=k, exclude_outliers=exclude_outliers, label=f"{name + ' ' if name else ''}{readout.label}",
                     title=kwargs.pop("title", "Logit lens of a direction"), **kwargs)
        widget._source = {"model": model, "feature": feature, "apply_ln": apply_ln, "reference_texts": reference_texts}
        widget._compute()
        if prompt:
            widget.set_prompt(prompt)
        return widget

    @classmethod
    def from_selection(cls, selection: Any, **kwargs: Any) -> "LogitLensBars":
        """The selection's feature, and its prompt for "where is it predicted"; follows both."""
        widget = cls.from_model(selection.model, (selection.current_sae, selection.feature), prompt=selection.prompt,
                                name=selection.sae, **kwargs)

        def follow(changed: set[str]) -> None:
            if changed & {"sae", "feature"}:
                widget._need_source()["feature"] = (selection.current_sae, selection.feature)
                widget.label = f"{selection.sae} feature {selection.feature}"
                widget._compute()
            if "prompt" in changed and selection.prompt:
                widget.set_prompt(selection.prompt)

        widget._follow(selection, follow)
        return widget

    def _compute(self) -> None:
        source = self._need_source()
        lens = feature_logit_lens(source["model"], source["feature"], self.k, source["apply_ln"], self.exclude_outliers,
                                  reference_texts=source["reference_texts"])
        with self.hold_sync():
            self.top = [list(item) for item in lens.top]
            self.bottom = [list(item) for item in lens.bottom]
            self.ln_applied = lens.ln_applied
            self.left_out = [list(item) for item in lens.left_out]

    def set_filter(self, exclude_outliers: bool) -> None:
        """Leave out (or put back) tokens whose unembedding norm is an outlier."""
        self.exclude_outliers = bool(exclude_outliers)
        self._compute()

    def set_prompt(self, prompt: str) -> None:
        """The prompt in which a clicked token's predictions are shown."""
        model = self._need_source()["model"]
        tokens = as_tokens(model, prompt)
        with self.hold_sync():
            self.tokens = [str(t) for t in model.to_str_tokens(tokens[0])]
            self.prompt = prompt
            self.where_token = ""
            self.where_values = to_wire(torch.zeros(0))

    def where(self, token_id: int) -> torch.Tensor:
        """`[pos]` the model's probability of `token_id` as the next token after each position of the prompt."""
        model = self._need_source()["model"]
        if not self.prompt:
            raise InterpWidgetsError("type a prompt first: the view shows where in it the model predicts the token.")
        if not 0 <= int(token_id) < model.cfg.d_vocab:
            raise InterpWidgetsError(f"token id {token_id} is outside the vocabulary (0 to {model.cfg.d_vocab - 1}).")
        with torch.inference_mode():
            probs = model(as_tokens(model, self.prompt))[0].float().softmax(-1)[:, int(token_id)].cpu()
        with self.hold_sync():
            self.where_token = model.tokenizer.decode([int(token_id)])
            self.where_values = to_wire(probs)
        return probs

    @request_handler("set_filter")
    def _request_filter(self, exclude_outliers: bool) -> dict[str, Any]:
        self.set_filter(exclude_outliers)
        return {"left_out": len(self.left_out)}

    @request_handler("set_prompt")
    def _request_prompt(self, prompt: str) -> dict[str, Any]:
        self.set_prompt(prompt)
        self._publish(prompt=prompt, target=-1)
        return {"n_tokens": len(self.tokens)}

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
            values = from_wire(self.where_values).tolist()
            where = _snapshot.token_spans(self.tokens, values, _colors.choose_scale(values or [0.0], "sequential"))
        body = f"<table>{rows(self.top, '+')}{rows(self.bottom, '−')}</table>{where}"
        return _snapshot.page("iw-llb", f"{self.title} · {self.label}", body, html.escape(note))
