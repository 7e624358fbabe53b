"""The attribution graph view at 5,000 nodes and 100,000 edges in headless Chromium.

The graph (16 layers, 64 positions: 64 tokens, 1,024 error nodes, 10 logits, 3,902 features; edges
between random nodes of lower and higher rows) is a `GraphView`'s state, its arrays sent as the
binary buffers the kernel sends. Measured in the bundled view (js/graph_view.ts, lib/graph_canvas.ts):

- first paint: from navigation start until the view has drawn the canvas and two animation frames
  have passed (state fetched as the kernel's message would bring it). Median of 3 page loads.
- hover to tooltip: a pointer move onto a node (the canvas's mousemove, as the browser dispatches
  it) until the tooltip shows the node's label and two frames have passed. Median of 30 nodes.
  Target: <= 50 ms.
- pan frame: one drag step (mousemove with the button down) until the moved graph is on screen and
  two frames have passed. Median of 30 steps. Target: <= 100 ms.
- the reference: the same graph drawn naively, every edge stroked on its own each frame (no cached
  layer, no batching by colour and width) as one pan frame; the headline is its frame over ours.

Also printed: the wire size of the graph (its arrays) and the kernel time to prune an attribution
graph of the embedded model into them. Headline (last line): the pan frame against the naive one.

No GPT-2-small-shaped case: the view draws a graph of a given size (5,000 nodes is already about
what a pruned GPT-2 small attribution graph shows), whatever model made it; run_all's table says n/a.

Run: .venv/bin/python benchmarks/bench_graph_render.py   (needs chromium; takes the shared --quick/--device, which change nothing)
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from ipywidgets.widgets.widget import _remove_buffers

sys.path.insert(0, str(Path(__file__).parent))
from _browser import launch, served  # noqa: E402
from _shapes import options  # noqa: E402

N_LAYERS, N_POS, N_LOGITS, N_NODES, N_EDGES = 16, 64, 10, 5000, 100_000

HARNESS = """<!doctype html><html><body style="width:1200px"><div id="view"></div><script type="module">
import widget from "./graph_view.js";
const state = await (await fetch("state.json")).json();
const raw = await (await fetch("buffers.bin")).arrayBuffer();
const layout = await (await fetch("layout.json")).json();
for (const [name, start, length] of layout) state[name].view = new DataView(raw, start, length);
const model = { get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {}, on() {}, off() {}, send() {} };
const frames = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
widget.render({ model, el: document.getElementById("view") });
await frames();
window.__painted = performance.now();
const canvas = document.querySelector("canvas.iw-graph-canvas");
const graph = canvas.graphCanvas;
const at = (i) => { const box = canvas.getBoundingClientRect(); const [x, y] = graph.toScreen(i); return [box.left + x, box.top + y]; };
const move = (x, y, buttons) => canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: x, clientY: y, buttons, bubbles: true }));
window.__hover = async (i) => {
  const [x, y] = at(i);
  move(x - 40, y - 40, 0);  // off the node first
  await frames();
  const start = performance.now();
  move(x, y, 0);
  const tip = document.querySelector(".iw-tooltip");
  // where nodes overlap (5,000 of them fitted in one canvas) the nearest one under the pointer is shown
  if (graph.hovered < 0 || tip.hidden || !tip.textContent.includes(state.labels[graph.hovered])) throw new Error(`no tooltip at node ${i}`);
  await frames();
  return performance.now() - start;
};
window.__pan = async (steps) => {
  const box = canvas.getBoundingClientRect();
  let x = box.left + box.width / 2, y = box.top + box.height / 2;
  canvas.dispatchEvent(new MouseEvent("mousedown", { clientX: x, clientY: y, buttons: 1, bubbles: true }));
  const times = [];
  for (let s = 0; s < steps; s++) {
    const start = performance.now();
    x += s % 2 ? -7 : 9; y += s % 2 ? 3 : -2;
    move(x, y, 1);
    await frames();
    times.push(performance.now() - start);
  }
  canvas.dispatchEvent(new MouseEvent("mouseup", { clientX: x, clientY: y, bubbles: true }));
  return times;
};
window.__naive = async (steps) => {  // every edge its own stroke, every frame: the reference
  const context = canvas.getContext("2d");
  const data = graph.data, times = [];
  let largest = 0;
  for (const w of data.weight) largest = Math.max(largest, Math.abs(w));
  for (let s = 0; s < steps; s++) {
    const start = performance.now();
    graph.tx += s % 2 ? -7 : 9;
    context.clearRect(0, 0, canvas.width, canvas.height);
    for (let e = 0; e < data.weight.length; e++) {
      const [x1, y1] = graph.toScreen(data.source[e]), [x2, y2] = graph.toScreen(data.target[e]);
      context.beginPath(); context.moveTo(x1, y1); context.lineTo(x2, y2);
      context.strokeStyle = data.weight[e] >= 0 ? "rgba(230,97,1,0.45)" : "rgba(33,102,172,0.45)";
      context.lineWidth = 0.4 + 3 * Math.abs(data.weight[e]) / largest;
      context.stroke();
    }
    for (let i = 0; i < data.kind.length; i++) { const [x, y] = graph.toScreen(i); context.fillRect(x - 3, y - 3, 6, 6); }
    await frames();
    times.push(performance.now() - start);
  }
  return times;
};
</script></body></html>"""


def synthetic_graph():
    """A DrawnGraph of N_NODES nodes and N_EDGES edges, laid out like a 16-layer model's on 64 tokens."""
    from interp_widgets.compute.attribution.drawn import DrawnGraph

    generator = torch.Generator().manual_seed(0)
    n_features = N_NODES - N_POS * (N_LAYERS + 1) - N_LOGITS
    kinds = torch.cat([torch.ones(n_features), torch.full((N_LAYERS * N_POS,), 2), torch.zeros(N_POS), torch.full((N_LOGITS,), 3)]).to(torch.uint8)
    feature_rows = torch.randint(1, N_LAYERS + 1, (n_features,), generator=generator)
    rows = torch.cat([feature_rows, torch.arange(1, N_LAYERS + 1).repeat_interleave(N_POS), torch.zeros(N_POS, dtype=torch.long),
                      torch.full((N_LOGITS,), N_LAYERS + 1)]).int()
    positions = torch.cat([torch.randint(0, N_POS, (n_features,), generator=generator), torch.arange(N_POS).repeat(N_LAYERS),
                           torch.arange(N_POS), torch.full((N_LOGITS,), N_POS - 1)]).int()
    a, b = torch.randint(0, N_NODES, (2, N_EDGES * 2), generator=generator)
    keep = rows[a] < rows[b]
    sources, targets = a[keep][:N_EDGES].int(), b[keep][:N_EDGES].int()
    labels = [f"node {i} row {int(r)} @{int(p)}" for i, (r, p) in enumerate(zip(rows, positions))]
    return DrawnGraph("synthetic", [f"t{p}" for p in range(N_POS)], N_LAYERS, kinds, rows, positions,
                      torch.randint(0, 16384, (N_NODES,), generator=generator).int(), torch.rand(N_NODES, generator=generator),
                      torch.rand(N_NODES, generator=generator), labels, sources, targets, torch.randn(N_EDGES, generator=generator),
                      torch.full((N_NODES,), -1))


def kernel_prune_ms() -> tuple[float, int, int]:
    """Median time to prune an embedded-model graph into the view's arrays (graph.prune + drawn_graph)."""
    import interp_widgets as iw
    from interp_widgets.compute.attribution.attribute import attribute
    from interp_widgets.compute.attribution.drawn import drawn_graph

    graph = attribute(iw.load_model(), iw.load_transcoders("embedded"), "When Mary and John went to the store, John gave a drink to")
    times = []
    for _ in range(5):
        start = time.perf_counter()
        drawn = drawn_graph(graph, graph.prune(0.8, 0.98))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), graph.n_nodes, drawn.n_nodes


def measure() -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    import interp_widgets as iw

    view = iw.GraphView.from_graph(synthetic_graph())
    state, paths, buffers = _remove_buffers(view.get_state())
    state.pop("_esm", None)
    folder = Path(tempfile.mkdtemp(prefix="bench_graph_"))
    static = Path(__file__).parents[1] / "interp_widgets" / "static" / "graph_view.js"
    (folder / "graph_view.js").write_bytes(static.read_bytes())
    blobs, layout, offset = [], [], 0
    for path, buffer in zip(paths, buffers):
        data = bytes(memoryview(buffer).cast("B"))
        pad = (-offset) % 8
        blobs.append(b"\0" * pad + data)
        offset += pad
        layout.append([path[0], offset, len(data)])
        offset += len(data)
    (folder / "buffers.bin").write_bytes(b"".join(blobs))
    (folder / "layout.json").write_text(json.dumps(layout))
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "index.html").write_text(HARNESS)
    firsts, hovers, pans, naive = [], [], [], []
    try:
        with served(folder) as base, sync_playwright() as playwright:
            browser = launch(playwright)
            for repeat in range(3):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{base}/index.html")
                page.wait_for_function("() => window.__painted", timeout=120_000)
                firsts.append(page.evaluate("() => window.__painted"))
                if repeat == 0:
                    nodes = torch.randint(0, N_NODES, (31,), generator=torch.Generator().manual_seed(1)).tolist()
                    hovers = [page.evaluate(f"() => window.__hover({i})") for i in nodes][1:]  # the first warms up
                    pans = page.evaluate("() => window.__pan(31)")[1:]
                    naive = page.evaluate("() => window.__naive(6)")[1:]
                page.close()
            browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"first": statistics.median(firsts), "hover": statistics.median(hovers), "pan": statistics.median(pans),
            "naive": statistics.median(naive), "wire_mb": sum(memoryview(b).nbytes for b in buffers) / 2**20}


def main() -> None:
    options(__doc__)
    prune_ms, full_nodes, drawn_nodes = kernel_prune_ms()
    figures = measure()
    print(f"attribution graph view, {N_NODES:,} nodes and {N_EDGES:,} edges, headless Chromium (software rendering)")
    print(f"  arrays on the wire: {figures['wire_mb']:.2f} MiB")
    print(f"  kernel: prune an embedded-model graph ({full_nodes} -> {drawn_nodes} nodes) into the view's arrays: {prune_ms:.1f} ms (median of 5)")
    print(f"  first paint from navigation: {figures['first']:7.1f} ms (median of 3)")
    print(f"  hover to tooltip:            {figures['hover']:7.1f} ms (median of 30; target <= 50 ms)")
    print(f"  pan frame:                   {figures['pan']:7.1f} ms (median of 30; target <= 100 ms)")
    print(f"  naive pan frame (every edge stroked on its own, every frame): {figures['naive']:7.1f} ms (median of 5)")
    print(f"pan frame at 100,000 edges: {figures['pan']:.1f} ms (target <= 100), hover {figures['hover']:.1f} ms (target <= 50); "
          f"naive redraw vs ours: {figures['naive'] / figures['pan']:.1f}x")


if __name__ == "__main__":
    main()
