"""PatchingView in JupyterLab: both maps drawn, a click on a cell shows that patched run's metric
(equal to the kernel's patching result) and top predictions; a new component is recomputed."""

import re

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def patching_notebook(lab_server, lab_root):
    write_notebook(lab_root / "patching.ipynb", [
        "import interp_widgets as iw\nfrom interp_widgets.compute.patching import tasks\nmodel = iw.load_model()\npair = tasks.docstring_pair(model)",
        "iw.PatchingView.from_model(model, pair.clean, pair.corrupt, pair.metric)",
    ])
    return lab_server


def test_click_a_cell_and_switch_component(page, patching_notebook):
    import interp_widgets as iw
    from interp_widgets.compute.patching import tasks
    from interp_widgets.compute.patching.activation import patch
    model = iw.load_model()
    pair = tasks.docstring_pair(model)
    position = tasks.differing_positions(model, pair.clean, pair.corrupt)[0]
    expected = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", "noise")

    open_notebook(page, patching_notebook, "patching.ipynb")
    run_all_cells(page, ".iw-patching .iw-heat-cell")
    view = page.locator(".iw-patching")
    n_pos = len(model.to_tokens(pair.clean)[0])
    assert view.locator('.iw-heat-cell[data-direction="denoise"]').count() == model.cfg.n_layers * n_pos
    assert view.locator('.iw-heat-cell[data-direction="noise"]').count() == model.cfg.n_layers * n_pos

    view.locator(f'.iw-heat-cell[data-direction="noise"][data-cell="0,{position}"]').click()
    detail = view.locator(".iw-patch-detail")
    page.wait_for_function("(node) => node.querySelectorAll('.iw-bar-row').length === 5", arg=detail.element_handle(), timeout=30_000)
    shown = float(re.findall(r"-?\d+\.\d+", detail.locator(".iw-chart-title").inner_text())[-1])
    assert shown == pytest.approx(float(expected.values[0, position]), abs=0.01)

    view.locator("select[aria-label=component]").select_option("head_out")
    page.wait_for_function(
        "(root) => root.querySelectorAll('.iw-heat-cell[data-direction=denoise]').length === %d" % (model.cfg.n_layers * model.cfg.n_heads),
        arg=view.element_handle(), timeout=60_000)
