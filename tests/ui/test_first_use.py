"""What a new user hit in notebooks 01-05 (issue 20), in JupyterLab in Chromium: what the page shows."""

import re

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "salt and pepper, bread and butter, fish and chips"
TITLE = "The Lord Of The Rings and The Return Of The King"
CODE = "def f(self, a, b):\n    \"\"\"Add.\n\n    :param a: the"
# A pair whose answers differ (' b' against ' c'): the patching view draws its maps only for a real clean-corrupt gap
PAIR = "def f(self, a, b):\n    \"\"\"Add.\n\n    :param a: the first\n    :param"


@pytest.fixture(scope="module")
def views_notebook(lab_server, lab_root):
    write_notebook(lab_root / "first_use.ipynb", [
        "import interp_widgets as iw\nmodel, sae = iw.load_model(), iw.load_sae('4x')",
        f"explorer = iw.FeatureAblation.from_model(model, {PROMPT!r}, ('4x', 495), saes={{'1x': iw.load_sae('1x'), '4x': sae}})\nexplorer",
        f"code = iw.TokenHighlights.from_model(model, {CODE!r}, directions=[(sae, 495)])\ncode",
        f"pair = iw.PatchingView.from_model(model, {PAIR!r}, {PAIR.replace(', b)', ', c)')!r}, (' b', ' c'), component='resid_pre')\npair",
        "norms = iw.ResidualNorms.from_model(model, ['Some prose about cats.', 'def f(x): return x'], names=['prose', 'code'])\nnorms",
        f"iw.DirectionAblation.from_model(model, {TITLE!r}, (iw.load_sae('1x'), 158))",
        f"iw.AttentionView.from_model(model, {PROMPT!r})",
    ])
    return lab_server


def test_replace_mode_can_be_turned_on(page, views_notebook):
    from interp_widgets.compute.ablation.removal import default_replacement
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
    assert clean.input_value() == PAIR
    caption = patching.locator(".iw-caption").first.inner_text()
    clean.click()
    clean.press("Enter")
    page.wait_for_timeout(1500)
    assert patching.locator(".iw-caption").first.inner_text() == caption and clean.input_value() == PAIR


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


def test_every_chart_says_what_its_colours_and_lines_are(page, views_notebook):
    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-direction-ablation .iw-color-bar")
    heatmaps = page.locator(".iw-patching .iw-chart")
    assert heatmaps.count() == 2
    for i in range(2):
        bar = heatmaps.nth(i).locator(".iw-color-bar")
        assert bar.count() == 1 and "orange" in bar.inner_text() and "blue" in bar.inner_text()
        assert len(re.findall(r"-?\d+\.\d+|\d+", bar.inner_text())) >= 2  # both ends of the scale
    charts = page.locator(".iw-residual-norms .iw-chart")
    assert charts.count() == 3
    keys = [charts.nth(i).locator(".iw-line-key").inner_text() for i in range(3)]
    assert "fitted exponential" in keys[0] and "mean of 2 prompts" in keys[0]
    assert "darker with depth" in keys[1]
    assert all(name in keys[2] for name in ("stream in", "attention out", "MLP out"))
    assert "orange" in page.locator(".iw-direction-ablation .iw-color-bar").inner_text()


def test_captions_name_the_real_colours_and_numbers_match_the_maths(page, views_notebook):
    import interp_widgets as iw
    from interp_widgets.compute.ablation.removal import leave_one_out, pairwise_removal
    from interp_widgets.compute.ablation.direction import direction_ablation

    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-direction-ablation .iw-largest li")
    model, sae = iw.load_model(), iw.load_sae("4x")
    direction = page.locator(".iw-direction-ablation")
    text = direction.inner_text()
    assert "orange = less likely" in text and " red" not in text
    expected = direction_ablation(model, TITLE, "blocks.0.hook_resid_post", (iw.load_sae("1x"), 158)).largest_drops(10)
    first = direction.locator(".iw-largest li").first.inner_text()
    assert "log-prob drop" in first
    assert float(re.findall(r"log-prob drop (-?[\d.e+-]+)", first)[0]) == pytest.approx(expected[0][2], abs=2e-3)

    explorer = page.locator(".iw-feature-ablation")
    assert "orange = removing it lowers" in explorer.inner_text() and " red" not in explorer.inner_text()
    single = leave_one_out(model, PROMPT, "blocks.0.hook_resid_post", (sae, 495))
    pairs = pairwise_removal(model, PROMPT, "blocks.0.hook_resid_post", (sae, 495), target=single.target, single=single)
    row = explorer.locator(".iw-pairs tr").nth(1).locator("td")
    a, b = (int(p) for p in re.findall(r"@(\d+)", row.nth(0).inner_text()))
    i, j = pairs.positions.index(a), pairs.positions.index(b)
    assert float(row.nth(3).inner_text()) == pytest.approx(float(pairs.interaction[i, j]), abs=2e-3)
    assert float(row.nth(2).inner_text()) == pytest.approx(float(pairs.joint[i, j]), abs=2e-3)


def test_head_scores_say_what_they_are_measured_on(page, views_notebook):
    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-attention .iw-score-notes li")
    view = page.locator(".iw-attention")
    notes = view.locator(".iw-score-notes").inner_text()
    assert "induction score on repeated random tokens" in notes and "not the prompt" in notes
    assert "previous-token score on the prompt" in notes and "position 2" in notes
    header = view.locator(".iw-score-table tr").first.inner_text()
    assert "induction (random repeats)" in header


def test_an_empty_feature_box_or_a_too_small_sae_changes_nothing_and_says_why(page, views_notebook):
    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-feature-ablation .iw-mode-note")
    view = page.locator(".iw-feature-ablation")
    box = view.locator("input[aria-label='feature index']")
    assert box.input_value() == "495"
    box.fill("")
    box.press("Enter")
    banner = view.locator(".iw-error")
    page.wait_for_function("(node) => !node.hidden && node.textContent.includes('empty')", arg=banner.element_handle(), timeout=10_000)
    page.wait_for_timeout(1000)
    assert box.input_value() == "495" and "feature 495" in view.inner_text()

    menu = view.locator("select[aria-label='SAE']")
    menu.select_option("1x")
    page.wait_for_function("(node) => node.textContent.includes('out of range for the 1x SAE')", arg=banner.element_handle(), timeout=30_000)
    assert "the nearest is" in banner.inner_text()
    page.wait_for_function("(node) => node.value === '4x'", arg=menu.element_handle(), timeout=10_000)
    assert "feature 495" in view.inner_text()


def test_no_stale_tooltip_after_the_patching_component_changes(page, views_notebook):
    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-patching .iw-heat-cell")
    view = page.locator(".iw-patching")
    cells = view.locator(".iw-heat-cell")
    cells.nth(cells.count() // 2 - 1).hover()
    tip = view.locator(".iw-tooltip")
    page.wait_for_function("(node) => !node.hidden", arg=tip.element_handle(), timeout=10_000)
    menu = view.locator("select[aria-label='component']")
    other = next(o for o in menu.locator("option").all_inner_texts() if o != menu.input_value())
    menu.select_option(other)
    page.wait_for_function("(value) => document.querySelector('.iw-patching select[aria-label=component]').value === value "
                           "&& !document.querySelector('.iw-patching .iw-status').textContent", arg=other, timeout=60_000)
    page.wait_for_timeout(500)
    assert tip.evaluate("node => node.hidden")


def test_the_training_view_says_it_waits_for_the_first_logged_step(page, lab_server, lab_root):
    write_notebook(lab_root / "training.ipynb", [
        "import interp_widgets as iw\niw.widgets.TrainingView(sae_names=['1x', '2x'], title='waiting run')",
        "logged = iw.widgets.TrainingView(sae_names=['1x'], title='logged run')\n"
        "logged.update([[{'step': 10, 'nmse': 0.5, 'l0': 12.0, 'dead_fraction': 0.0}]])\nlogged",
    ])
    open_notebook(page, lab_server, "training.ipynb")
    run_all_cells(page, ".iw-training-view .iw-training-waiting")
    views = page.locator(".iw-training-view")
    page.wait_for_function("() => document.querySelectorAll('.iw-training-view').length === 2", timeout=60_000)
    waiting = views.filter(has_text="waiting run").locator(".iw-training-waiting")
    assert waiting.is_visible() and "Waiting for the first logged training step" in waiting.inner_text()
    assert not views.filter(has_text="logged run").locator(".iw-training-waiting").is_visible()


def test_head_rows_read_as_heads_not_values(page, views_notebook):
    open_notebook(page, views_notebook, "first_use.ipynb")
    run_all_cells(page, ".iw-attention .iw-score-row")
    first = page.locator(".iw-attention .iw-score-row th").first.inner_text()
    assert re.fullmatch(r"L\d+H\d+", first), first
    patching = page.locator(".iw-patching")
    patching.locator("select[aria-label='component']").select_option("head_out_by_pos")
    page.wait_for_function("() => [...document.querySelectorAll('.iw-patching .iw-heat-row')].some((n) => /H/.test(n.textContent))",
                           timeout=60_000)
    rows = patching.locator(".iw-heat-row").all_inner_texts()
    assert rows and all(re.fullmatch(r"L\d+H\d+", row) for row in rows), rows


def test_feature_browser_scrolls_inside_and_its_boxes_are_readable(page, lab_server, lab_root):
    write_notebook(lab_root / "browser.ipynb", [
        "import interp_widgets as iw\nmodel = iw.load_model()\n"
        "selection = iw.Selection(model, {'4x': iw.load_sae('4x')}, sae='4x', feature=495, prompt='bread and butter', index_tokens=64 * 40)",
        "iw.FeatureBrowser.from_selection(selection)",
        "iw.FeatureDashboard.from_selection(selection)",
    ])
    open_notebook(page, lab_server, "browser.ipynb")
    run_all_cells(page, ".iw-feature-dashboard .iw-example")
    browser = page.locator(".iw-feature-browser")
    assert browser.bounding_box()["height"] < 1000  # not 3,400 px of table
    scroll = browser.locator(".iw-grid-scroll")
    assert scroll.evaluate("node => node.scrollHeight > node.clientHeight + 50")  # the table scrolls inside
    cut = browser.locator("input[placeholder]").evaluate_all("""inputs => inputs.filter((input) => {
        const style = getComputedStyle(input);
        const context = document.createElement('canvas').getContext('2d');
        context.font = `${style.fontSize} ${style.fontFamily}`;
        const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return context.measureText(input.placeholder).width > room + 1;
    }).map((input) => input.placeholder)""")
    assert cut == []
    form = page.locator(".iw-feature-dashboard .iw-toolbar").inner_text()
    assert "tokens before" in form and "after" in form
