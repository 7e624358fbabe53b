"""Feature dashboard: one feature's top contexts, binned examples, histogram, top tokens and logit lens.

Computed in the kernel from an activation index (`compute.features.index`, built once per SAE with
a progress line in the view), so a new feature index typed in the view is instant. Clicking an
example publishes it to the shared `Selection`: the ablation explorer opens it with that token as
the target. The maths is `compute.features.dashboard`.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import traitlets

from interp_widgets.compute.features.dashboard import Example, feature_dashboard
from interp_widgets.compute.core.readouts import sae_hook_name
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import _colors
from interp_widgets.widgets._base import Array, BaseWidget, Progress, ShouldStop, request_handler
from interp_widgets.widgets._snapshot import visible
from interp_widgets.widgets.selection import IndexedInputs, Selection


@dataclasses.dataclass(frozen=True, eq=False)
class DashboardInputs(IndexedInputs):
    """One feature of one of the named SAEs, read from its activation index, and the context shown around each example."""

    left: int = 12
    right: int = 4

    EDITABLE = ("feature", "left", "right")


class FeatureDashboard(BaseWidget):
    """One feature of one SAE, read from an activation index."""

    feature = traitlets.Int(0, help="The feature shown (an index into the SAE).").tag(sync=True)
    label = traitlets.Unicode("", help="The feature's name: its SAE and index.").tag(sync=True)
    n_tokens = traitlets.Int(0, help="How many tokens the activation index covers.").tag(sync=True)
    density = traitlets.Float(0.0, help="Fraction of indexed tokens where the feature fires.").tag(sync=True)
    max = traitlets.Float(0.0, help="The feature's largest activation on the indexed tokens.").tag(sync=True)
    histogram_edges = Array(help="`[bins + 1]` edges of the histogram of nonzero activations.")
    histogram_counts = Array(help="`[bins]` how many indexed tokens fall in each bin.")
    top = traitlets.List(traitlets.Dict(), default_value=[], help="Top activating contexts: {sequence, position, value, tokens, values, center}.").tag(sync=True)
    bins = traitlets.List(traitlets.Dict(), default_value=[], help="Equal-width activation bins: {low, high, count, examples}.").tag(sync=True)
    top_tokens = traitlets.List(traitlets.List(), default_value=[], help="[token, mean code over its occurrences, fires, occurrences].").tag(sync=True)
    logit_top = traitlets.List(traitlets.List(), default_value=[], help="[token, score] the tokens the feature's decoder direction promotes most (its logit lens).").tag(sync=True)
    logit_bottom = traitlets.List(traitlets.List(), default_value=[], help="[token, score] the tokens it suppresses most.").tag(sync=True)
    left = traitlets.Int(12, help="Tokens of context before the activating token (editable in the view).").tag(sync=True)
    right = traitlets.Int(4, help="Tokens of context after the activating token (editable in the view).").tag(sync=True)
    progress = traitlets.Unicode("", help="While the index is built: how far it is.").tag(sync=True)
    notes = traitlets.List(traitlets.Unicode(), default_value=[], help="Plain-language notes on the feature (e.g. that it never fires).").tag(sync=True)
    title = traitlets.Unicode("", help="Title shown above the dashboard.").tag(sync=True)

    @classmethod
    def from_selected(cls, selection: Any, selected: dict[str, Any], **options: Any) -> "FeatureDashboard":
        """Read from the selection's activation indexes (built once per SAE), with the context widths of `options`."""
        widget = cls(title=options.pop("title", "Feature dashboard"), **options)
        widget.set_inputs(DashboardInputs(selection.model, left=widget.left, right=widget.right, **selected))
        return widget

    SELECTION = {"sae": "sae", "feature": "feature", "saes": "saes", "index_of": "index"}
    """The selection's feature; clicking an example moves the selection's prompt and target."""

    @classmethod
    def from_model(cls, model: Any, sae: Any, feature: int, name: str = "sae", index: Any = None, **kwargs: Any) -> "FeatureDashboard":
        """A dashboard of its own (an unshared selection); `index`: an `ActivationIndex` to use instead of building one."""
        selection = Selection(model, {name: sae}, name, feature)
        if index is not None:
            selection.set_index(name, index)
        return cls.from_selection(selection, **kwargs)

    def compute(self, inputs: DashboardInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """The feature's dashboard (`compute.features.dashboard.feature_dashboard`) from the SAE's activation index."""
        if not (0 <= inputs.left <= 64 and 0 <= inputs.right <= 64):
            raise InterpWidgetsError("context widths must lie between 0 and 64 tokens.")
        model, sae = inputs.model, inputs.saes[inputs.sae]
        index = inputs.index_of(lambda done, total: progress(done, total, "building the activation index"), sae=inputs.sae)
        index.check_feature(int(inputs.feature))
        dash = feature_dashboard(index, inputs.feature, model, sae, left=inputs.left, right=inputs.right)
        decode = lambda ids: [model.tokenizer.decode([i]) for i in ids]  # noqa: E731

        def example(e: Example) -> dict[str, Any]:
            return {"sequence": e.sequence, "position": e.position, "value": e.value, "tokens": decode(e.tokens),
                    "values": e.values, "center": e.center}

        lens = dash.logit_lens
        return {"feature": dash.feature, "label": f"{inputs.sae} feature {dash.feature} at {sae_hook_name(sae)}",
                "n_tokens": dash.n_tokens, "density": dash.density, "max": dash.max,
                "histogram_edges": dash.histogram_edges, "histogram_counts": dash.histogram_counts,
                "top": [example(e) for e in dash.top],
                "bins": [{"low": b.low, "high": b.high, "count": b.count, "examples": [example(e) for e in b.examples]} for b in dash.bins],
                "top_tokens": [[decode([t])[0], mean, fires, occurrences] for t, mean, fires, occurrences in dash.top_tokens],
                "logit_top": [[t, s] for t, _, s in lens.top] if lens else [], "logit_bottom": [[t, s] for t, _, s in lens.bottom] if lens else [],
                "notes": dash.notes}

    def set_feature(self, feature: int) -> None:
        """Show another feature of the same SAE (and move the selection to it)."""
        self.set(feature=int(feature))

    def set_context(self, left: int, right: int) -> None:
        """Tokens of context shown before and after each activating token."""
        self.set(left=int(left), right=int(right))

    def open_example(self, sequence: int, position: int) -> dict[str, Any]:
        """Publish an example as the selection's prompt with its token as the target (the ablation explorer opens it).

        The prompt is the example's whole sequence up to `right` tokens past the token, so the explorer's
        activation at the target is the dashboard's (a causal model: what comes after does not matter)."""
        inputs: DashboardInputs = self._need_inputs()
        model, index = inputs.model, inputs.index_of(sae=inputs.sae)
        if not (0 <= int(sequence) < index.tokens.shape[0] and 1 <= int(position) < index.context):
            raise InterpWidgetsError(f"no example at sequence {sequence}, position {position} in the index.")
        start = 1
        window = index.tokens[int(sequence), start : min(index.context, int(position) + self.right + 1)].tolist()
        text = model.tokenizer.decode(window)
        retokenized = model.to_tokens(text)[0, 1:].tolist()
        target = 1 + int(position) - start if retokenized == window else -1  # -1: where the feature peaks
        previous = self._selection.prompt if self._selection is not None else ""
        self._publish(prompt=text, target=target)
        for listener in getattr(self, "_example_listeners", []):
            listener(text, target, previous)
        return {"prompt": text, "target": target}

    def on_example(self, callback: Any) -> None:
        """Call `callback(prompt, target, previous prompt)` after an example was opened (the workbench then shows the
        ablation explorer and offers the way back to the prompt typed before)."""
        self.__dict__.setdefault("_example_listeners", []).append(callback)

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
