"""An HTML export keeps no state of ours: the preprocessor drops a workbench's own state and that of
every widget inside it (prompt box, tabs, inner views with their prompts and tokens, layouts),
found through the state's references; an unrelated widget keeps its state and what it uses."""

import json

import ipywidgets

from tests.parts import need_module

need_module("nbconvert", "a development extra, not in the sae-lens environment: pip install -e '.[dev]'", required_by=None)

from nbformat.v4 import new_code_cell, new_notebook, new_output  # noqa: E402

from interp_widgets.nbconvert import WIDGET_STATE_MIME, SnapshotPreprocessor, dropped_models  # noqa: E402
from interp_widgets.sae import TopKSAE  # noqa: E402
from interp_widgets.widgets.workbench import Workbench  # noqa: E402

SECRET = "a prompt nobody else may read zqx"


def test_the_workbench_and_everything_inside_it_leave_the_export(toy):
    before = set(ipywidgets.Widget.widgets)  # widgets other tests left in this process (kept: no output of ours holds them)
    sae = TopKSAE(toy.cfg.d_model, 64, k=4, hook_name="blocks.0.hook_resid_post", seed=0)
    bench = Workbench(toy, {"private-sae-name": sae}, prompt=SECRET, index_tokens=64)
    bench.show("Norms")  # a second inner view
    ours, _ = bench._repr_mimebundle_()
    slider = ipywidgets.IntSlider(description="kept")
    theirs = slider._repr_mimebundle_()
    state = ipywidgets.Widget.get_manager_state(drop_defaults=False)
    assert SECRET in json.dumps(state) and "private-sae-name" in json.dumps(state)
    notebook = new_notebook(cells=[new_code_cell(outputs=[new_output("display_data", data=ours), new_output("display_data", data=theirs)])])
    notebook.metadata["widgets"] = {WIDGET_STATE_MIME: state}

    notebook, _ = SnapshotPreprocessor().preprocess(notebook, {})

    left = notebook.metadata["widgets"][WIDGET_STATE_MIME]["state"]
    assert set(left) - before == {slider.model_id, slider.layout.model_id, slider.style.model_id}
    assert SECRET not in json.dumps(left) and "private-sae-name" not in json.dumps(left)
    assert "static snapshot" in notebook.cells[0].outputs[0]["data"]["text/html"]  # what the export shows instead


def test_a_model_a_kept_widget_still_uses_is_kept():
    state = {
        "bench": {"state": {"children": ["IPY_MODEL_box", "IPY_MODEL_view"], "layout": "IPY_MODEL_shared"}},
        "box": {"state": {"children": ["IPY_MODEL_text"]}}, "text": {"state": {"value": "secret"}},
        "view": {"state": {"tokens": ["secret"]}}, "shared": {"state": {}},
        "link": {"state": {"source": ["IPY_MODEL_text", "value"], "target": ["IPY_MODEL_other", "value"]}}, "other": {"state": {}},
    }
    assert dropped_models(state, {"bench"}, shown=set()) == {"bench", "box", "view", "shared"}  # "text": the kept link uses it
    assert dropped_models(state, {"bench"}, shown={"view"}) == {"bench", "box", "shared"}  # shown by a kept output
