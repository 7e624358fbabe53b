"""The steering view in JupyterLab and Notebook 7: moving the strength slider streams a new steered completion,
token by token, equal to the maths; the first difference is marked; hover shows both log-probs;
the dark theme reaches its controls."""

import re

import pytest

from tests.ui.helpers import brightness, light_and_dark, open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "The weather today is"
TOKENS = 24


@pytest.fixture(scope="module")
def steering_notebook(lab_server, lab_root):
    write_notebook(lab_root / "steering.ipynb", [
        "import interp_widgets as iw\nfrom interp_widgets.compute.steering import Steer\n"
        "german = next(f for f in iw.models.loaders.feature_catalogue() if f['concept'] == 'German text')\n"
        "model, sae = iw.load_model(), iw.load_sae(german['sae'])",
        f"view = iw.SteeringView.from_model(model, {PROMPT!r}, Steer(None, (sae, german['feature']), 0.0), max_new_tokens={TOKENS})\nview",
    ])
    return lab_server


def expected_tokens(strength):
    import interp_widgets as iw
    from interp_widgets.compute.steering.steer import Steer, generate
    from interp_widgets.widgets._snapshot import visible

    german = next(f for f in iw.models.loaders.feature_catalogue() if f["concept"] == "German text")
    result = generate(iw.load_model(), PROMPT, [Steer(None, (iw.load_sae(german["sae"]), german["feature"]), strength)],
                      max_new_tokens=TOKENS)
    return [visible(t) for t in result.unsteered.tokens], [visible(t) for t in result.steered.tokens]


def column_tokens(view, which):
    return view.locator(f".iw-steer-{which} .iw-token").all_inner_texts()


@pytest.mark.parametrize("ui", ["lab", "notebook"], ids=["JupyterLab", "Notebook 7"])
def test_moving_the_slider_streams_a_new_steered_completion(page, steering_notebook, ui):
    open_notebook(page, steering_notebook, "steering.ipynb", ui)
    run_all_cells(page, ".iw-steering .iw-steer-steered .iw-token")
    view = page.locator(".iw-steering")
    page.wait_for_function("(root) => root.querySelector('.iw-steer-status').textContent.includes('kv-cache')", arg=view.element_handle(),
                           timeout=60_000)
    default, steered = expected_tokens(0.0)
    assert column_tokens(view, "default") == default and column_tokens(view, "steered") == steered == default

    # record what the steered column shows while the kernel streams
    view.evaluate("""root => {
        window.__steered = [];
        new MutationObserver(() => window.__steered.push([root.classList.contains('iw-steer-generating'),
            root.querySelectorAll('.iw-steer-steered .iw-token').length])).observe(root.querySelector('.iw-steer-columns'), {childList: true});
    }""")
    slider = view.get_by_label(re.compile("strength of feature"))
    box = slider.bounding_box()
    slider.click(position={"x": box["width"] * 0.9, "y": box["height"] / 2})  # near the top: + 2 x the largest activation seen
    page.wait_for_function(
        "(root) => !root.classList.contains('iw-steer-generating') && root.querySelector('.iw-steer-status').textContent.includes('kv-cache')"
        " && window.__steered.some(([generating]) => generating)", arg=view.element_handle(), timeout=60_000)
    page.locator(".jp-Notebook").first.click()  # off the slider: it shows the kernel's strength again
    strength = float(slider.input_value())
    assert strength > 0
    counts = [n for generating, n in page.evaluate("() => window.__steered") if generating]
    assert len(set(counts)) >= 3 and min(counts) < TOKENS  # it grew token by token
    default, steered = expected_tokens(strength)
    assert column_tokens(view, "default") == default and column_tokens(view, "steered") == steered != default
    first = next(i for i, (a, b) in enumerate(zip(default, steered)) if a != b)
    marked = view.locator(".iw-steer-diverge")
    assert marked.count() == 2 and marked.first.inner_text() == default[first]

    view.locator(".iw-steer-steered .iw-token").nth(first).hover()
    tip = page.locator(".iw-tooltip:visible").inner_text()
    assert "first difference" in tip and "log-prob, steered run" in tip and "log-prob, default run" in tip and "activation" in tip


def test_the_dark_theme_reaches_the_controls(page, steering_notebook):
    open_notebook(page, steering_notebook, "steering.ipynb")
    run_all_cells(page, ".iw-steering .iw-steer-steered .iw-token")
    light, dark = light_and_dark(page, "() => getComputedStyle(document.querySelector('.iw-steering select')).color")
    assert brightness(dark) > brightness(light)
