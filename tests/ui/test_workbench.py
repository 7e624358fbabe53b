"""The workbench (iw.explore) in a real browser: every tab draws its view (so a view that joins the bench with a
BenchTab row is checked in a browser without a test of its own); a feature picked in its browser tab moves the
dashboard and the highlights; one prompt edit reaches every view that reads the prompt; a view saves itself from its
menu as SVG and PNG; the bench fits a notebook cell without sideways scrolling."""

import os
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

from tests.ui.conftest import ARTIFACTS
from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "We bought bread and butter, salt and pepper."
NEW_PROMPT = "Zebras gallop across the savanna at dawn"
READS_PROMPT = ["Highlights", "Ablation", "Direction", "Norms", "Lens grid", "Attention", "Patching"]
JS = Path(__file__).resolve().parents[2] / "js"


def bench_roots():
    """Each bench tab's label and its view's root selector: the `frame("iw-...")` of its registry row's entry."""
    from interp_widgets.widgets.registry import BENCH_TABS, WIDGETS

    bundles = {row.name: row.bundle for row in WIDGETS}
    return {tab.label: "." + re.search(r'frame\("([^"]+)"', (JS / f"{bundles[tab.name]}.ts").read_text()).group(1) for tab in BENCH_TABS}


ROOTS = bench_roots()


@pytest.fixture(scope="module")
def bench_notebook(lab_server, lab_root):
    write_notebook(lab_root / "bench.ipynb", [
        "import interp_widgets as iw\nmodel = iw.load_model()\nsaes = {'4x': iw.load_sae('4x')}\n"
        f"bench = iw.explore(model, saes, prompt={PROMPT!r}, index_tokens=64 * 20)\nbench",
    ])
    return lab_server


def show_tab(page, label):
    page.locator(".iw-bench .lm-TabBar-tab", has_text=label).first.click()
    root = page.locator(f".iw-bench {ROOTS[label]}").first
    root.wait_for(state="visible", timeout=90_000)
    return root


def open_bench(page, server, ui="lab"):
    open_notebook(page, server, "bench.ipynb", ui=ui)
    run_all_cells(page, ".iw-bench .iw-token-highlights .iw-token")


def test_a_feature_picked_in_the_browser_tab_moves_dashboard_and_highlights(page, bench_notebook):
    open_bench(page, bench_notebook)
    feature = 12
    browser = show_tab(page, "Browser")
    browser.locator("tr[data-feature]").first.wait_for(timeout=90_000)
    browser.locator("th.iw-sortable").first.click()  # sort by feature index, ascending
    browser.locator(f'tr[data-feature="{feature}"]').click()
    page.wait_for_function(f"() => document.querySelector('.iw-bench-feature input').value === '{feature}'", timeout=60_000)
    dashboard = show_tab(page, "Dashboard")
    page.wait_for_function(f"(node) => node.querySelector('.iw-title').textContent.includes('feature {feature} ')",
                           arg=dashboard.element_handle(), timeout=60_000)
    highlights = show_tab(page, "Highlights")
    page.wait_for_function(f"(node) => node.textContent.includes('feature {feature}')", arg=highlights.element_handle(), timeout=60_000)


def test_every_tab_draws_its_view(page, bench_notebook):
    open_bench(page, bench_notebook)
    for label in ROOTS:
        root = show_tab(page, label)
        banner = root.locator(".iw-error:visible")
        assert banner.count() == 0, f"the {label} tab shows an error: {banner.first.inner_text()}"
        assert root.evaluate("(node) => node.getBoundingClientRect().height") > 40, f"the {label} tab drew nothing"


@pytest.mark.parametrize("ui", ["lab", "notebook"], ids=["JupyterLab", "Notebook 7"])
def test_one_prompt_edit_reaches_every_view_that_reads_it(page, bench_notebook, ui):
    import interp_widgets as iw

    token = max((t for t in iw.load_model().to_str_tokens(NEW_PROMPT)[1:]), key=lambda t: len(t.strip())).strip()
    open_bench(page, bench_notebook, ui)
    for label in READS_PROMPT:  # every tab built once on the old prompt
        show_tab(page, label)
    show_tab(page, "Highlights")
    box = page.locator(".iw-bench-prompt textarea").first  # a text area (line breaks stay): sent when it loses focus
    box.fill(NEW_PROMPT)
    box.evaluate("(node) => node.blur()")
    check = ("([node, prompt, token]) => [...node.querySelectorAll('input, textarea')].some((i) => i.value === prompt)"
             " || node.textContent.includes(token)")
    for label in READS_PROMPT:
        root = show_tab(page, label)
        page.wait_for_function(check, arg=[root.element_handle(), NEW_PROMPT, token], timeout=90_000)
    bench = page.locator(".iw-bench").first
    size = bench.evaluate("(node) => [node.scrollWidth, node.clientWidth, node.getBoundingClientRect().width]")
    assert size[0] <= size[1] + 1 and size[2] <= 1001, f"the bench scrolls sideways or is wider than a cell: {size}"


def test_a_view_saves_what_is_on_screen_as_svg_and_png(page, bench_notebook):
    open_bench(page, bench_notebook)
    view = page.locator(".iw-bench .iw-token-highlights").first
    view.locator(".iw-save-button").click()
    with page.expect_download() as svg_download:
        view.locator(".iw-save-popup button", has_text="SVG").click()
    assert svg_download.value.suggested_filename == "token-highlights.svg"
    svg = open(svg_download.value.path(), encoding="utf-8").read()
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and "butter" in "".join(root.itertext())
    assert 'class="iw-save-menu' not in svg and 'save this view' not in svg, "the menu itself is left out of the picture"
    view.locator(".iw-save-button").click()
    with page.expect_download() as png_download:
        view.locator(".iw-save-popup button", has_text="PNG").click()
    png = open(png_download.value.path(), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    pixels = png_bytes(png)
    assert len(set(pixels)) > 20 and sum(b < 200 for b in pixels) > len(pixels) // 200, "the PNG is blank"
    if os.environ.get("IW_KEEP_PICTURES"):  # to look at them: test-artifacts/bench-highlights.{svg,png}
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "bench-highlights.svg").write_text(svg, encoding="utf-8")
        (ARTIFACTS / "bench-highlights.png").write_bytes(png)


def png_bytes(png):
    """The decompressed image data of a PNG (filter bytes and pixels), to tell a drawing from a blank page."""
    data, offset = b"", 8
    while offset < len(png):
        length = struct.unpack(">I", png[offset:offset + 4])[0]
        kind = png[offset + 4:offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8:offset + 8 + length]
        offset += 12 + length
    return zlib.decompress(data)
