"""Untrusted text in a real JupyterLab: `$x$` in a snapshot or a `%load_ext` display is shown as
written (JupyterLab's own MathJax typesets a plain output beside it, the positive control); a graph
file whose prompt holds NUL and ESC still saves from the ⤓ menu as valid SVG and as PNG; the graph
canvas labels only the rows on screen however many rows it is told there are."""

import xml.etree.ElementTree as ET

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = r'''
import json
import interp_widgets as iw
from IPython.display import HTML, display
from interp_widgets.sae import ReluSAE
from interp_widgets.tokens import colored_tokens

bundle, _ = colored_tokens(["$x$", " and ", "$$y$$", r" \href{https://example.com}{link}"], [1.0, -1.0, 0.5, 0.2])._repr_mimebundle_()
display({"text/html": bundle["text/html"], "text/plain": "snapshot"}, raw=True)  # what a notebook reopened without its kernel shows
display(HTML('<div class="iw-control">$x^2$</div>'))
'''
DESCRIBE = r'''%load_ext interp_widgets
sae = ReluSAE(8, 16, seed=0)
sae.source = "$x$ from \\href{https://example.com}{here}"
sae
'''
GRAPH = r'''
def node(node_id, kind, layer, pos, **fields):
    return {"node_id": node_id, "feature": 0, "layer": layer, "ctx_idx": pos, "feature_type": kind, "jsNodeId": node_id,
            "clerp": "", "influence": 0.5, "activation": None, **fields}
graph = {"metadata": {"slug": "t", "scan": "s", "transcoder_list": [], "prompt_tokens": ["<bos>", "The\x00", " cat\x1b[31m"],
                      "prompt": "The\x00 cat\x1b[31m", "node_threshold": 0.8},
         "qParams": {"pinnedIds": [], "supernodes": [], "linkType": "both", "clickedId": "", "sg_pos": ""},
         "nodes": [node("E_1_0", "embedding", "E", 0), node("E_7_1", "embedding", "E", 1), node("E_9_2", "embedding", "E", 2),
                   node("0_5_1", "cross layer transcoder", "0", 1, activation=2.5, clerp="bell\x07 feature\x00"),
                   node("2_4_2", "logit", "2", 2, feature=4, token_prob=0.4, influence=None)],
         "links": [{"source": "E_7_1", "target": "0_5_1", "weight": 0.5}, {"source": "0_5_1", "target": "2_4_2", "weight": 2.0}]}
open("hostile_graph.json", "w").write(json.dumps(graph))
view = iw.GraphView.from_json("hostile_graph.json")
view
'''


@pytest.fixture(scope="module")
def notebook(lab_server, lab_root):
    write_notebook(lab_root / "untrusted.ipynb", [SETUP, DESCRIBE, GRAPH])
    return lab_server


def test_dollar_signs_show_as_written_and_pictures_survive_control_characters(page, notebook):
    open_notebook(page, notebook, "untrusted.ipynb")
    run_all_cells(page, ".iw-graph-view canvas")
    page.wait_for_selector(".iw-describe", timeout=60_000)
    # MathJax runs here: the control's $x^2$ becomes typeset maths ...
    page.wait_for_selector(".iw-control mjx-container", timeout=60_000)
    snapshot = page.locator(".jp-OutputArea-output .iw-s").first
    describe = page.locator(".iw-describe").first
    # ... and ours stay text, link and all
    for node in (snapshot, describe):
        assert node.locator("mjx-container").count() == 0
        assert node.locator("a").count() == 0
    assert "$x$" in snapshot.inner_text() and "\\href{https://example.com}{link}" in snapshot.inner_text().replace("\u00b7", " ")
    assert "$x$ from \\href{https://example.com}{here}" in describe.inner_text()

    view = page.locator(".iw-graph-view").first
    canvas = view.locator("canvas.iw-graph-canvas")
    labels = canvas.evaluate("""(el) => {
        const graph = el.graphCanvas, context = el.getContext("2d"), fillText = context.fillText;
        let count = 0;
        context.fillText = function (...args) { if (++count > 10000) throw new Error("a label per row"); return fillText.apply(this, args); };
        graph.data.nRows = 1e9;  // as a file claiming 10^9 layers once told it
        try { graph.draw(); return count; } catch (error) { return String(error); } finally { context.fillText = fillText; graph.fit(); }
    }""")
    assert isinstance(labels, int) and labels < 100, labels

    view.locator(".iw-save-button").click()
    with page.expect_download(timeout=30_000) as svg_download:
        view.locator(".iw-save-popup button", has_text="SVG").click()
    svg = open(svg_download.value.path(), encoding="utf-8").read()
    assert "\x00" not in svg and "\x1b" not in svg and "\x07" not in svg
    root = ET.fromstring(svg)  # valid XML
    assert "[31m" in svg and root.tag == "{http://www.w3.org/2000/svg}svg"
    view.locator(".iw-save-button").click()
    with page.expect_download(timeout=30_000) as png_download:
        view.locator(".iw-save-popup button", has_text="PNG").click()
    png = open(png_download.value.path(), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert view.locator(".iw-save-status").inner_text() == ""
