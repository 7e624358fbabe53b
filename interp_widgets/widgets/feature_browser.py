"""Feature browser: every feature of an SAE in a sortable, filterable table, with searches.

Columns: density, maximum activation, top tokens (by total activation on the indexed data), and
the maximum cosine similarity of the feature's decoder direction to another dictionary when one
is given. Search by token ("which features fire most on ' and'") and by prompt ("which are most
active on this text, and where") are answered in the kernel. Clicking a row publishes the feature
to the shared `Selection`: every linked view moves to it. The maths is `compute.dashboard`.
"""

from __future__ import annotations

import html
from typing import Any

import torch
import traitlets

from interp_widgets.compute.dashboard import feature_table, features_on_prompt, features_on_token
from interp_widgets.compute.hooks import one_token_id
from interp_widgets.widgets._base import BaseWidget, bundle_path, request_handler
from interp_widgets.widgets._snapshot import visible
from interp_widgets.widgets._wire import from_wire, to_wire
from interp_widgets.widgets.selection import Linked, Selection

TEXT_ROWS = 20


class FeatureBrowser(Linked, BaseWidget):
    """The selection's SAE as a table of features; a row click selects that feature everywhere."""

    _esm = bundle_path("feature_browser.js")

    label = traitlets.Unicode("").tag(sync=True)
    density = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    """`[d_sae]` fraction of indexed tokens where each feature fires."""
    max = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    mcs = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    """`[d_sae]` max cosine similarity to `compare_to` (empty when none is given)."""
    compare_label = traitlets.Unicode("").tag(sync=True)
    top_tokens = traitlets.List(default_value=[]).tag(sync=True)
    """Per feature, its top tokens (strings)."""
    selected = traitlets.Int(-1).tag(sync=True)
    results = traitlets.List(default_value=[]).tag(sync=True)
    """The last search: [feature, score, detail]."""
    results_label = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    @classmethod
    def from_selection(cls, selection: Selection, compare_to: Any = None, compare_label: str = "", **kwargs: Any) -> "FeatureBrowser":
        """The selection's SAE; `compare_to`: another dictionary (same hook) for the MCS column."""
        widget = cls(title=kwargs.pop("title", "Feature browser"), compare_label=compare_label, **kwargs)
        widget._source = {"selection": selection, "compare_to": compare_to}

        def follow(changed: set[str]) -> None:
            if "sae" in changed:
                widget._compute()
            if "feature" in changed:
                widget.selected = selection.feature

        widget._follow(selection, follow)
        widget._compute()
        return widget

    def _compute(self) -> None:
        source = self._need_source()
        selection: Selection = source["selection"]
        index = selection.index(progress=lambda done, total: setattr(self, "progress", f"building the activation index: {done} of {total} sequences"))
        table = feature_table(index)
        decode = selection.model.tokenizer.decode
        mcs = torch.zeros(0)
        if source["compare_to"] is not None:
            from interp_widgets.sae.compare import max_cosine_similarity

            with torch.inference_mode():
                mcs = max_cosine_similarity(selection.current_sae, source["compare_to"]).float().cpu()
        with self.hold_sync():
            self.label = f"{selection.sae} SAE at {selection.hook}: {index.d_sae} features over {index.n_tokens} tokens"
            self.density, self.max, self.mcs = to_wire(table.density), to_wire(table.max), to_wire(mcs)
            self.top_tokens = [[decode([t]) for t in row if t >= 0] for row in table.top_tokens.tolist()]
            self.selected = selection.feature
            self.progress = ""

    def select(self, feature: int) -> None:
        """Select a feature here and in every linked view."""
        selection: Selection = self._need_source()["selection"]
        selection.index().check_feature(int(feature))
        self.selected = int(feature)
        self._publish(feature=int(feature))

    def search_token(self, token: str) -> list[list[Any]]:
        """Features by their mean activation over the occurrences of `token` (one token, as typed: " and")."""
        selection: Selection = self._need_source()["selection"]
        found = features_on_token(selection.index(), one_token_id(selection.model, token, "search token"))
        self.results = [[f, mean, f"fires on {fires} of its occurrences"] for f, mean, fires in found]
        self.results_label = f"features by mean activation on {visible(token)!r}"
        return self.results

    def search_prompt(self, prompt: str) -> list[list[Any]]:
        """Features most active on `prompt`, with the token where each peaks."""
        selection: Selection = self._need_source()["selection"]
        found = features_on_prompt(selection.model, selection.current_sae, prompt, selection.hook)
        tokens = selection.model.to_str_tokens(prompt)
        self.results = [[f, peak, f"peaks at {visible(str(tokens[p]))!r} (position {p})"] for f, peak, p in found]
        self.results_label = f"features most active on {prompt[:40]!r}"
        return self.results

    @request_handler("select")
    def _request_select(self, feature: int) -> dict[str, Any]:
        self.select(feature)
        return {"selected": self.selected}

    @request_handler("search_token", supersedes=True)
    def _request_token(self, token: str) -> dict[str, Any]:
        return {"n": len(self.search_token(token))}

    @request_handler("search_prompt", supersedes=True)
    def _request_prompt(self, prompt: str) -> dict[str, Any]:
        return {"n": len(self.search_prompt(prompt))}

    # ---- text and snapshot ----------------------------------------------------------------

    def _rows(self) -> list[tuple[int, float, float, list[str]]]:
        density, peak = from_wire(self.density), from_wire(self.max)
        order = torch.argsort(density, descending=True, stable=True)[:TEXT_ROWS].tolist()
        return [(f, float(density[f]), float(peak[f]), self.top_tokens[f]) for f in order]

    def summary(self) -> str:
        return self.label

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.label}", f"{'feature':>8} {'density':>8} {'max':>7}  top tokens"]
        lines += [f"{f:>8} {d:>8.2%} {m:>7.3f}  {', '.join(repr(t) for t in tokens)}" for f, d, m, tokens in self._rows()]
        return "\n".join(lines)

    def to_static_html(self) -> str:
        rows = "".join(f"<tr><td>{f}</td><td>{d:.2%}</td><td>{m:.3f}</td><td><code>{html.escape(' · '.join(visible(t) for t in tokens))}</code></td></tr>"
                       for f, d, m, tokens in self._rows())
        return (f"<div><div><b>{html.escape(self.title + ' · ' + self.label)}</b> <small>(static snapshot: the {TEXT_ROWS} densest features)</small></div>"
                f"<table><tr><th>feature</th><th>density</th><th>max</th><th>top tokens</th></tr>{rows}</table></div>")
