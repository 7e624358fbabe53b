"""The attribution graph view in JupyterLab: hovering a node shows its label, activation and
contexts as text; clicking pins it and its ancestors can be shown alone; "intervene" runs the real
model and the table shows what the maths computes."""

import re

import pytest

from tests.ui.helpers import brightness, light_and_dark, open_notebook, run_all_cells, write_notebook
from tests.widget_requests import ask, request

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROMPT = "When Mary and John went to the store, John gave a drink to"


@pytest.fixture(scope="module")
def graph_notebook(lab_server, lab_root):
    write_notebook(lab_root / "graph.ipynb", [
        "import interp_widgets as iw\nmodel, transcoders = iw.load_model(), iw.load_transcoders('embedded')",
        f"view = iw.GraphView.from_model(model, transcoders, {PROMPT!r})\nview",
    ])
    return lab_server


@pytest.fixture(scope="module")
def expected():
    import interp_widgets as iw

    return iw.GraphView.from_model(iw.load_model(), iw.load_transcoders("embedded"), PROMPT)


def node_point(page, canvas, node):
    """Where node `node` is drawn, in page coordinates."""
    canvas.scroll_into_view_if_needed()
    return canvas.evaluate("""(el, i) => { const box = el.getBoundingClientRect(); const [x, y] = el.graphCanvas.toScreen(i);
                              return [box.left + x, box.top + y]; }""", node)


def ancestors(view, node):
    seen, stack = {node}, [node]
    sources, targets = view.edge_source.tolist(), view.edge_target.tolist()
    while stack:
        current = stack.pop()
        for s, t in zip(sources, targets):
            if t == current and s not in seen:
                seen.add(s)
                stack.append(s)
    return seen


def test_hover_pin_ancestors_and_intervene(page, graph_notebook, expected):
    open_notebook(page, graph_notebook, "graph.ipynb")
    run_all_cells(page, ".iw-graph-view canvas")
    view = page.locator(".iw-graph-view")
    canvas = view.locator("canvas.iw-graph-canvas")
    assert view.locator(".iw-graph-counts").inner_text().startswith(expected.counts)
    assert "edge excites" in view.locator(".iw-graph-legend").inner_text()
    # the most active layer-1 feature: a node with ancestors in both layers
    features = [i for i in range(len(expected.labels)) if int(expected.node_kind[i]) == 1 and int(expected.node_row[i]) == 2]
    node = max(features, key=lambda i: len(ancestors(expected, i)))

    x, y = node_point(page, canvas, node)
    page.mouse.move(x, y)
    tip = page.locator(".iw-tooltip:visible")
    tip.wait_for(timeout=10_000)
    text = tip.inner_text()
    assert expected.labels[node] in text and f"activation {float(expected.node_activation[node]):.3f}" in text
    assert expected.contexts[node].split("\n")[0] in text

    page.mouse.click(x, y)
    assert expected.labels[node] in view.locator(".iw-graph-pins").inner_text()
    view.get_by_role("button", name="ancestors").click()
    shown = canvas.evaluate("el => el.graphCanvas.visible.reduce((a, b) => a + b, 0)")
    assert shown == len(ancestors(expected, node)) < len(expected.labels)

    view.locator(".iw-graph-pins input.iw-number").fill("0")
    view.get_by_role("button", name="intervene").click()
    table = view.locator(".iw-graph-intervention tr.iw-score-row")
    table.first.wait_for(timeout=60_000)
    reply = request(expected, "intervene", {"nodes": [node], "scale": 0.0})
    assert reply["ok"], reply
    rows = expected.intervention["rows"]
    assert table.count() == len(rows)
    first = table.first.locator("td").all_inner_texts()
    assert first[0] == f'"{rows[0][0]}"' and abs(float(first[2]) - rows[0][2]) < 1e-3 * max(1, abs(rows[0][2]))
    assert "1 feature(s), 0 error node(s) ablated" in view.locator(".iw-graph-intervention").inner_text()


def test_the_dark_theme_recolours_the_canvas(page, graph_notebook):
    open_notebook(page, graph_notebook, "graph.ipynb")
    run_all_cells(page, ".iw-graph-view canvas")
    drawn = "() => document.querySelector('canvas.iw-graph-canvas').graphCanvas.drawnWith"
    light, dark = light_and_dark(page, drawn, changed=f"(light) => ({drawn})().positive !== light.positive")
    assert dark["positive"] == "rgb(250, 140, 50)" and light["positive"] == "rgb(230, 97, 1)"
    assert brightness(dark["fg"]) > brightness(light["fg"])  # token nodes and the hover ring stay visible on a dark page


def edge_point(canvas, edge):
    """A page point on drawn edge `edge` where the canvas's own hit test finds that edge and no node."""
    canvas.scroll_into_view_if_needed()
    return canvas.evaluate("""(el, e) => { const g = el.graphCanvas, box = el.getBoundingClientRect();
        const [sx, sy] = g.toScreen(g.data.source[e]), [tx, ty] = g.toScreen(g.data.target[e]);
        for (const f of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
          const x = sx + f * (tx - sx), y = sy + f * (ty - sy);
          if (g.hitEdge(x, y) === e && g.hit(x, y) < 0) return [box.left + x, box.top + y];
        }
        return null; }""", edge)


def test_an_edges_heads_and_why_the_head_attends(page, graph_notebook, expected):
    open_notebook(page, graph_notebook, "graph.ipynb")
    run_all_cells(page, ".iw-graph-view canvas")
    view = page.locator(".iw-graph-view")
    canvas = view.locator("canvas.iw-graph-canvas")
    # the strongest edges between two positions (every such path passes through attention), first one we can point at
    last = len(expected.token_strings) - 1
    target_pos = lambda t: last if int(expected.node_kind[t]) == 3 else int(expected.node_pos[t])  # noqa: E731
    crossing = [e for e in expected.edge_weight.abs().argsort(descending=True).tolist()
                if int(expected.node_pos[int(expected.edge_source[e])]) != target_pos(int(expected.edge_target[e]))]
    edge, point = next((e, p) for e in crossing[:40] if (p := edge_point(canvas, e)) is not None)
    source, target = int(expected.edge_source[edge]), int(expected.edge_target[edge])
    heads = ask(expected, "edge_heads", source=source, target=target)["result"]
    layer, head, _ = heads["heads"][0]

    page.mouse.move(*point)
    tip = page.locator(".iw-tooltip:visible")
    tip.wait_for(timeout=10_000)
    page.wait_for_function("() => [...document.querySelectorAll('.iw-tooltip')].some(t => t.textContent.includes('enters first'))", timeout=30_000)
    text = tip.inner_text()
    assert f"{expected.labels[source]} → {expected.labels[target]}" in text and f"L{layer}H{head}:" in text

    page.mouse.click(*point)  # fills "why attend?" with the edge's strongest head and its two positions
    form = view.locator(".iw-graph-why-form input.iw-number")
    assert [form.nth(i).input_value() for i in range(4)] == [str(layer), str(head), str(target_pos(target)), str(int(expected.node_pos[source]))]
    view.get_by_role("button", name="why attend?").click()
    rows = view.locator(".iw-graph-why tr.iw-score-row")
    rows.first.wait_for(timeout=60_000)
    ask(expected, "why_attend", layer=layer, head=head, query=target_pos(target), key=int(expected.node_pos[source]))
    query_label, key_label, part, _, _ = expected.attention["pairs"][0]
    first = rows.first.inner_text()
    assert query_label.split(" @")[0] in first and key_label.split(" @")[0] in first and re.search(r"[-+]?\d", first)
    assert rows.count() == len(expected.attention["pairs"])
    assert "score" in view.locator(".iw-graph-why .iw-row-label").inner_text()
