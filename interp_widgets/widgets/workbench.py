"""The workbench: every view of the suite around one shared selection, in tabs, in one line.

    bench = iw.explore(model, saes={"4x": sae}, prompt="bread and butter")
    bench = iw.explore("embedded-6l")                  # a name loads through iw.load_model

One `Selection` holds the prompt, SAE, feature and target position; the bench's prompt box and
feature box, and a pick in any view (a feature clicked in the browser, a prompt typed in a view),
change it, and every view that reads it follows. The tabs are the rows of
`registry.BENCH_TABS` (a view joins the bench with one row there and a `from_selection`).

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

from interp_widgets.errors import InterpWidgetsError, Superseded
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
        """Apply the choices made while the tab was hidden (one recompute at most; errors shown in the view)."""
        if not self._pending or self._follow is None:
            return
        owner, callback = self._follow
        changed = set(self._pending)
        self._pending.clear()
        try:
            callback(changed)
            owner._linked_error = ""
        except Superseded:
            pass
        except InterpWidgetsError as error:
            owner._linked_error = f"could not follow the selection ({', '.join(sorted(changed))}): {error}"
        except Exception as error:  # shown in that view, as Selection does; the traceback stays inspectable
            import traceback

            owner.last_traceback = traceback.format_exc()
            owner._linked_error = f"{type(error).__name__}: {error} (full traceback in widget.last_traceback)"


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
        self._options = {"PatchingView": {"corrupt": corrupt}}
        plain = ipywidgets.Layout()  # one layout and one style for the widgets that need none of their own (each widget costs)
        style = TextStyle()
        self.prompt_box = ipywidgets.Text(value=self.selection.prompt, description="prompt", continuous_update=False, style=style,
                                          layout=ipywidgets.Layout(flex="1 1 auto", width="auto"))
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
            self.feature_box = ipywidgets.BoundedIntText(value=self.selection.feature, min=0, max=_width(self.selection.current_sae) - 1,
                                                         description=f"{self.selection.sae} feature", style=style, layout=plain)
            self.feature_box.add_class("iw-bench-feature")
            self.feature_box.observe(lambda change: self.selection.choose(feature=int(change["new"])), names="value")
            controls.append(self.feature_box)
        self.selection.observe(self._echo, names=["prompt", "feature", "sae"])
        self._placeholder = ipywidgets.Box(layout=plain)  # one empty widget stands in for every tab not built yet
        self.tab = ipywidgets.Tab(children=[self._placeholder] * len(self.tabs_shown), titles=[tab.label for tab in self.tabs_shown],
                                  selected_index=0, layout=plain)
        self.tab.observe(lambda change: self._show(change["new"]), names="selected_index")
        super().__init__([ipywidgets.HBox(controls, layout=plain), self.tab],
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
            view = cls.from_selection(link, **self._options.get(tab.name, {}))
        except InterpWidgetsError as error:
            self._put(index, ipywidgets.HTML(f"<b>{tab.label}</b>: {_escape(str(error))}"))
            return
        self._links[tab.label] = link
        self.views[tab.label] = view
        self._put(index, view)

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


def _width(sae: Any) -> int:
    return int(getattr(sae, "d_sae", 0) or getattr(getattr(sae, "cfg", None), "d_sae", 0) or 1)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
