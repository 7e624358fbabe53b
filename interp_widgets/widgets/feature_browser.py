"""Feature browser: every feature of an SAE in a sortable, filterable table, with searches.

Columns: density, maximum activation, top tokens (by total activation on the indexed data), and
the maximum cosine similarity of the feature's decoder direction to another dictionary when one
is given. Search by token ("which features fire most on ' and'") and by prompt ("which are most
active on this text, and where") are answered in the kernel. Clicking a row publishes the feature
to the shared `Selection`: every linked view moves to it. The maths is `compute.features.dashboard`.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import torch
import traitlets

from interp_widgets.compute.features.dashboard import feature_table, features_on_prompt, features_on_token
from interp_widgets.compute.core.hooks import one_token_id, token_strings
from interp_widgets.compute.core.readouts import sae_hook_name
from interp_widgets.sae.compare import decoder_max_cosine_similarity
from interp_widgets.sae.model import SparseAutoencoder
from interp_widgets.widgets._base import Array, BaseWidget, Progress, ShouldStop, request_handler
from interp_widgets.widgets._snapshot import visible
from interp_widgets.widgets.selection import IndexedInputs

TEXT_ROWS = 20


@dataclasses.dataclass(frozen=True, eq=False)
class BrowserInputs(IndexedInputs):
    """Named SAEs and their activation indexes, which SAE, the feature selected (-1, or one the SAE does not have:
    no row), and a dictionary to compare with."""

    compare_to: SparseAutoencoder | None = None


class FeatureBrowser(BaseWidget):
    """The selection's SAE as a table of features; a row click selects that feature everywhere."""

    label = traitlets.Unicode("", help="The SAE shown (its name and hook).").tag(sync=True)
    density = Array(help="`[d_sae]` fraction of indexed tokens where each feature fires.")
    max = Array(help="`[d_sae]` each feature's largest activation on the indexed tokens.")
    mcs = Array(help="`[d_sae]` max cosine similarity to `compare_to` (empty when none is given).")
    compare_label = traitlets.Unicode("", help="What the MCS column compares to ('' without `compare_to`).").tag(sync=True)
    top_tokens = traitlets.List(traitlets.List(traitlets.Unicode()), default_value=[], help="Per feature, its top tokens (strings).").tag(sync=True)
    selected = traitlets.Int(-1, help="The feature of the clicked row (-1: none); moves the selection's feature.").tag(sync=True)
    results = traitlets.List(traitlets.List(), default_value=[], help="The last search: [feature, score, detail].").tag(sync=True)
    results_label = traitlets.Unicode("", help="What the last search looked for (shown above its results).").tag(sync=True)
    progress = traitlets.Unicode("", help="While the index is built: how far it is.").tag(sync=True)
    title = traitlets.Unicode("", help="Title shown above the table.").tag(sync=True)

    @classmethod
    def from_selected(cls, selection: Any, selected: dict[str, Any], compare_to: Any = None, compare_label: str = "",
                      **options: Any) -> "FeatureBrowser":
        """Read from the selection's activation indexes; `compare_to`: another dictionary (same hook) for the MCS column."""
        widget = cls(title=options.pop("title", "Feature browser"), compare_label=compare_label, **options)
        widget.set_inputs(BrowserInputs(selection.model, compare_to=compare_to, **selected))
        return widget

    SELECTION = {"sae": "sae", "feature": "feature", "saes": "saes", "index_of": "index"}
    """The selection's SAE as the table, its feature as the selected row; a row clicked here is published."""

    def compute(self, inputs: BrowserInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """The dictionary's table (`compute.features.dashboard.feature_table`) over the SAE's activation index;
        another feature of the same table only moves the selected row."""
        index = inputs.index_of(lambda done, total: progress(done, total, "building the activation index"), sae=inputs.sae)
        selected = int(inputs.feature) if 0 <= int(inputs.feature) < index.d_sae else -1
        shown = self.inputs
        if (shown is not None and self.top_tokens and shown.model is inputs.model and shown.sae == inputs.sae
                and shown.compare_to is inputs.compare_to and shown.index_of == inputs.index_of):
            return {"selected": selected}
        table = feature_table(index)
        decode = inputs.model.tokenizer.decode
        sae = inputs.saes[inputs.sae]
        mcs = decoder_max_cosine_similarity(sae, inputs.compare_to).cpu() if inputs.compare_to is not None else torch.zeros(0)
        return {"label": f"{inputs.sae} SAE at {sae_hook_name(sae)}: {index.d_sae} features over {index.n_tokens} tokens",
                "density": table.density, "max": table.max, "mcs": mcs,
                "top_tokens": [[decode([t]) for t in row if t >= 0] for row in table.top_tokens.tolist()], "selected": selected}

    def select(self, feature: int) -> None:
        """Select a feature here and in every linked view (a feature the SAE does not have is refused)."""
        inputs: BrowserInputs = self._need_inputs()
        inputs.index_of(sae=inputs.sae).check_feature(int(feature))
        self.set(feature=int(feature))

    def search_token(self, token: str) -> list[list[Any]]:
        """Features by their mean activation over the occurrences of `token` (one token, as typed: " and")."""
        inputs: BrowserInputs = self._need_inputs()
        found = features_on_token(inputs.index_of(sae=inputs.sae), one_token_id(inputs.model, token, "search token"))
        self.results = [[f, mean, f"fires on {fires} of its occurrences"] for f, mean, fires in found]
        self.results_label = f"features by mean activation on {visible(token)!r}"
        return self.results

    def search_prompt(self, prompt: str) -> list[list[Any]]:
        """Features most active on `prompt`, with the token where each peaks."""
        inputs: BrowserInputs = self._need_inputs()
        model, sae = inputs.model, inputs.saes[inputs.sae]
        found = features_on_prompt(model, sae, prompt, sae_hook_name(sae))
        tokens = token_strings(model, prompt)
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
        density, peak = self.density, self.max
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
