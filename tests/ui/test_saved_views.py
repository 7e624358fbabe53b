"""Saved views, in a real browser: a notebook reopened without its kernel, and the executed HTML export.

Both must show each widget's last static snapshot: reopened in JupyterLab, through the package's
extension (instead of "Error displaying widget: model not found"); exported with
`jupyter nbconvert --to html --execute`, through the package's nbconvert preprocessor, with
JavaScript off and on (on, the export's widget manager would load from a CDN this machine cannot
reach).
"""

import json
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from interp_widgets.widgets._base import VIEW_MIME
from interp_widgets.widgets._snapshot import visible as _visible
from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKENS = ["Saved", " view", " <!--", " x", " <script>window.__pwned=1</script>", " end"]
VALUES = [1.0, -1.0, 0.5, 0.25, 2.0, -0.5]


def widget_notebook(path):
    write_notebook(path, [
        "import interp_widgets as iw\n"
        "model = iw.models.toy_model(seed=0)\n"
        "iw.TokenHighlights.from_model(model, 'The cat sat', hook='blocks.0.hook_resid_post', directions=[3])",
        f"iw.colored_tokens({TOKENS!r}, {VALUES!r})",
    ])


def api(lab_server, method, path):
    base, token = lab_server
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


@pytest.mark.parametrize("ui", ["lab", "notebook"], ids=["JupyterLab", "Notebook 7"])
def test_reopened_without_its_kernel_a_notebook_shows_the_snapshots(page, lab_server, lab_root, ui):
    name = f"saved_views_{ui}.ipynb"
    widget_notebook(lab_root / name)
    open_notebook(page, lab_server, name, ui)
    run_all_cells(page, ".iw-token-highlights >> nth=1")
    assert page.locator(".iw-live-or-snapshot[data-showing=live]").count() == 2
    assert not page.locator(".iw-s").first.is_visible()  # the live view, not the snapshot, while the kernel runs

    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 30
    while VIEW_MIME not in (lab_root / name).read_text() and time.monotonic() < deadline:
        time.sleep(0.3)
    saved = nbformat.read(lab_root / name, as_version=4)
    assert all(VIEW_MIME in output["data"] for cell in saved.cells for output in cell.outputs if "data" in output)

    # Shut the kernel down (its session with it), then open the notebook again in a fresh page.
    for session in api(lab_server, "GET", "/api/sessions"):
        if session["path"].endswith(name):
            api(lab_server, "DELETE", f"/api/sessions/{session['id']}")
    open_notebook(page, lab_server, name, ui)
    snapshots = page.locator(".iw-live-or-snapshot[data-showing=snapshot]")
    snapshots.nth(1).wait_for(timeout=60_000)
    assert snapshots.count() == 2
    assert page.locator(".iw-s").nth(1).is_visible()
    shown = page.locator(".iw-s").nth(1).locator("span[title]").all_text_contents()
    assert shown == [_visible(token) for token in TOKENS]
    assert page.get_by_text("Static snapshot of this view").first.is_visible()
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.evaluate("() => window.__pwned") is None


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`jupyter nbconvert --to html --execute`, exactly as users run it."""
    folder = tmp_path_factory.mktemp("export")
    widget_notebook(folder / "export.ipynb")
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute", "export.ipynb"],
                   cwd=folder, check=True, capture_output=True, timeout=300)
    return folder / "export.html"


@pytest.mark.parametrize("javascript", [False, True], ids=["javascript-off", "javascript-on"])
def test_the_executed_html_export_shows_the_snapshots(browser, exported, javascript):
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.goto(exported.as_uri())
        snapshots = page.locator(".iw-s")
        assert snapshots.count() == 2
        assert all(snapshots.nth(i).is_visible() for i in range(2))
        assert snapshots.nth(1).locator("span[title]").all_text_contents() == [_visible(token) for token in TOKENS]
        if javascript:
            assert page.evaluate("() => window.__pwned") is None
    finally:
        context.close()
