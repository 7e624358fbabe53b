"""Token highlights, 4,096 tokens: time from new state to painted view in headless Chromium,
interp-widgets against CircuitsVis' `colored_tokens` for the same data.

- Ours, update: the view is on screen; new values arrive (the model's "change" event, the values
  encoded by the wire codec as a kernel update would bring them: dense, or sparse when mostly
  zero); time until the view has redrawn and two animation frames have passed. Target: under
  100 ms. Median of 10. An error in the page fails the run.
- Ours, first paint: from navigation start until the bundled view has rendered the tokens and
  two animation frames have passed (state fetched as the kernel's message would bring it).
  Median of 3.
- CircuitsVis: it has no update: new values mean a new HTML output, so its time is its offline
  HTML (bundle inlined) from navigation start until its 4,096 token spans are in the page and two
  frames have passed. Median of 3.

Headline (last line): CircuitsVis' paint over ours for new values (the update).

GPT-2 small's shape (the "GPT-2-small-shaped random" line): 1,024 tokens (GPT-2's whole context,
one forward pass; 4,096 would not fit) of the random GPT-2-small-shaped model, the values being
features of a random TopK SAE (d_sae 6,144, L0 32) at blocks.6.hook_resid_post
(`_shapes.gpt2_feature_values`): the view opens on one feature and each update brings the next
feature's activations (zero on ~99 % of tokens) instead of the headline's dense sine values;
CircuitsVis paints the first feature. The token strings are the toy tokenizer's (no GPT-2
vocabulary offline). The model only makes the values; what is timed is the browser's work.

Run: .venv/bin/python benchmarks/bench_render.py [--device cuda]  (needs `pip install circuitsvis` and chromium;
--quick changes nothing; --device is where the GPT-2-shaped model runs)
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from ipywidgets.widgets.widget import _remove_buffers

sys.path.insert(0, str(Path(__file__).parent))
from _browser import launch, served  # noqa: E402
from _shapes import GPT2_LABEL, gpt2_feature_values, options  # noqa: E402

N_TOKENS = 4096

HARNESS = """<!doctype html><html><body><div id="view"></div><script type="module">
import widget from "./token_highlights.js";
const state = await (await fetch("state.json")).json();
const raw = await (await fetch("buffers.bin")).arrayBuffer();
const at = ([offset, length]) => new DataView(raw, offset, length);
const wire = (array) => ({ ...array, view: at(array.view), ...(array.indices ? { indices: at(array.indices) } : {}) });
state.values = wire(state.values);
const updates = (await (await fetch("updates.json")).json()).map(wire);  // as the kernel's messages bring them
const listeners = [];
const model = { get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
  on(event, handler) { if (event === "change") listeners.push(handler); }, off() {}, send() {} };
const frames = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
widget.render({ model, el: document.getElementById("view") });
await frames();
window.__painted = performance.now();
window.__update = async (index) => {
  const start = performance.now();
  state.values = updates[index];
  listeners.forEach((handler) => handler());
  await frames();
  return performance.now() - start;
};
</script></body></html>"""


def wires(arrays: list[torch.Tensor], blob: bytearray) -> list[dict]:
    """Each array as the wire codec sends it (dense, or sparse when mostly zero), its buffers appended to `blob`
    and replaced by their [offset, length] there."""
    from interp_widgets.widgets._wire import to_wire

    out = []
    for array in arrays:
        message = to_wire(array.float())
        for key in ("view", "indices"):
            if key in message:
                data = bytes(memoryview(message[key]).cast("B"))
                message[key] = [len(blob), len(data)]
                blob += data
        out.append(message)
    return out


def data() -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Token strings, first values [N_TOKENS] (normal) and 11 rows of new values [11, N_TOKENS] (sines, dense)."""
    from interp_widgets.models import toy_tokenizer

    generator = torch.Generator().manual_seed(0)
    tokenizer = toy_tokenizer()
    ids = torch.randint(1, len(tokenizer), (N_TOKENS,), generator=generator).tolist()
    positions = torch.arange(N_TOKENS, dtype=torch.float32)
    updates = torch.stack([torch.sin(positions * 0.37 + seed) * 3 for seed in range(-1, 10)])
    return [tokenizer.decode([i]) for i in ids], torch.randn(N_TOKENS, generator=generator), updates


def measure(tokens: list[str], values: torch.Tensor, updates: torch.Tensor) -> tuple[float, float, float]:
    """(ours update ms, ours first paint ms, CircuitsVis paint ms): the view opens on `values` [tokens]; a warm-up
    update brings `updates[0]`, the timed ones `updates[1:]` [n, tokens]."""
    from circuitsvis.tokens import colored_tokens
    from playwright.sync_api import sync_playwright

    import interp_widgets as iw

    widget = iw.TokenHighlights(tokens=tokens, values=values)
    state, paths, _ = _remove_buffers(widget.get_state())
    assert all(path[0] == "values" for path in paths), paths  # the harness rebuilds only `values`
    state.pop("_esm", None)
    blob = bytearray()
    state["values"] = wires([values], blob)[0]
    update_wires = wires(list(updates), blob)
    folder = Path(tempfile.mkdtemp(prefix="bench_render_"))
    (folder / "token_highlights.js").write_bytes((Path(__file__).parents[1] / "interp_widgets" / "static" / "token_highlights.js").read_bytes())
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "updates.json").write_text(json.dumps(update_wires))
    (folder / "buffers.bin").write_bytes(bytes(blob))
    (folder / "index.html").write_text(HARNESS)
    their_html = colored_tokens(tokens, values.tolist()).local_src
    (folder / "circuitsvis.html").write_text(f"<!doctype html><html><body>{their_html}</body></html>")
    update_ms, firsts, theirs, errors = [], [], [], []
    try:
        with served(folder) as base, sync_playwright() as playwright:
            browser = launch(playwright)
            for repeat in range(3):
                page = browser.new_page()
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{base}/index.html")
                page.wait_for_function("() => window.__painted", timeout=120_000)
                assert page.locator(".iw-token").count() == len(tokens)
                firsts.append(page.evaluate("() => window.__painted"))
                if repeat == 0:
                    page.evaluate("() => window.__update(0)")  # warm-up
                    update_ms = [page.evaluate(f"() => window.__update({index})") for index in range(1, len(updates))]
                page.close()
            assert not errors, errors
            for _ in range(3):
                page = browser.new_page()
                page.goto((folder / "circuitsvis.html").as_uri(), timeout=120_000)
                page.wait_for_function(f"() => document.querySelectorAll('[id^=circuits-vis] span').length >= {len(tokens)}", timeout=120_000)
                theirs.append(page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))"))
                page.close()
            browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(update_ms), statistics.median(firsts), statistics.median(theirs)


def gpt2(device: str) -> None:
    tokens, features, about = gpt2_feature_values(1024, 12, device=device)  # [1024, 12]: the first opens, the rest update
    update_ms, first_ms, theirs_ms = measure(tokens, features[:, 0], features[:, 1:].T)
    print(f"{GPT2_LABEL}: 1,024 tokens, {about}")
    print(f"  interp-widgets, next feature's values to painted view: {update_ms:7.1f} ms (median of 10); first paint {first_ms:7.1f} ms")
    print(f"  CircuitsVis colored_tokens, painted from navigation: {theirs_ms:7.1f} ms (median of 3)")
    print(f"{GPT2_LABEL}: new values to painted view, 1,024 tokens of SAE features, CircuitsVis vs ours: {theirs_ms / update_ms:.1f}x "
          f"(first paint {theirs_ms / first_ms:.1f}x)\n")


def main() -> None:
    args = options(__doc__)
    torch.set_num_threads(1)
    try:
        import circuitsvis  # noqa: F401
    except ImportError:
        sys.exit("needs circuitsvis: .venv/bin/pip install circuitsvis")
    gpt2(args.device)
    tokens, values, updates = data()
    update_ms, first_ms, theirs_ms = measure(tokens, values, updates)
    print(f"{N_TOKENS} highlighted tokens, headless Chromium")
    print(f"  interp-widgets, new values to painted view: {update_ms:7.1f} ms (median of 10; target < 100 ms)")
    print(f"  interp-widgets, first paint from navigation: {first_ms:7.1f} ms (median of 3)")
    print(f"  CircuitsVis colored_tokens, painted from navigation (it re-renders a new HTML for new values): {theirs_ms:7.1f} ms (median of 3)")
    print(f"first paint, CircuitsVis vs ours: {theirs_ms / first_ms:.1f}x")
    print(f"new values to painted view, 4,096 tokens, CircuitsVis vs ours: {theirs_ms / update_ms:.1f}x")


if __name__ == "__main__":
    main()
