"""The nbconvert preprocessor: our views export as their snapshots; other widgets are left alone."""

import json
from pathlib import Path

from tests.parts import need_module

need_module("nbconvert", "a development extra, not in the sae-lens environment: pip install -e '.[dev]'", required_by=None)

import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_notebook, new_output  # noqa: E402

from interp_widgets.nbconvert import WIDGET_STATE_MIME, SnapshotPreprocessor  # noqa: E402
from interp_widgets.tokens import colored_tokens  # noqa: E402
from interp_widgets.widgets._base import VIEW_MIME, WIDGET_VIEW_MIME  # noqa: E402

ROOT = Path(__file__).parents[3]


def output_of(data):
    return new_output("display_data", data=data)


def test_our_views_lose_their_live_view_and_state_others_keep_theirs():
    ours, _ = colored_tokens(["<!--", " <script>"], [1.0, 2.0])._repr_mimebundle_()
    theirs = {WIDGET_VIEW_MIME: {"model_id": "slider", "version_major": 2, "version_minor": 0}, "text/plain": "IntSlider()"}
    state = {ours[WIDGET_VIEW_MIME]["model_id"]: {"model_name": "AnyModel", "state": {"tokens": ["<!--", " <script>"]}},
             "slider": {"model_name": "IntSliderModel", "state": {}}}
    notebook = new_notebook(cells=[new_code_cell(outputs=[output_of(ours), output_of(theirs)])])
    notebook.metadata["widgets"] = {WIDGET_STATE_MIME: {"state": state, "version_major": 2, "version_minor": 0}}

    notebook, _ = SnapshotPreprocessor().preprocess(notebook, {})
    first, second = (output["data"] for output in notebook.cells[0].outputs)
    assert set(first) == {"text/plain", "text/html"} and 'class="iw-s"' in first["text/html"]
    assert WIDGET_VIEW_MIME in second
    assert list(notebook.metadata["widgets"][WIDGET_STATE_MIME]["state"]) == ["slider"]


def test_state_with_only_our_widgets_is_removed_entirely():
    ours, _ = colored_tokens(["a"], [1.0])._repr_mimebundle_()
    notebook = new_notebook(cells=[new_code_cell(outputs=[output_of(ours)])])
    notebook.metadata["widgets"] = {WIDGET_STATE_MIME: {"state": {ours[WIDGET_VIEW_MIME]["model_id"]: {}}}}
    notebook, _ = SnapshotPreprocessor().preprocess(notebook, {})
    assert "widgets" not in notebook.metadata  # no widget manager (from a CDN) in the export at all
    nbformat.validate(notebook)


def test_the_bundle_marks_our_views_and_the_package_registers_the_preprocessor():
    bundle, _ = colored_tokens(["a"], [1.0])._repr_mimebundle_()
    assert bundle[VIEW_MIME]["model_id"] == bundle[WIDGET_VIEW_MIME]["model_id"]
    config = json.loads((ROOT / "jupyter-config" / "jupyter_nbconvert_config.json").read_text())
    assert config["HTMLExporter"]["preprocessors"] == ["interp_widgets.nbconvert.SnapshotPreprocessor"]
