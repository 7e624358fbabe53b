"""The feature ablation explorer in JupyterLab: click a token to remove it, the kernel's new
activation appears on screen (checked against the maths), click again to restore; the map's
colours and the logit-lens bars' 'where' row come from the kernel too."""

import re

import pytest

from interp_widgets.compute.ablation.removal import leave_one_out, remove_tokens
from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "salt and pepper, bread and butter, fish and chips"
HOOK = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def ablation_notebook(lab_server, lab_root):
    write_notebook(lab_root / "feature_ablation.ipynb", [
        "import interp_widgets as iw\nmodel, sae = iw.load_model(), iw.load_sae('4x')",
        f"explorer = iw.FeatureAblation.from_model(model, {PROMPT!r}, (sae, 495), name='4x')\nexplorer",
        f"iw.LogitLensBars.from_model(model, (sae, 495), prompt={PROMPT!r}, k=4)",
    ])
    return lab_server


def shown_numbers(text):
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def test_click_removes_a_token_and_the_kernel_answer_shows(page, ablation_notebook):
    import interp_widgets as iw

    model, sae = iw.load_model(), iw.load_sae("4x")
    single = leave_one_out(model, PROMPT, HOOK, (sae, 495))
    open_notebook(page, ablation_notebook, "feature_ablation.ipynb")
    run_all_cells(page, ".iw-logit-lens-bars .iw-bar-row")
    view = page.locator(".iw-feature-ablation")
    readout = view.locator(".iw-ablation-value")
    assert shown_numbers(readout.inner_text())[0] == pytest.approx(single.clean, abs=0.01)

    map_tokens = view.locator(".iw-tokens").nth(1).locator(".iw-token")
    before = single.target - 1
    map_tokens.nth(before).click()
    page.wait_for_function("(node) => node.textContent.includes('removed')", arg=readout.element_handle(), timeout=30_000)
    expected = remove_tokens(model, PROMPT, HOOK, (sae, 495), [before], single.target)
    clean, value, drop = shown_numbers(readout.inner_text())[:3]
    assert value == pytest.approx(expected, abs=0.01) and drop == pytest.approx(single.clean - expected, abs=0.01)
    assert "iw-removed" in map_tokens.nth(before).get_attribute("class")

    map_tokens.nth(1).press("Enter")  # keyboard reaches it too: a second removal, together
    page.wait_for_function("(node) => node.textContent.includes('2 tokens removed')", arg=readout.element_handle(), timeout=30_000)
    both = remove_tokens(model, PROMPT, HOOK, (sae, 495), [1, before], single.target)
    assert shown_numbers(readout.inner_text())[1] == pytest.approx(both, abs=0.01)

    map_tokens.nth(before).click()
    map_tokens.nth(1).click()
    page.wait_for_function("(node) => !node.textContent.includes('removed')", arg=readout.element_handle(), timeout=30_000)


def test_logit_lens_bar_click_shows_where_it_is_predicted(page, ablation_notebook):
    open_notebook(page, ablation_notebook, "feature_ablation.ipynb")
    run_all_cells(page, ".iw-logit-lens-bars .iw-bar-row")
    bars = page.locator(".iw-logit-lens-bars")
    first = bars.locator(".iw-bar-row").first
    token = first.locator(".iw-bar-label").inner_text()
    first.click()
    label = bars.locator(".iw-row-label")
    page.wait_for_function("(node) => node.textContent.includes('probability')", arg=label.element_handle(), timeout=30_000)
    assert token.replace("\u00b7", " ").strip() in label.inner_text().replace("\u00b7", " ")
    assert "iw-selected" in first.get_attribute("class")
