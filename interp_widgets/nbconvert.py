"""HTML exports show every interp-widgets view's static snapshot.

`jupyter nbconvert --to html --execute` stores the widgets' state in the notebook, and the HTML
exporter then draws each widget output from that state with a widget manager it loads from a CDN:
offline (and with JavaScript off) the output is blank, and the snapshot in the same output is
never shown. A token string with `<!--` and, later, `<script` in the saved state also breaks the
state's script tag, blanking every widget. So for each output that carries an interp-widgets
snapshot (marked by `VIEW_MIME`), this preprocessor drops the widget view, leaving the static,
escaped HTML, and removes those widgets' state, the state of every widget they hold (a
workbench's prompt box, tabs and inner views, found through the `IPY_MODEL_` references in the
state) and the state of our model-only widgets that have no view (a `Selection`: SAE names,
prompts; marked `_iw_model_only`). Other widgets, and whatever they still use, are left as they are. For their state, `escape_html_script` replaces nbconvert's filter of the same name
(which escapes only `/`): it also writes `<` as `\u003c`, so no `<!--`, `<script` or `</script`
inside a JSON string can change how HTML reads the script element (HTML's script-data rules).

The package registers both for HTML exports (webpdf and slides included) through
`etc/jupyter/jupyter_nbconvert_config.json`; by hand:
`jupyter nbconvert --to html --HTMLExporter.preprocessors=interp_widgets.nbconvert.SnapshotPreprocessor`.
"""

from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor

VIEW_MIME = "application/vnd.interp-widgets.view+json"  # as in interp_widgets.widgets._base
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
MODEL_REFERENCE = "IPY_MODEL_"  # how a widget's state names another widget (ipywidgets' serialisation)


def escape_html_script(text: str) -> str:
    """JSON text safe inside a `<script>` element: `/` as `\\/` (as nbconvert does) and `<` as `\\u003c`.

    In JSON, `<` and `/` occur only inside strings, where both escapes mean the same characters.
    """
    return text.replace("/", "\\/").replace("<", "\\u003c")


class SnapshotPreprocessor(Preprocessor):
    """Replace interp-widgets' live views by their static snapshots in an export."""

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        ours: set[str] = set()
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if VIEW_MIME not in data or "text/html" not in data:
                    continue
                del data[VIEW_MIME]
                view = data.pop(WIDGET_VIEW_MIME, None)
                if isinstance(view, dict) and view.get("model_id"):
                    ours.add(view["model_id"])
        widgets = nb.metadata.get("widgets", {})
        state = widgets.get(WIDGET_STATE_MIME, {}).get("state") if isinstance(widgets, dict) else None
        if isinstance(state, dict):
            ours |= {model_id for model_id, entry in state.items()
                     if isinstance(entry, dict) and isinstance(entry.get("state"), dict) and entry["state"].get("_iw_model_only")}
        if isinstance(state, dict) and ours:
            shown = {view["model_id"] for cell in nb.cells for output in cell.get("outputs", [])
                     if isinstance(view := output.get("data", {}).get(WIDGET_VIEW_MIME), dict) and view.get("model_id")}
            for model_id in dropped_models(state, ours, shown):
                state.pop(model_id, None)
            if not state:
                del nb.metadata["widgets"]
        return nb, resources


def references(entry: Any) -> set[str]:
    """The model ids a widget's saved state names (`"IPY_MODEL_<id>"`: children, layout, style, links)."""
    found: set[str] = set()
    stack = [entry.get("state") if isinstance(entry, dict) else None]
    while stack:
        value = stack.pop()
        if isinstance(value, str) and value.startswith(MODEL_REFERENCE):
            found.add(value[len(MODEL_REFERENCE):])
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def dropped_models(state: dict[str, Any], ours: set[str], shown: set[str]) -> set[str]:
    """`ours` and every model they hold (a workbench's boxes, tabs, inner views, layouts and styles,
    followed through their references), except a model that a kept widget or a kept output still uses."""
    def reach(start: set[str]) -> set[str]:
        seen, stack = set(start), list(start)
        while stack:
            for model_id in references(state.get(stack.pop())):
                if model_id not in seen:
                    seen.add(model_id)
                    stack.append(model_id)
        return seen

    held = reach(ours)
    kept = reach((set(state) - held) | (shown - ours))
    return held - kept
