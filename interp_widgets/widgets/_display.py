"""What every widget shows besides its live view: a cheap repr, a text form, and a static snapshot.

The display bundle carries a static, script-free, escaped HTML snapshot (`to_static_html()`), so
a saved notebook or an HTML export shows the last view without a kernel. Where the live view
cannot be drawn, the package's JupyterLab / Notebook 7 extension (js/labextension) shows that
snapshot, recognising our outputs by the marker MIME type `VIEW_MIME`; its nbconvert
preprocessor (`interp_widgets.nbconvert`) makes HTML exports show it too.

Refreshing a displayed snapshot makes the notebook front-end re-create the live view, which would
throw away what the user is typing. So a state change only marks the widget; the snapshots of
marked widgets are refreshed after each cell has run (IPython's `post_run_cell`): changes made by
a cell's code show in its outputs at once, changes made inside a widget after the next cell runs.
"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

from interp_widgets.widgets._snapshot import no_maths

VIEW_MIME = "application/vnd.interp-widgets.view+json"
"""Marks an output as an interp-widgets view with a static snapshot in its text/html."""
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
SNAPSHOT_NOTE = ('<div class="iw-snapshot-edits"><small>Saved with the notebook as the view was when a cell last ran: '
                 "edits made in the view after that (a prompt typed in it, a click) are not in this snapshot until "
                 "the next cell runs.</small></div>")
"""Under every snapshot: what it holds, so a saved notebook reopened without its kernel does not surprise (see the
module docstring for why a snapshot is not refreshed while the user works in the view)."""


class SnapshotDisplay:
    """Mixin (before `anywidget.AnyWidget`): text and HTML forms in the display bundle, refreshed after each cell."""

    _display_ids: list[str]

    def summary(self) -> str:
        """One line about the widget (used by repr; must stay cheap)."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.summary()})"

    def to_text(self) -> str:
        """A plain-text rendering of the current view."""
        return repr(self)

    def to_static_html(self) -> str:
        """A static, script-free rendering of the current view, every string escaped."""
        raise NotImplementedError

    def to_svg(self) -> str:
        """The view as a standalone SVG picture: the static snapshot laid out as SVG in the kernel (`_svg.py`)."""
        from interp_widgets.widgets._svg import snapshot_svg

        return snapshot_svg(self.to_static_html(), title=f"{type(self).__name__}: {self.summary()}")

    def save(self, path: Any) -> Any:
        """Save the view as a picture for a paper or slides: `view.save("fig.svg")` (drawn in the kernel, no
        front-end needed, so it works in a running cell); `.html` writes the static snapshot. PNG: the view's
        save button (⤓ at its top right, then "PNG") or convert the SVG. Returns the path."""
        from pathlib import Path

        from interp_widgets.errors import InterpWidgetsError

        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".svg":
            target.write_text(self.to_svg(), encoding="utf-8")
        elif suffix in (".html", ".htm"):
            target.write_text(self.to_static_html(), encoding="utf-8")
        else:
            raise InterpWidgetsError(f"cannot save {target.name!r}: give a .svg path (or .html for the static snapshot); "
                                     "for a PNG use the view's save button (⤓ at its top right) in the notebook, or convert the SVG.")
        return target

    def _bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The display data (widget view, plain text, static HTML) and its metadata."""
        bundle = super()._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/plain"] = self.to_text()
        data["text/html"] = no_maths(self.to_static_html() + SNAPSHOT_NOTE)  # text between $ signs stays text
        if WIDGET_VIEW_MIME in data:
            data[VIEW_MIME] = {"version": 1, "model_id": data[WIDGET_VIEW_MIME].get("model_id")}
        return data, dict(metadata or {})

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return self._bundle()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        data, metadata = self._bundle()
        display(data, metadata=metadata, raw=True, display_id=display_id)

    def _on_state_change(self, _change: Any) -> None:
        if self._display_ids:
            _STALE_SNAPSHOTS.add(self)
            _refresh_after_each_cell()

    def refresh_snapshot(self) -> None:
        """Rewrite the displayed outputs of this widget with its current state (re-creates the views)."""
        _STALE_SNAPSHOTS.discard(self)
        if not self._display_ids:
            return
        from IPython.display import update_display

        data, metadata = self._bundle()
        for display_id in self._display_ids:
            update_display(data, metadata=metadata, raw=True, display_id=display_id)


_STALE_SNAPSHOTS: "weakref.WeakSet[SnapshotDisplay]" = weakref.WeakSet()
_HOOKED_SHELLS: "weakref.WeakSet[Any]" = weakref.WeakSet()


def refresh_stale_snapshots(*_args: Any) -> None:
    """Refresh the snapshot of every widget whose state changed since its last refresh."""
    for widget in list(_STALE_SNAPSHOTS):
        widget.refresh_snapshot()


def _refresh_after_each_cell() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and shell not in _HOOKED_SHELLS:
        shell.events.register("post_run_cell", refresh_stale_snapshots)
        _HOOKED_SHELLS.add(shell)
