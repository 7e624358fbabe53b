"""Charts in JupyterLab: labelled axes, readable ticks, a log scale where values span decades,
a hover read-out, and a marker label clear of the bars."""

import pytest

from tests.ui.helpers import open_notebook, run_all_cells, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import math, torch\n"
    "import interp_widgets as iw\n"
    "view = iw.widgets.TrainingView(sae_names=['1x', '8x'])\n"
    "history = [[{'step': s, 'nmse': 7.1 * math.exp(-s / 300) + 0.2 * k, 'l0': 1000 * math.exp(-s / 200) + 14 * k,\n"
    "             'dead_fraction': 0.05} for s in range(0, 2001, 100)] for k in (1, 2)]\n"
    "view.update(history)\n"
    "view",
    "torch.manual_seed(0)\n"
    "hist = iw.widgets.HistogramView.from_values(torch.rand(2000) ** 0.5, bins=30, title='MCS', mean_label='MMCS',\n"
    "                                            x_label='max cosine similarity', y_label='features', unit='features')\n"
    "hist",
]


@pytest.fixture(scope="module")
def charts_notebook(lab_server, lab_root):
    write_notebook(lab_root / "charts.ipynb", CELLS)
    return lab_server


def overlaps(a, b):
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def test_charts_read_well(page, charts_notebook):
    open_notebook(page, charts_notebook, "charts.ipynb")
    run_all_cells(page, ".iw-histogram svg")

    l0 = page.locator(".iw-training-view .iw-chart").nth(1)
    assert "L0" in l0.locator(".iw-chart-title").inner_text()
    assert l0.locator(".iw-scale-toggle").inner_text() == "log scale"  # 1014 -> 14 spans decades
    labels = l0.locator("svg text").all_text_contents()
    assert "step" in labels and "l0" in labels
    assert {"100", "1,000"} <= set(labels) and {"500", "1,000", "1,500"} <= set(labels), labels
    assert len([t for t in labels if t[:1].isdigit()]) >= 7  # x and y ticks, not just the ends

    hit = l0.locator(".iw-hit")
    box = hit.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    readout = l0.locator(".iw-readout").inner_text()
    assert readout.startswith("step 1000:") and "1x" in readout and "8x" in readout, readout

    l0.locator(".iw-scale-toggle").click()
    assert l0.locator(".iw-scale-toggle").inner_text() == "linear scale"

    histogram = page.locator(".iw-histogram")
    marker = histogram.locator(".iw-marker-label")
    assert marker.text_content().startswith("MMCS")
    label_box = marker.bounding_box()
    bars = histogram.locator(".iw-bar")
    assert bars.count() == 30
    assert not any(overlaps(label_box, bars.nth(i).bounding_box()) for i in range(bars.count()))
    bars.nth(29).hover()
    assert histogram.locator(".iw-readout").inner_text().endswith("features")
    assert "max cosine similarity" in histogram.locator("svg text").all_text_contents()
    page.locator(".jp-Notebook").screenshot(path="/tmp/charts.png")
