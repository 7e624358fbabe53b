"""Feature dashboard: one feature's top contexts, binned examples, histogram, top tokens and logit lens.

Computed in the kernel from an activation index (`compute.feature_index`, built once per SAE with
a progress line in the view), so a new feature index typed in the view is instant. Clicking an
example publishes it to the shared `Selection`: the ablation explorer opens it with that token as
the target. The maths is `compute.dashboard`.
"""

from __future__ import annotations

import html
from typing import Any

import torch
import traitlets

from interp_widgets.compute.dashboard import Example, feature_dashboard
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import _colors
from interp_widgets.widgets._base import BaseWidget, bundle_path, request_handler
from interp_widgets.widgets._snapshot import visible
from interp_widgets.widgets._wire import to_wire
from interp_widgets.widgets.selection import Linked, Selection


class FeatureDashboard(Linked, BaseWidget):
    """One feature of one SAE, read from an activation index."""

    _esm = bundle_path("feature_dashboard.js")

    feature = traitlets.Int(0).tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    n_tokens = traitlets.Int(0).tag(sync=True)
    density = traitlets.Float(0.0).tag(sync=True)
    """Fraction of indexed tokens where the feature fires."""
    max = traitlets.Float(0.0).tag(sync=True)
    histogram_edges = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    histogram_counts = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    top = traitlets.List(default_value=[]).tag(sync=True)
    """Top activating contexts: {sequence, position, value, tokens, values, center}."""
    bins = traitlets.List(default_value=[]).tag(sync=True)
    """Equal-width activation bins: {low, high, count, examples}."""
    top_tokens = traitlets.List(default_value=[]).tag(sync=True)
    """[token, mean code over its occurrences, fires, occurrences]."""
    logit_top = traitlets.List(default_value=[]).tag(sync=True)
    logit_bottom = traitlets.List(default_value=[]).tag(sync=True)
    left = traitlets.Int(12).tag(sync=True)
    """Tokens of context before the activating token (editable in the view)."""
    right = traitlets.Int(4).tag(sync=True)
    progress = traitlets.Unicode("").tag(sync=True)
    notes = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    @classmethod
    def from_selection(cls, selection: Selection, **kwargs: Any) -> "FeatureDashboard":
        """Show the selection's feature; follow it; clicking an example moves the selection's prompt and target."""
        widget = cls(title=kwargs.pop("title", "Feature dashboard"), **kwargs)
        widget._source = {"selection": selection}
        widget._follow(selection, lambda changed: widget._compute() if changed & {"sae", "feature"} else None)
        widget._compute()
        return widget

    @classmethod
    def from_model(cls, model: Any, sae: Any, feature: int, name: str = "sae", index: Any = None, **kwargs: Any) -> "FeatureDashboard":
        """A dashboard of its own (an unshared selection); `index`: an `ActivationIndex` to use instead of building one."""
        selection = Selection(model, {name: sae}, name, feature)
        if index is not None:
            selection.set_index(name, index)
        return cls.from_selection(selection, **kwargs)

    def _compute(self) -> None:
        selection: Selection = self._need_source()["selection"]
        index = selection.index(progress=self._show_progress)
        dash = feature_dashboard(index, selection.feature, selection.model, selection.current_sae, left=self.left, right=self.right)
        decode = lambda ids: [selection.model.tokenizer.decode([i]) for i in ids]  # noqa: E731

        def example(e: Example) -> dict[str, Any]:
            return {"sequence": e.sequence, "position": e.position, "value": e.value, "tokens": decode(e.tokens),
                    "values": e.values, "center": e.center}

        with self.hold_sync():
            self.feature = dash.feature
            self.label = f"{selection.sae} feature {dash.feature} at {selection.hook}"
            self.n_tokens, self.density, self.max = dash.n_tokens, dash.density, dash.max
            self.histogram_edges, self.histogram_counts = to_wire(dash.histogram_edges), to_wire(dash.histogram_counts.float())
            self.top = [example(e) for e in dash.top]
            self.bins = [{"low": b.low, "high": b.high, "count": b.count, "examples": [example(e) for e in b.examples]} for b in dash.bins]
            self.top_tokens = [[decode([t])[0], mean, fires, occurrences] for t, mean, fires, occurrences in dash.top_tokens]
            lens = dash.logit_lens
            self.logit_top = [[t, s] for t, _, s in lens.top] if lens else []
            self.logit_bottom = [[t, s] for t, _, s in lens.bottom] if lens else []
            self.notes = dash.notes
            self.progress = ""

    def _show_progress(self, done: int, total: int) -> None:
        self.progress = f"building the activation index: {done} of {total} sequences"

    def set_feature(self, feature: int) -> None:
        """Show another feature of the same SAE (and move the selection to it)."""
        selection: Selection = self._need_source()["selection"]
        selection.index(progress=self._show_progress).check_feature(int(feature))  # a bad index is refused before anyone moves
        self._publish(feature=int(feature))
        self._compute()

    def set_context(self, left: int, right: int) -> None:
        """Tokens of context shown before and after each activating token."""
        if not (0 <= int(left) <= 64 and 0 <= int(right) <= 64):
            raise InterpWidgetsError("context widths must lie between 0 and 64 tokens.")
        self.left, self.right = int(left), int(right)
        self._compute()

    def open_example(self, sequence: int, position: int) -> dict[str, Any]:
        """Publish an example as the selection's prompt with its token as the target (the ablation explorer opens it).

        The prompt is the example's whole sequence up to `right` tokens past the token, so the explorer's
        activation at the target is the dashboard's (a causal model: what comes after does not matter)."""
        selection: Selection = self._need_source()["selection"]
        index = selection.index()
        if not (0 <= int(sequence) < index.tokens.shape[0] and 1 <= int(position) < index.context):
            raise InterpWidgetsError(f"no example at sequence {sequence}, position {position} in the index.")
        start = 1
        window = index.tokens[int(sequence), start : min(index.context, int(position) + self.right + 1)].tolist()
        text = selection.model.tokenizer.decode(window)
        retokenized = selection.model.to_tokens(text)[0, 1:].tolist()
        target = 1 + int(position) - start if retokenized == window else -1  # -1: where the feature peaks
        self._publish(prompt=text, target=target)
        return {"prompt": text, "target": target}

    @request_handler("set_feature", supersedes=True)
    def _request_feature(self, feature: int) -> dict[str, Any]:
        self.set_feature(feature)
        return {"feature": self.feature}

    @request_handler("set_context", supersedes=True)
    def _request_context(self, left: int, right: int) -> dict[str, Any]:
        self.set_context(left, right)
        return {"left": self.left}

    @request_handler("open_example")
    def _request_open(self, sequence: int, position: int) -> dict[str, Any]:
        return self.open_example(sequence, position)

    # ---- text and snapshot ----------------------------------------------------------------

    def summary(self) -> str:
        return self.label

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.label}; fires on {self.density:.2%} of {self.n_tokens} tokens, max {self.max:.3f}"]
        for e in self.top[:5]:
            text = "".join(e["tokens"][: e["center"]]) + "[[" + e["tokens"][e["center"]] + "]]" + "".join(e["tokens"][e["center"] + 1 :])
            lines.append(f"  {e['value']:.3f}  {text!r}")
        lines += [f"  top token {t!r}: mean {m:.3f} ({f} of {o})" for t, m, f, o in self.top_tokens[:5]]
        return "\n".join(lines)

    def to_static_html(self) -> str:
        def row(e: dict[str, Any]) -> str:
            spans = "".join(
                f'<span style="background:{_colors.rgba(min(1.0, v / self.max) if self.max > 0 else 0.0)}{";outline:1px solid" if i == e["center"] else ""}">'
                f"{html.escape(visible(t))}</span>" for i, (t, v) in enumerate(zip(e["tokens"], e["values"])))
            return f"<div><code>{e['value']:.3f}</code> {spans}</div>"

        heading = html.escape(f"{self.title} · {self.label} · density {self.density:.2%}, max {self.max:.3f}")
        return (f"<div><div><b>{heading}</b> <small>(static snapshot)</small></div>"
                f"<div style=\"font-family:monospace;white-space:pre\">{''.join(row(e) for e in self.top)}</div></div>")
