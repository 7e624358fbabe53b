"""The curriculum's views in JupyterLab: moving the toy model's sparsity slider retrains it in the
kernel and redraws the picture while it trains; the positional view draws one dot per position; both follow the
dark theme."""

import re

import pytest

from tests.ui.helpers import brightness, light_and_dark, open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def curriculum_notebook(lab_server, lab_root):
    write_notebook(lab_root / "curriculum_views.ipynb", [
        "from interp_widgets.widgets.superposition_toy import SuperpositionToy\n"
        "toy = SuperpositionToy.from_settings(n_features=5, n_hidden=2, feature_probability=0.05, seeds=2, steps=1500)\ntoy",
        "import interp_widgets as iw\nfrom interp_widgets.widgets.positional_embeddings import PositionalEmbeddings\n"
        "PositionalEmbeddings.from_model(iw.models.toy_model(seed=0), k=4)",
    ])
    return lab_server


def arrow_ends(view):
    return view.locator(".iw-toy-arrow").evaluate_all("lines => lines.map(l => [l.getAttribute('x2'), l.getAttribute('y2')])")


def test_moving_the_sparsity_slider_retrains_and_redraws_the_picture(page, curriculum_notebook):
    open_notebook(page, curriculum_notebook, "curriculum_views.ipynb")
    run_all_cells(page, ".iw-positional-embeddings .iw-position-dot")
    view = page.locator(".iw-superposition-toy")
    picture = view.locator(".iw-toy-picture")
    assert picture.get_attribute("data-step") == "1500"
    assert view.locator(".iw-toy-arrow").count() == 5
    before = arrow_ends(view)

    # Record every picture drawn from now on: training redraws it at its snapshots, not only at the end.
    view.evaluate("""root => { window.__toySteps = [];
        new MutationObserver(() => { const p = root.querySelector('.iw-toy-picture'); if (p) window.__toySteps.push(p.dataset.step); })
          .observe(root, {childList: true, subtree: true}); }""")
    view.get_by_label("feature probability").fill("0")  # log10: probability 1, dense features
    page.wait_for_function(
        "(root) => { const p = root.querySelector('.iw-toy-picture'); return p.dataset.probability === '1' && p.dataset.step === '1500'; }",
        arg=view.element_handle(), timeout=90_000)
    steps = {int(step) for step in page.evaluate("() => window.__toySteps")}
    assert any(0 < step < 1500 for step in steps), steps  # partial pictures while it trained
    after = arrow_ends(view)
    assert after != before
    caption = view.locator(".iw-caption").inner_text()
    dims = float(re.search(r"([\d.]+) dimensions per feature", caption).group(1))
    assert dims > 0.9  # dense features: no superposition (the sparse pentagon had about 0.3)


def test_positional_view_and_the_dark_theme(page, curriculum_notebook):
    open_notebook(page, curriculum_notebook, "curriculum_views.ipynb")
    run_all_cells(page, ".iw-positional-embeddings .iw-position-dot")
    positions = page.locator(".iw-positional-embeddings")
    assert positions.locator(".iw-position-dot").count() == 127 and positions.locator(".iw-position-first").count() == 1
    positions.get_by_label("x").select_option("2")
    page.wait_for_function("(root) => root.querySelector('.iw-chart-title').textContent.startsWith('PC3 against PC2')",
                           arg=positions.element_handle(), timeout=30_000)

    light, dark = light_and_dark(page, "() => getComputedStyle(document.querySelector('.iw-toy-directions')).color", restore=False)
    assert brightness(dark) > brightness(light)  # axes and outlines are drawn in the text colour
