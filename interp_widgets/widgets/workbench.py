"""The workbench: every view of the suite around one shared selection, in tabs, in one line.

    bench = iw.explore(model, saes={"4x": sae}, prompt="bread and butter")
    bench = iw.explore("embedded-6l")                  # a name loads through iw.load_model

One `Selection` holds the prompt, SAE, feature and target position; the bench's prompt box and
feature box, and a pick in any view (a feature clicked in the browser, a prompt typed in a view),
change it, and every view that reads it follows. The tabs are the rows of
`registry.BENCH_TABS` (a view joins the bench with one row there and its `SELECTION`).

Lazy: a view is built (computed) only when its tab is first shown, and a hidden view does not
recompute when the selection changes; it remembers what changed and catches up, once, when it is
shown again, and only if what it reads changed (its `follow`). Switching to an up-to-date tab
computes nothing and sends nothing.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import ipywidgets
from ipywidgets.widgets.widget_string import TextStyle

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._display import SnapshotDisplay
from interp_widgets.widgets.registry import BENCH_TABS, BenchTab, module_of
from interp_widgets.widgets.selection import Selection

DEFAULT_PROMPT = "When Mary and John went to the store, John gave a drink to"
WIDTH = "1000px"  # a notebook cell: the bench never scrolls sideways
HEIGHT = "700px"


class _TabLink:
    """The selection as one tab's view sees it: choices reach it at once while the tab is shown, else on showing.

    Everything else (the model, SAEs, indexes, `choose`) is the shared selection's.
    """

    def __init__(self, selection: Selection, shown: Callable[[], bool]) -> None:
        object.__setattr__(self, "_selection", selection)
        object.__setattr__(self, "_shown", shown)
        object.__setattr__(self, "_pending", set())
        object.__setattr__(self, "_follow", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._selection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._selection, name, value)

    def on_choice(self, owner: Any, callback: Callable[[set[str]], None]) -> None:
        object.__setattr__(self, "_follow", (owner, callback))

        def follow_when_shown(changed: set[str]) -> None:
            if self._shown():
                callback(changed)
            else:
                self._pending.update(changed)

        self._selection.on_choice(owner, follow_when_shown)

    def catch_up(self) -> None:
        """Apply the choices made while the tab was hidden (one recompute at most; the view shows its own errors)."""
        if not self._pending or self._follow is None:
            return
        _owner, callback = self._follow
        changed = set(self._pending)
        self._pending.clear()
        callback(changed)


class Workbench(SnapshotDisplay, ipywidgets.VBox):
    """The suite's views in tabs around one `Selection` (see the module docstring); `bench.views[label]` once built.

    Like every view it leaves a static snapshot in the notebook (the tab on screen), refreshed after each cell.
    """

    def __init__(self, model: Any, saes: dict[str, Any] | None = None, prompt: str = "", corrupt: str = "",
                 index_tokens: int | None = 65_536) -> None:
        self._display_ids: list[str] = []
        self.selection = Selection(model, saes or {}, prompt=prompt or DEFAULT_PROMPT, index_tokens=index_tokens)
        self.tabs_shown: tuple[BenchTab, ...] = tuple(tab for tab in BENCH_TABS if self.selection.saes or not tab.needs_sae)
        self.views: dict[str, Any] = {}
        self._links: dict[str, _TabLink] = {}
        self._bench_options = {"corrupt": corrupt}  # passed to the tabs whose registry row names them (`BenchTab.options`)
        plain = ipywidgets.Layout()  # one layout and one style for the widgets that need none of their own (each widget costs)
        style = TextStyle()
        # A text area, not a one-line box: a prompt of code or docstrings keeps its line breaks (sent when the box loses focus).
        self.prompt_box = ipywidgets.Textarea(value=self.selection.prompt, description="prompt", continuous_update=False, style=style,
                                              rows=_rows(self.selection.prompt), layout=ipywidgets.Layout(flex="1 1 auto", width="auto"),
                                              tooltip="the prompt of every tab: Enter adds a line; it is sent when you leave the box")
        self.prompt_box.add_class("iw-bench-prompt")
        self.prompt_box.observe(lambda change: self.selection.choose(prompt=change["new"], target=-1), names="value")
        controls: list[Any] = [self.prompt_box]
        self.sae_box: Any = None
        self.feature_box: Any = None
        if self.selection.saes:
            if len(self.selection.saes) > 1:  # a choice only where there is one to make
                self.sae_box = ipywidgets.Dropdown(options=sorted(self.selection.saes), value=self.selection.sae, description="SAE")
                self.sae_box.observe(lambda change: self.selection.choose(sae=change["new"]), names="value")
                controls.append(self.sae_box)
            # Not a BoundedIntText: that clamps -1 to 0 silently; an index out of range gets the views' message instead.
            self.feature_box = ipywidgets.IntText(value=self.selection.feature, description=f"{self.selection.sae} feature", style=style,
                                                  layout=plain)
            self.feature_box.add_class("iw-bench-feature")
            self.feature_box.observe(lambda change: self._choose_feature(int(change["new"])), names="value")
            self.feature_note = ipywidgets.HTML("", layout=plain)
            self.feature_note.add_class("iw-bench-feature-note")
            controls += [self.feature_box, self.feature_note]
        self.selection.observe(self._echo, names=["prompt", "feature", "sae"])
        self._placeholder = ipywidgets.Box(layout=plain)  # one empty widget stands in for every tab not built yet
        self.tab = ipywidgets.Tab(children=[self._placeholder] * len(self.tabs_shown), titles=[tab.label for tab in self.tabs_shown],
                                  selected_index=0, layout=plain)
        self.tab.observe(lambda change: self._show(change["new"]), names="selected_index")
        self.example_note = ipywidgets.HTML("", layout=plain)  # after a dashboard example opened: what changed, and the way back
        self.example_note.add_class("iw-bench-example-note")
        self.back_button = ipywidgets.Button(description="back to your prompt", layout=ipywidgets.Layout(display="none"))
        self.back_button.on_click(lambda _button: self.back_to_typed_prompt())
        self._typed_prompt: str | None = None
        super().__init__([ipywidgets.HBox(controls, layout=plain), ipywidgets.HBox([self.example_note, self.back_button], layout=plain), self.tab],
                         layout=ipywidgets.Layout(max_width=WIDTH, max_height=HEIGHT, overflow_x="hidden", overflow_y="auto"))
        self.add_class("iw-bench")
        self._show(0)
        self.tab.observe(self._on_state_change, names="selected_index")
        self.selection.observe(self._on_state_change, names=["prompt", "feature", "sae", "target"])

    # ---- tabs ----------------------------------------------------------------------------------

    @property
    def current(self) -> Any:
        """The view on screen."""
        return self.views.get(self.tabs_shown[self.tab.selected_index or 0].label)

    def show(self, label: str) -> Any:
        """Switch to the tab `label` (e.g. "Patching") and return its view, built or brought up to date."""
        labels = [tab.label for tab in self.tabs_shown]
        if label not in labels:
            raise InterpWidgetsError(f"the bench has no tab {label!r}: it has {', '.join(labels)}.")
        self.tab.selected_index = labels.index(label)
        return self.views.get(label)  # None where the view could not be built (its tab says why)

    def _show(self, index: int | None) -> None:
        if index is None:
            return
        tab = self.tabs_shown[index]
        if tab.label in self._links:
            self._links[tab.label].catch_up()
            return
        cls = getattr(importlib.import_module(module_of(tab.name)), tab.name)
        link = _TabLink(self.selection, lambda label=tab.label: self._is_shown(label))
        try:
            if tab.needs_index and not self.selection.has_index():
                self._build_index_in_view(index, tab)
            view = cls.from_selection(link, **{name: self._bench_options[name] for name in tab.options})
        except InterpWidgetsError as error:
            self._put(index, ipywidgets.HTML(f"<b>{tab.label}</b>: {_escape(str(error))}"))
            return
        self._links[tab.label] = link
        self.views[tab.label] = view
        if hasattr(view, "on_example"):  # the dashboard: an example clicked opens in the ablation explorer
            view.on_example(self._example_opened)
        self._put(index, view)

    def _build_index_in_view(self, index: int, tab: BenchTab) -> None:
        """Build the SAE's activation index (the browser and the dashboard read it) with a progress line in the tab
        from its first frame, instead of a blank tab while it builds."""
        line = ipywidgets.HTML(f"<b>{tab.label}</b>: building the activation index of the {_escape(self.selection.sae)} SAE…")
        line.add_class("iw-bench-progress")
        self._put(index, line)
        shown = [-1]

        def progress(done: int, total: int) -> None:
            percent = 100 * done // max(1, total)
            if percent >= shown[0] + 5 or done == total:  # a message every 5 %, not every batch
                shown[0] = percent
                line.value = (f"<b>{tab.label}</b>: building the activation index of the {_escape(self.selection.sae)} SAE: "
                              f"{done:,} of {total:,} sequences ({percent} %)")

        self.selection.index(progress=progress)

    def _choose_feature(self, feature: int) -> None:
        """The feature box's value: chosen when the SAE has it; otherwise the box goes back and says why (as the views do)."""
        width = _width(self.selection.current_sae)
        if not 0 <= feature < width:
            kept = self.selection.feature
            self.feature_box.value = kept  # (this observer runs again, with a valid value, and clears the note: set it after)
            self.feature_note.value = _escape(f"feature {feature} is out of range for the {self.selection.sae} SAE, which has {width} "
                                              f"features (0 to {width - 1}): the views keep feature {kept}.")
            return
        self.feature_note.value = ""
        self.selection.choose(feature=feature)

    def _example_opened(self, prompt: str, target: int, previous: str) -> None:
        """A dashboard example became the selection's prompt: say so, switch to the ablation explorer, offer the way back."""
        if self._typed_prompt is None:
            self._typed_prompt = previous
        where = f"target token {target}" if target >= 0 else "target where the feature peaks"
        self.example_note.value = (f"The dashboard's example is now the prompt of every tab ({where}); "
                                   "it opens in the Ablation tab.")
        self.back_button.layout.display = None
        if any(tab.label == "Ablation" for tab in self.tabs_shown):
            self.show("Ablation")

    def back_to_typed_prompt(self) -> None:
        """Undo a dashboard example: the prompt typed before it comes back in every tab."""
        if self._typed_prompt is not None:
            self.selection.choose(prompt=self._typed_prompt, target=-1)
        self._typed_prompt = None
        self.example_note.value = ""
        self.back_button.layout.display = "none"

    def _put(self, index: int, widget: Any) -> None:
        children = list(self.tab.children)
        children[index] = widget
        self.tab.children = tuple(children)

    def _is_shown(self, label: str) -> bool:
        return self.tabs_shown[self.tab.selected_index or 0].label == label

    def _echo(self, change: Any) -> None:
        """Keep the bench's own boxes showing the selection (a pick made inside a view)."""
        if change["name"] == "sae" and self.feature_box is not None:
            self.feature_box.max = _width(self.selection.current_sae) - 1
            self.feature_box.description = f"{change['new']} feature"
        box = {"prompt": self.prompt_box, "feature": self.feature_box, "sae": self.sae_box}[change["name"]]
        if box is not None and box.value != change["new"]:
            box.value = change["new"]
        if change["name"] == "prompt":
            self.prompt_box.rows = _rows(change["new"])

    # ---- pictures and text ---------------------------------------------------------------------

    def save(self, path: Any) -> Any:
        """Save the view on screen as an SVG picture (see `BaseWidget.save`)."""
        return self.current.save(path)

    def summary(self) -> str:
        built = ", ".join(self.views) or "none"
        return f"{len(self.tabs_shown)} tabs ({built} built), prompt {self.selection.prompt!r}"

    def _heading(self) -> str:
        label = self.tabs_shown[self.tab.selected_index or 0].label
        return f"Workbench: tabs {', '.join(tab.label for tab in self.tabs_shown)}; showing {label}"

    def to_text(self) -> str:
        view = self.current
        return f"{self._heading()}\n{view.to_text() if view is not None else ''}"

    def to_static_html(self) -> str:
        """The tab on screen's snapshot under a line naming the tabs (escaped, script-free)."""
        view = self.current
        return (f'<div class="iw-bench-snapshot"><div><b>{_escape(self._heading())}</b> <small>(static snapshot)</small></div>'
                f"{view.to_static_html() if view is not None else ''}</div>")


def explore(model: Any, saes: Any = None, prompt: str = "", corrupt: str = "", index_tokens: int | None = 65_536) -> Workbench:
    """Open the workbench on `model` (a loaded model, or a name for `iw.load_model`), with optional SAEs.

    `saes`: one SAE, or a dict of named SAEs (the feature views need one); `prompt`: the shared prompt
    (a sample IOI sentence when empty); `corrupt`: the patching tab's corrupt prompt (default: one
    token of the prompt swapped for a neighbour of the same length).
    """
    if isinstance(model, str):
        from interp_widgets.models.loaders import load_model

        model = load_model(model)
    if saes is not None and not isinstance(saes, dict):
        saes = {"sae": saes}
    return Workbench(model, saes, prompt, corrupt, index_tokens)


def _rows(prompt: str) -> int:
    """The prompt box's height: one row per line of the prompt, 1 to 6."""
    return max(1, min(6, prompt.count("\n") + 1))


def _width(sae: Any) -> int:
    return int(getattr(sae, "d_sae", 0) or getattr(getattr(sae, "cfg", None), "d_sae", 0) or 1)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
