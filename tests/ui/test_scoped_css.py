"""Scoped CSS in a real browser: with the logit-lens grid on the same page (its target form once
shared the class `.iw-target`, `display: flex; flex: 0 1 180px`), the target token of the ablation
explorer and of the feature dashboard's examples stays inline, about as wide as its text."""

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "salt and pepper, bread and butter, fish and chips"

# For one element: its computed display, its box width, and the width of its text alone (a Range
# over its contents measures the glyphs, not the box).
MEASURE = """(node) => {
  const range = document.createRange();
  range.selectNodeContents(node);
  return {display: getComputedStyle(node).display, box: node.getBoundingClientRect().width,
          text: range.getBoundingClientRect().width, height: node.getBoundingClientRect().height};
}"""


@pytest.fixture(scope="module")
def target_notebook(lab_server, lab_root):
    write_notebook(lab_root / "scoped_css.ipynb", [
        "import interp_widgets as iw\nmodel, sae = iw.load_model(), iw.load_sae('4x')\n"
        "index = iw.models.held_out_index(model, sae, max_tokens=64 * 40, progress=False)",
        f"iw.LogitLensGrid.from_model(model, {PROMPT!r}, target_token=' and')",
        f"iw.FeatureAblation.from_model(model, {PROMPT!r}, (sae, 495), name='4x')",
        "iw.FeatureDashboard.from_model(model, sae, 495, name='4x', index=index)",
    ])
    return lab_server


def assert_inline(page, locator, where):
    assert locator.count() >= 1, f"no target token in the {where}"
    for i in range(min(locator.count(), 5)):
        size = locator.nth(i).evaluate(MEASURE)
        assert size["display"] == "inline", f"the {where}'s target token is display: {size['display']}"
        # Inline: the box is the text plus 1 px padding and 1 px border a side (a bar would be hundreds of px).
        assert size["text"] > 0 and size["box"] <= size["text"] + 8, f"the {where}'s target token is {size} wide"
        assert size["height"] < 40


def test_target_token_is_inline_in_the_explorer_and_the_dashboard(page, target_notebook):
    open_notebook(page, target_notebook, "scoped_css.ipynb")
    run_all_cells(page, ".iw-feature-dashboard .iw-token.iw-target")
    page.wait_for_selector(".iw-feature-ablation .iw-token.iw-target", timeout=60_000)
    page.wait_for_selector(".iw-logit-lens .iw-lens-target", timeout=60_000)
    assert_inline(page, page.locator(".iw-feature-ablation .iw-token.iw-target"), "ablation explorer")
    assert_inline(page, page.locator(".iw-feature-dashboard .iw-token.iw-target"), "feature dashboard")
    # The logit lens's own form keeps its layout, under its own class.
    form = page.locator(".iw-logit-lens .iw-lens-target").first.evaluate("(n) => getComputedStyle(n).display")
    assert form == "flex"

    # The check can fail: the old unscoped rule, put back on the page, stretches the tokens again.
    page.add_style_tag(content=".iw-target { display: flex; flex: 0 1 180px; }")
    with pytest.raises(AssertionError, match="display: flex"):
        assert_inline(page, page.locator(".iw-feature-dashboard .iw-token.iw-target"), "feature dashboard")
    stretched = page.locator(".iw-feature-ablation .iw-token.iw-target").first.evaluate(MEASURE)
    assert stretched["box"] > stretched["text"] + 50
