"""Residual-stream views in JupyterLab: attention on hover and click-lock, a logit-lens cell's bars,
and the norm chart redrawn for a new prompt — each checked against the kernel's own numbers."""

import json
import time

import pytest

from interp_widgets.compute.residual.lens import logit_lens

from interp_widgets.compute.residual.norms import residual_norms
from interp_widgets.widgets._snapshot import visible as _visible
from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "The cat sat on the mat and the cat"
NEW_PROMPT = "A dog ran"


@pytest.fixture(scope="module")
def views_notebook(lab_server, lab_root):
    write_notebook(lab_root / "residual_views.ipynb", [
        "import interp_widgets as iw\nmodel = iw.models.toy_model(seed=0)",
        f"iw.AttentionView.from_model(model, {PROMPT!r})",
        f"iw.LogitLensGrid.from_model(model, {PROMPT!r}, k=3)",
        f"iw.ResidualNorms.from_model(model, {PROMPT!r})",
    ])
    return lab_server


def run_all(page, lab_server):
    open_notebook(page, lab_server, "residual_views.ipynb")
    run_all_cells(page, ".iw-residual-norms .iw-chart")


def test_attention_hover_and_lock(page, views_notebook):
    run_all(page, views_notebook)
    view = page.locator(".iw-attention")
    tokens = view.locator(".iw-tokens .iw-token")
    tokens.nth(4).hover()
    weights = [tokens.nth(k).get_attribute("title") for k in range(tokens.count())]
    assert all(w for w in weights[:5]) and not any(weights[5:]), weights
    assert sum(float(w) for w in weights[:5]) == pytest.approx(1.0, abs=0.02)  # a query's attention sums to 1
    assert "position 4" in view.locator(".iw-caption").inner_text()

    tokens.nth(2).click()  # lock query 2, then move away: it stays
    page.mouse.move(5, 5)
    assert "locked" in view.locator(".iw-caption").inner_text() and "position 2" in view.locator(".iw-caption").inner_text()
    assert tokens.nth(3).get_attribute("title") == "" and tokens.nth(2).get_attribute("title")

    view.locator(".iw-score-table .iw-sortable").nth(1).click()  # sort by induction score
    view.get_by_role("button", name="layer 1").click()
    page.wait_for_function("(root) => root.querySelector('.iw-thumb').getAttribute('aria-label') === 'head 1.0'", arg=view.element_handle(), timeout=30_000)


def test_logit_lens_cell_shows_its_bars(page, views_notebook, toy):
    run_all(page, views_notebook)
    lens = logit_lens(toy, toy.to_tokens(PROMPT), k=3)
    view = page.locator(".iw-logit-lens")
    view.locator('.iw-lens-cell[data-layer="1"][data-position="4"]').click()
    rows = view.locator(".iw-bar-row")
    rows.nth(2).wait_for(timeout=10_000)
    assert rows.count() == 3
    expected = toy.tokenizer.decode([int(lens.top_ids[1, 4, 0])])
    assert rows.first.locator(".iw-bar-label").inner_text() == _visible(expected)
    assert "top 3 after 1_pre at position 4" in view.locator(".iw-bars").inner_text()


def test_norm_chart_redraws_for_a_new_prompt(page, views_notebook, toy):
    run_all(page, views_notebook)
    view = page.locator(".iw-residual-norms")
    view.locator(".iw-prompt-input").fill(NEW_PROMPT)
    view.locator(".iw-prompt-input").press("Enter")
    factor = residual_norms(toy, toy.to_tokens(NEW_PROMPT)).fit().factor
    deadline = time.monotonic() + 60
    while f"\u00d7{factor:.2f} per layer" not in view.locator(".iw-fits").inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"\u00d7{factor:.2f} per layer" in view.locator(".iw-fits").inner_text()
    hit = view.locator(".iw-chart").nth(1).locator(".iw-hit")
    box = hit.bounding_box()
    hit.hover(position={"x": box["width"] - 2, "y": box["height"] / 2})
    shown = [_visible(str(t)) for t in toy.to_str_tokens(NEW_PROMPT)]
    expected = f"position {len(shown) - 1} {json.dumps(shown[-1], ensure_ascii=False)}:"
    assert view.locator(".iw-chart").nth(1).locator(".iw-readout").inner_text().startswith(expected)
