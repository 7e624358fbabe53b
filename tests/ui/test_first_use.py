"""What a new user hit in notebooks 01-05 (issue 20), in JupyterLab in Chromium: what the page shows."""

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "salt and pepper, bread and butter, fish and chips"
CODE = "def f(self, a, b):\n    \"\"\"Add.\n\n    :param a: the"


@pytest.fixture(scope="module")
def views_notebook(lab_server, lab_root):
    write_notebook(lab_root / "first_use.ipynb", [
        "import interp_widgets as iw\nmodel, sae = iw.load_model(), iw.load_sae('4x')",
        f"explorer = iw.FeatureAblation.from_model(model, {PROMPT!r}, (sae, 495), name='4x')\nexplorer",
        f"code = iw.TokenHighlights.from_model(model, {CODE!r}, directions=[(sae, 495)])\ncode",
        f"pair = iw.PatchingView.from_model(model, {CODE!r}, {CODE.replace('b', 'c')!r}, "
        "lambda logits: logits[:, -1, 0] - logits[:, -1, 1], component='resid_pre')\npair",
        "norms = iw.ResidualNorms.from_model(model, ['Some prose about cats.', 'def f(x): return x'], names=['prose', 'code'])\nnorms",
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


def test_prompt_boxes_keep_line_breaks_and_enter_on_an_unchanged_prompt_changes_nothing(page, views_notebook):
    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-patching .iw-charts svg, .iw-patching .iw-charts canvas, .iw-patching .iw-charts div")
    highlights = page.locator(".iw-token-highlights").first
    box = highlights.locator("textarea[aria-label='prompt']")
    assert box.input_value() == CODE  # line breaks shown as they are
    tokens = highlights.locator(".iw-tokens").first
    before = tokens.inner_text()
    assert "\u21b5" in before
    box.click()
    box.press("Enter")  # no edit: nothing is sent, the kernel's prompt keeps its line breaks
    page.wait_for_timeout(1500)
    assert box.input_value() == CODE and tokens.inner_text() == before

    box.press("Control+End")
    box.press("Shift+Enter")  # a line break in the box, not a run
    box.type("x")
    assert box.input_value().endswith("\nx") and tokens.inner_text() == before
    box.press("Enter")
    page.wait_for_function("(node) => node.textContent.endsWith('x')", arg=tokens.element_handle(), timeout=30_000)

    patching = page.locator(".iw-patching")
    clean = patching.locator("textarea[aria-label='clean prompt']")
    assert clean.input_value() == CODE
    caption = patching.locator(".iw-caption").first.inner_text()
    clean.click()
    clean.press("Enter")
    page.wait_for_timeout(1500)
    assert patching.locator(".iw-caption").first.inner_text() == caption and clean.input_value() == CODE


def test_residual_norms_name_the_new_prompt_not_the_old_one(page, views_notebook):
    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-residual-norms .iw-legend-item")
    view = page.locator(".iw-residual-norms")
    assert "prose" in view.inner_text()
    box = view.locator("textarea[aria-label='prompt']")
    box.fill("The dog barked at the mailman.")
    box.press("Enter")
    page.wait_for_function("(node) => node.textContent.includes('The dog barked')", arg=view.element_handle(), timeout=30_000)
    assert "prose" not in view.inner_text()
    assert "per position: The dog barked" in view.inner_text()
