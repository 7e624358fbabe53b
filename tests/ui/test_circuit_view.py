"""CircuitView in JupyterLab: the top edges drawn, a click shows the edge's exact patch effect (the kernel's
`edge_effects`), the slider redraws another circuit size, hovering a head draws its pattern, a new prompt
pair is recomputed, and the edge colours follow the dark theme."""

import re

import pytest

from tests.ui.helpers import light_and_dark, open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def circuit_notebook(lab_server, lab_root):
    write_notebook(lab_root / "circuit.ipynb", [
        "import interp_widgets as iw\nfrom interp_widgets.compute.patching import tasks\nmodel = iw.load_model()\npair = tasks.docstring_pair(model)",
        "view = iw.CircuitView.from_model(model, pair)\nview",
    ])
    return lab_server


def test_edges_click_slider_hover_and_a_new_pair(page, circuit_notebook):
    import interp_widgets as iw
    from interp_widgets.compute.circuits import edge_effects
    from interp_widgets.compute.patching import tasks

    model = iw.load_model()
    pair = tasks.docstring_pair(model)
    expected = iw.CircuitView.from_model(model, pair)
    exact = float(edge_effects(model, [pair], [(int(expected.edge_sender[0]), int(expected.edge_receiver[0]))])[0])

    open_notebook(page, circuit_notebook, "circuit.ipynb")
    run_all_cells(page, ".iw-circuit .iw-circuit-edge")
    view = page.locator(".iw-circuit")
    assert view.locator(".iw-circuit-edge").count() == expected.circuit_size
    assert expected.sender_names[int(expected.edge_sender[0])] in view.locator(".iw-circuit-row").first.inner_text()

    view.locator(".iw-circuit-row").first.click()
    detail = view.locator(".iw-circuit-detail")
    page.wait_for_function("(node) => node.textContent.includes('exact effect')", arg=detail.element_handle(), timeout=30_000)
    shown = float(re.search(r"exact effect of restoring it into the corrupt run (-?[\d.]+)", detail.inner_text()).group(1))
    assert shown == pytest.approx(exact, abs=0.01 + 0.01 * abs(exact))

    sizes = expected.curve_sizes.tolist()
    target = len(sizes) - 2
    view.locator(".iw-circuit-slider").evaluate(f"(s) => {{ s.value = '{target}'; s.dispatchEvent(new Event('input')); }}")
    page.wait_for_function("([root, n]) => root.querySelectorAll('.iw-circuit-edge').length === n",
                           arg=[view.element_handle(), min(sizes[target], len(expected.edge_score))], timeout=30_000)

    view.locator('.iw-circuit-node[data-node="a1.h0"]').dispatch_event("mouseenter")
    page.wait_for_selector(".iw-circuit .iw-circuit-pattern-grid", timeout=10_000)
    assert "a1.h0" in view.locator(".iw-circuit-pattern").inner_text()

    read = "() => getComputedStyle(document.querySelector('.iw-circuit .iw-circuit-positive')).stroke"
    light, dark = light_and_dark(page, read)
    assert light != dark

    other = tasks.docstring_pair(model, seed=1)
    corrupt = view.locator("textarea[aria-label='corrupt prompt']")
    view.locator("textarea[aria-label='clean prompt']").fill(other.clean)
    corrupt.fill(other.corrupt)
    view.locator("input[aria-label='answer']").fill(other.answer)
    view.locator("input[aria-label='wrong answer']").fill(other.wrong)
    corrupt.press("Enter")
    page.wait_for_function("([node, word]) => node.textContent.includes(word)",
                           arg=[view.locator(".iw-circuit-caption").element_handle(), repr(other.answer)], timeout=60_000)
