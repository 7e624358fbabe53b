"""A notebook with a Selection and its linked views (notebook 05), run, saved, shut down and reopened
without a kernel: every output shows its snapshot or nothing, never "model not found" (issue 20 item 11)."""

import shutil
import time
from pathlib import Path

import nbformat
import pytest

from interp_widgets.widgets._base import VIEW_MIME
from tests.ui.helpers import open_notebook, run_all_cells
from tests.ui.test_saved_views import api

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "05_feature_dashboards.ipynb"


def test_notebook_05_reopened_without_its_kernel_shows_no_model_not_found(page, lab_server, lab_root):
    name = "saved_selection.ipynb"
    shutil.copy(NOTEBOOK, lab_root / name)
    # as a user who saves widget state with the notebook (the widget manager's "Save Widget State Automatically")
    settings = lab_root / ".settings" / "@jupyter-widgets" / "jupyterlab-manager"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"saveState": true}')
    open_notebook(page, lab_server, name)
    run_all_cells(page, ".iw-feature-browser")
    page.wait_for_function("""() => {
        const cells = [...window.jupyterapp.shell.currentWidget.content.model.cells].filter((c) => c.type === 'code');
        return cells.every((c) => c.executionCount !== null)
            && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle';
    }""", timeout=300_000)
    before = (lab_root / name).stat().st_mtime
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 30
    while (lab_root / name).stat().st_mtime == before and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1)
    saved = nbformat.read(lab_root / name, as_version=4)
    assert any(VIEW_MIME in output.get("data", {}) for cell in saved.cells for output in cell.get("outputs", []))

    for session in api(lab_server, "GET", "/api/sessions"):
        if session["path"].endswith(name):
            api(lab_server, "DELETE", f"/api/sessions/{session['id']}")
    open_notebook(page, lab_server, name)
    page.locator(".iw-live-or-snapshot[data-showing=snapshot]").first.wait_for(timeout=60_000)
    # every output of the notebook rendered (JupyterLab draws cells lazily as they scroll into view)
    page.evaluate("""async () => {
        const panel = window.jupyterapp.shell.currentWidget.content;
        for (let i = 0; i < panel.widgets.length; i++) { panel.activeCellIndex = i; await new Promise((r) => setTimeout(r, 60)); }
    }""")
    page.wait_for_timeout(2000)
    text = page.locator(".jp-Notebook").inner_text()
    assert "model not found" not in text and "Error displaying widget" not in text
