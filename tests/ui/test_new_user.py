"""What a new user hit, in a real browser (issue 36): the lens grid's target box in the workbench, a multi-line
prompt in the bench's prompt box, the index's progress line in the first Browser tab, the toy's progress line after training set from code, the steering view's
legends and one "generating…", and the quickstart opening unmodified."""

import shutil
import time
from pathlib import Path

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "We bought bread and butter, salt and pepper."
CODE = "def f(x):\n    return x\nprint(f(2))"


@pytest.fixture(scope="module")
def notebooks(lab_server, lab_root):
    write_notebook(lab_root / "bench36.ipynb", [
        "import interp_widgets as iw\nmodel = iw.load_model()\n"
        f"bench = iw.explore(model, {{'4x': iw.load_sae('4x')}}, prompt={PROMPT!r}, index_tokens=64 * 20)\nbench",
    ])
    write_notebook(lab_root / "index36.ipynb", [
        "import interp_widgets as iw\nmodel = iw.load_model()\n"
        f"bench = iw.explore(model, {{'4x': iw.load_sae('4x')}}, prompt={PROMPT!r})\nbench",  # the default 65,536-token index
    ])
    write_notebook(lab_root / "toy36.ipynb", [
        "import interp_widgets as iw\ntoy = iw.SuperpositionToy.from_settings(n_features=5, n_hidden=2, steps=1500)\ntoy",
        "toy.set(feature_probability=1.0); toy.set(feature_probability=0.05)",
    ])
    write_notebook(lab_root / "steer36.ipynb", [
        "import interp_widgets as iw\nfrom interp_widgets.compute.steering import Steer\n"
        "german = next(f for f in iw.models.loaders.feature_catalogue() if f['concept'] == 'German text')\n"
        "model, sae = iw.load_model(), iw.load_sae(german['sae'])\n"
        "view = iw.SteeringView.from_model(model, 'The weather today is', Steer(None, (sae, german['feature']), 0.0), "
        "max_new_tokens=48, sweep_points=3)\nview",
    ])
    shutil.copy(Path(__file__).parents[2] / "notebooks" / "00_quickstart.ipynb", lab_root / "00_quickstart.ipynb")
    return lab_server


def show_tab(page, label, root):
    page.locator(".iw-bench .lm-TabBar-tab", has_text=label).first.click()
    view = page.locator(f".iw-bench {root}").first
    view.wait_for(state="visible", timeout=90_000)
    return view


def test_the_lens_grids_target_box_and_a_multi_line_prompt_in_the_bench(page, notebooks):
    open_notebook(page, notebooks, "bench36.ipynb")
    run_all_cells(page, ".iw-bench .iw-token-highlights .iw-token")
    grid = show_tab(page, "Lens grid", ".iw-logit-lens")
    grid.locator(".iw-lens-cell").first.wait_for(timeout=90_000)
    target = grid.locator(".iw-lens-target-input")
    target.fill(" the")
    target.press("Enter")
    page.wait_for_function("(node) => node.querySelector('.iw-caption').textContent.includes('the rank of')",
                           arg=grid.element_handle(), timeout=60_000)
    assert not grid.locator(".iw-error:visible").count() and not page.locator(".iw-bench .iw-linked-error:visible").count()
    assert grid.locator(".iw-lens-cell").first.inner_text().strip().isdigit()  # a rank, not a token
    target.fill("")
    target.press("Enter")  # a cleared box: back to the top-1 tokens, no error
    page.wait_for_function("(node) => node.querySelector('.iw-caption').textContent.startsWith('Cells: the top')",
                           arg=grid.element_handle(), timeout=60_000)
    assert not grid.locator(".iw-error:visible").count()

    box = page.locator(".iw-bench-prompt textarea").first  # a text area: line breaks stay
    box.fill(CODE)
    grid.locator(".iw-title").click()  # leaving the box sends the prompt
    page.wait_for_function(f"(node) => node.querySelectorAll('.iw-lens-grid th').length > 0 && "
                           f"node.querySelector('.iw-prompt-input').value === {CODE!r}", arg=grid.element_handle(), timeout=90_000)
    assert box.input_value() == CODE


def test_the_first_browser_tab_shows_the_index_progress_while_it_builds(page, notebooks):
    open_notebook(page, notebooks, "index36.ipynb")
    run_all_cells(page, ".iw-bench .iw-token-highlights .iw-token")
    page.locator(".iw-bench .lm-TabBar-tab", has_text="Browser").first.click()
    line = page.locator(".iw-bench .iw-bench-progress").first
    line.wait_for(state="visible", timeout=30_000)  # not a blank tab while the index builds
    assert "building the activation index of the 4x SAE" in line.inner_text()
    page.locator(".iw-bench .iw-feature-browser").first.wait_for(state="visible", timeout=120_000)


def test_the_toys_progress_line_clears_when_training_set_from_code_ends(page, notebooks):
    open_notebook(page, notebooks, "toy36.ipynb")
    run_all_cells(page, ".iw-superposition-toy .iw-toy-picture")
    page.wait_for_function("() => { const p = document.querySelector('.iw-superposition-toy .iw-toy-picture');"
                           " return p && p.dataset.step === '1500' && p.dataset.probability === '0.05'; }", timeout=120_000)
    time.sleep(1.0)
    status = page.locator(".iw-superposition-toy .iw-toolbar .iw-status").first.inner_text()
    assert "training" not in status, status


def test_steering_says_what_the_colours_are_and_generating_once(page, notebooks):
    open_notebook(page, notebooks, "steer36.ipynb")
    run_all_cells(page, ".iw-steering .iw-steer-steered .iw-token")
    view = page.locator(".iw-steering").first
    assert "activation" in view.locator(".iw-steer-legend").inner_text()  # the token colours' legend
    view.locator(".iw-steer-sweep .iw-chart .iw-line-key").first.wait_for(timeout=60_000)  # the key inside its chart
    assert view.locator(".iw-steer-sweep > .iw-legend").count() == 0  # no key standing apart
    slider = view.locator(".iw-steer-slider").first
    slider.focus()
    slider.press("End")  # the largest strength: the kernel streams a new completion
    most = 0
    deadline = time.time() + 60
    seen_generating = False
    while time.time() < deadline:
        count = view.evaluate("(node) => (node.innerText.match(/generating/g) || []).length")
        most, seen_generating = max(most, count), seen_generating or count > 0
        if seen_generating and count == 0:
            break
        time.sleep(0.05)
    assert seen_generating and most == 1, f"'generating' shown {most} times at once"


def test_the_quickstart_opens_unmodified(page, notebooks):
    open_notebook(page, notebooks, "00_quickstart.ipynb")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=90_000)
    time.sleep(3.0)  # the kernel's info has reached the notebook's metadata by now
    assert not page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
    assert page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() == 0
