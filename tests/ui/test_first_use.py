"""What a new user hit in notebooks 01-05 (issue 20), in JupyterLab in Chromium: what the page shows."""

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "salt and pepper, bread and butter, fish and chips"


@pytest.fixture(scope="module")
def views_notebook(lab_server, lab_root):
    write_notebook(lab_root / "first_use.ipynb", [
        "import interp_widgets as iw\nmodel, sae = iw.load_model(), iw.load_sae('4x')",
        f"explorer = iw.FeatureAblation.from_model(model, {PROMPT!r}, (sae, 495), name='4x')\nexplorer",
    ])
    return lab_server


def test_replace_mode_can_be_turned_on(page, views_notebook):
    from interp_widgets.compute.ablation import default_replacement
    import interp_widgets as iw

    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-feature-ablation .iw-mode-note")
    view = page.locator(".iw-feature-ablation")
    view.locator("select[aria-label='removal mode']").select_option("replace")
    note = view.locator(".iw-mode-note")
    page.wait_for_function("(node) => node.textContent.startsWith('replace mode')", arg=note.element_handle(), timeout=30_000)
    box = view.locator("input[aria-label='replacement token']")
    assert box.is_visible() and view.locator("select[aria-label='removal mode']").input_value() == "replace"
    expected = default_replacement(iw.load_model())
    assert box.input_value().replace("\u00b7", " ") == expected
    banner = view.locator(".iw-error")
    assert banner.count() == 0 or not banner.first.is_visible() or not banner.first.inner_text().strip()
