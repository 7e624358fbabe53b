"""Linked views in JupyterLab: a row click in the feature browser moves the dashboard and the
highlights to that feature (their numbers checked against the kernel's maths); a click on a
dashboard example opens it in the ablation explorer."""

import re

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "We bought bread and butter, salt and pepper."


@pytest.fixture(scope="module")
def linked_notebook(lab_server, lab_root):
    write_notebook(lab_root / "linked.ipynb", [
        "import interp_widgets as iw\nmodel = iw.load_model()\nsaes = {'4x': iw.load_sae('4x')}\n"
        f"selection = iw.Selection(model, saes, sae='4x', feature=495, prompt={PROMPT!r}, index_tokens=64 * 40)",
        "iw.FeatureBrowser.from_selection(selection)",
        "iw.FeatureDashboard.from_selection(selection)",
        "iw.TokenHighlights.from_selection(selection)",
        "iw.FeatureAblation.from_selection(selection)",
    ])
    return lab_server


def test_row_click_moves_dashboard_and_highlights(page, linked_notebook):
    import interp_widgets as iw
    from interp_widgets.compute.features.dashboard import feature_dashboard
    from interp_widgets.models import held_out_index

    model, sae = iw.load_model(), iw.load_sae("4x")
    index = held_out_index(model, sae, max_tokens=64 * 40)
    feature = 12
    expected = feature_dashboard(index, feature)

    open_notebook(page, linked_notebook, "linked.ipynb")
    run_all_cells(page, ".iw-feature-ablation .iw-token")
    browser = page.locator(".iw-feature-browser")
    browser.locator("th.iw-sortable").first.click()  # sort by feature index, ascending
    browser.locator(f'tr[data-feature="{feature}"]').click()

    dashboard = page.locator(".iw-feature-dashboard")
    page.wait_for_function(f"(node) => node.querySelector('.iw-title').textContent.includes('feature {feature} ')",
                           arg=dashboard.element_handle(), timeout=60_000)
    first = dashboard.locator(".iw-example-value").first.text_content()  # textContent: the cell may be scrolled out of view
    assert float(first) == pytest.approx(expected.top[0].value, abs=1e-3)
    highlights = page.locator(".iw-token-highlights")
    page.wait_for_function(f"(node) => node.textContent.includes('feature {feature}')", arg=highlights.element_handle(), timeout=60_000)
    assert browser.locator("tr.iw-selected").get_attribute("data-feature") == str(feature)

    dashboard.locator(".iw-example").first.click()  # opens in the explorer, with that token as the target
    explorer = page.locator(".iw-feature-ablation")
    page.wait_for_function(f"(node) => node.querySelector('.iw-ablation-value').textContent.includes({first!r})",
                           arg=explorer.element_handle(), timeout=60_000)
    assert re.search(r"clean activation", explorer.locator(".iw-ablation-value").text_content())
