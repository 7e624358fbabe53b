"""JupyterLab in headless Chromium: a notebook with widgets, a new prompt typed, the kernel's values on screen.

The expected values are computed here, in the test process, from the same seeded toy model the
notebook's kernel builds, so the browser must show exactly what the kernel computed.
"""

import re
import time

import pytest

from interp_widgets.compute import NeuronReadout, token_values
from interp_widgets.widgets._colors import format_value
from interp_widgets.widgets._snapshot import visible as _visible
from tests.ui.helpers import brightness, light_and_dark, open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOOK = "blocks.0.hook_resid_post"
FIRST_PROMPT = "The cat sat"
NEW_PROMPT = "Hello <b>world</b> & friends"
SPARSE_LENGTH, SPARSE = 300, {7: 1.25, 150: 2.5, 299: -0.5}  # mostly zero: travels as values + positions
EVIL = [
    "<img src=x onerror=\"window.__pwned='img'\">",
    "</script><script>window.__pwned='script'</script>",
    "<svg onload=\"window.__pwned='svg'\">",
    " plain & simple",
]


@pytest.fixture(scope="module")
def ui_notebook(lab_server, lab_root):
    write_notebook(lab_root / "ui_test.ipynb", [
        "import interp_widgets as iw\n"
        "model = iw.models.toy_model(seed=0)\n"
        f"view = iw.TokenHighlights.from_model(model, {FIRST_PROMPT!r}, hook={HOOK!r}, directions=[3, 7], names=['n3', 'n7'])\n"
        "view",
        f"iw.colored_tokens({EVIL!r}, [1.0, -1.0, 0.5, 0.25])",
        f"iw.colored_tokens([f' t{{i}}' for i in range({SPARSE_LENGTH})], "
        f"[{SPARSE!r}.get(i, 0.0) for i in range({SPARSE_LENGTH})])",
    ])
    return lab_server


def run_all(page, lab_server):
    open_notebook(page, lab_server, "ui_test.ipynb")
    run_all_cells(page, ".iw-token-highlights >> nth=1")


def shown_tokens(widget):
    return widget.locator(".iw-token").all_text_contents()


def tooltip_value(page, widget, position):
    widget.locator(".iw-token").nth(position).hover()
    text = page.locator(".iw-tooltip:visible").inner_text()
    return text.strip().splitlines()[-1].split()[-1]


def wait_for_tokens(widget, expected, timeout=60.0):
    """Poll until the widget shows exactly `expected`; on time-out, fail with the difference."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and shown_tokens(widget) != expected:
        time.sleep(0.2)
    assert shown_tokens(widget) == expected


def test_widget_renders_answers_a_new_prompt_and_reports_errors(page, ui_notebook, toy):
    run_all(page, ui_notebook)
    widget = page.locator(".iw-token-highlights").first
    readouts = [NeuronReadout(3), NeuronReadout(7)]

    tokens, values = token_values(toy, FIRST_PROMPT, HOOK, readouts)
    wait_for_tokens(widget, [_visible(t) for t in tokens])
    assert tooltip_value(page, widget, 2) == format_value(values[0, 2].item())

    # Type a new prompt, press Enter: the kernel re-tokenizes and recomputes.
    widget.locator(".iw-prompt-input").evaluate("input => { input.dataset.mark = 'same view' }")
    widget.locator(".iw-prompt-input").fill(NEW_PROMPT)
    widget.locator(".iw-prompt-input").press("Enter")
    tokens, values = token_values(toy, NEW_PROMPT, HOOK, readouts)
    wait_for_tokens(widget, [_visible(t) for t in tokens])
    last = len(tokens) - 1
    time.sleep(1)  # a re-created view would have replaced the input by now
    assert widget.locator(".iw-prompt-input").evaluate("input => input.dataset.mark") == "same view"
    assert tooltip_value(page, widget, last) == format_value(values[0, last].item())

    # Switch to the second series: the colours and values follow.
    widget.get_by_role("button", name="n7").click()
    page.wait_for_function("(root) => root.querySelector('button[aria-pressed=true]').textContent === 'n7'", arg=widget.element_handle())
    assert tooltip_value(page, widget, last) == format_value(values[1, last].item())

    # A prompt longer than the context: the kernel's error shows inside the widget; the view stays.
    widget.locator(".iw-prompt-input").fill("word " * 200)
    widget.locator(".iw-prompt-input").press("Enter")
    error = widget.locator(".iw-error")
    error.wait_for(state="visible", timeout=60_000)
    assert re.search(r"context is 128 tokens: shorten the prompt", error.inner_text())
    assert shown_tokens(widget) == [_visible(t) for t in tokens]


def test_token_strings_are_text_never_html(page, ui_notebook):
    run_all(page, ui_notebook)
    widget = page.locator(".iw-token-highlights").nth(1)
    wait_for_tokens(widget, [_visible(t) for t in EVIL])
    assert not widget.locator(".iw-prompt").is_visible()  # built from plain data: nothing to edit
    assert page.evaluate("() => window.__pwned") is None
    assert widget.locator("img, svg, script").count() == 0
    widget.locator(".iw-token").first.hover()
    assert EVIL[0] in page.locator(".iw-tooltip:visible").inner_text().replace("\\\"", "\"")


def test_dark_mode_follows_the_jupyterlab_theme(page, ui_notebook):
    run_all(page, ui_notebook)
    light, dark = light_and_dark(page, "() => getComputedStyle(document.querySelector('.iw-root')).color", restore=False)
    assert brightness(dark) > brightness(light)

    # The negative (blue) end stands out from the dark background as much as the positive one does.
    widget = page.locator(".iw-token-highlights").nth(1)  # values 1, -1, 0.5, 0.25
    shown = widget.locator(".iw-token").evaluate_all(
        """tokens => tokens.slice(0, 2).map(token => {
             const probe = document.createElement('div');
             probe.style.background = getComputedStyle(token).backgroundColor;
             document.body.appendChild(probe);
             const canvas = document.createElement('canvas').getContext('2d');
             canvas.fillStyle = getComputedStyle(document.querySelector('.jp-Notebook')).backgroundColor;
             canvas.fillRect(0, 0, 1, 1);
             canvas.fillStyle = getComputedStyle(probe).backgroundColor;
             canvas.fillRect(0, 0, 1, 1);
             probe.remove();
             return Array.from(canvas.getImageData(0, 0, 1, 1).data.slice(0, 3));
           })""")
    background = page.evaluate("() => { const c = document.createElement('canvas').getContext('2d'); c.fillStyle = getComputedStyle(document.querySelector('.jp-Notebook')).backgroundColor; c.fillRect(0, 0, 1, 1); return Array.from(c.getImageData(0, 0, 1, 1).data.slice(0, 3)); }")
    luminance = lambda rgb: 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    positive, negative = (luminance(rgb) - luminance(background) for rgb in shown)
    assert negative > 0.85 * positive > 0, (shown, background)  # navy on dark grey gave 0.73


def hover_middle(page, locator):
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    return x, y


def test_tooltip_sits_next_to_the_pointer_inside_the_visible_area(page, ui_notebook):
    run_all(page, ui_notebook)
    token = page.locator(".iw-token-highlights").first.locator(".iw-token").nth(1)
    x, y = hover_middle(page, token)
    tip = page.locator(".iw-tooltip:visible")
    placed = tip.bounding_box()
    assert 0 <= placed["x"] - x <= 30 and 0 <= placed["y"] - y <= 30, (placed, x, y)

    # With the token near the bottom of the notebook panel, the tooltip goes above the pointer
    # and stays inside the panel.
    page.mouse.move(0, 0)
    scroller = page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
    below_panel = page.viewport_size["height"] - (scroller.bounding_box()["y"] + scroller.bounding_box()["height"])
    page.set_viewport_size({"width": 1400, "height": int(y + 30 + below_panel)})
    page.wait_for_timeout(500)
    panel = scroller.bounding_box()
    x, y = hover_middle(page, token)
    assert panel["y"] + panel["height"] - 60 < y < panel["y"] + panel["height"], (y, panel)
    placed = tip.bounding_box()
    assert placed["y"] + placed["height"] <= panel["y"] + panel["height"], (placed, panel)
    assert 0 <= y - (placed["y"] + placed["height"]) <= 30 and 0 <= placed["x"] - x <= 30, (placed, x, y)


def test_a_mostly_zero_series_arrives_sparse_and_shows_every_value_in_place(page, ui_notebook):
    run_all(page, ui_notebook)
    widget = page.locator(".iw-token-highlights").nth(2)
    wait_for_tokens(widget, [_visible(f" t{i}") for i in range(SPARSE_LENGTH)])
    for position in (*SPARSE, 0, 151):
        assert tooltip_value(page, widget, position) == format_value(SPARSE.get(position, 0.0)), position


def test_after_a_kernel_restart_the_widget_says_its_kernel_is_gone(page, ui_notebook, toy):
    run_all(page, ui_notebook)
    widget = page.locator(".iw-token-highlights").first
    tokens, _ = token_values(toy, FIRST_PROMPT, HOOK, [NeuronReadout(3)])
    wait_for_tokens(widget, [_visible(t) for t in tokens])
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=60_000)

    widget.locator(".iw-prompt-input").fill("A new prompt")
    widget.locator(".iw-prompt-input").press("Enter")
    error = widget.locator(".iw-error")
    error.wait_for(state="visible", timeout=10_000)
    assert "kernel behind this widget is gone" in error.inner_text()
    assert widget.locator(".iw-status").inner_text() == ""  # not left on "computing…"
    assert widget.get_by_text("These tokens are from the previous prompt").is_visible()
    assert "iw-stale" in widget.locator(".iw-tokens").get_attribute("class")
    assert shown_tokens(widget) == [_visible(t) for t in tokens]

