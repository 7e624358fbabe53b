"""Attention view: bytes to the browser and time to first paint, interp-widgets against CircuitsVis.

Data: one layer of 12 heads over 512 tokens (seeded causal softmax patterns), as
`attention_heads(attention, tokens)` takes it in both libraries.

- Bytes. interp-widgets: the widget's state (JSON without the front-end), its front-end bundle,
  the binary buffers (each head's causal lower triangle in float16) and the display message
  (plain text and the static HTML snapshot). CircuitsVis: the HTML `attention_heads` returns,
  with the patterns as JSON text and its JavaScript imported from a CDN (the bundle's size is
  counted beside it); offline it inlines the bundle instead.
- Time to first paint, in headless Chromium (Debian's): from navigation start until the view's
  elements are in the page and two animation frames have passed. CircuitsVis: its offline HTML
  (bundle inlined) opened from disk. interp-widgets: a page served on localhost that fetches the
  state and the binary buffers (as the kernel's message would bring them) and renders the bundled
  view with a stand-in for the widget model.

Headline (last line): CircuitsVis' CDN HTML alone (its smallest form) over our total bytes.

GPT-2 small's shape (the "GPT-2-small-shaped random" line, bytes only): the 12 heads of layer 5 of
the random GPT-2-small-shaped model (`_shapes.gpt2_small_shaped`) over a 256-token prompt (the
package's toy corpus, repeated), the patterns the model computes rather than seeded softmaxes. The
bytes depend on the shape (heads x tokens^2) and, on CircuitsVis' side, on how many characters each
weight takes as JSON text; a random model's near-uniform weights (1/n) print as long decimals.

Run: .venv/bin/python benchmarks/bench_attention.py [--device cuda]  (needs `pip install circuitsvis` and chromium;
--quick changes nothing)
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from ipywidgets.widgets.widget import _remove_buffers

sys.path.insert(0, str(Path(__file__).parent))
from _browser import launch, served  # noqa: E402
from _shapes import GPT2_LABEL, gpt2_prompt, gpt2_small_shaped, options  # noqa: E402

N_HEADS, N_TOKENS = 12, 512
GPT2_LAYER, GPT2_TOKENS = 5, 256


def data() -> tuple[torch.Tensor, list[str]]:
    from interp_widgets.models import toy_tokenizer

    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(N_HEADS, N_TOKENS, N_TOKENS, generator=generator) * 3
    causal = torch.ones(N_TOKENS, N_TOKENS, dtype=torch.bool).tril()
    attention = scores.masked_fill(~causal, float("-inf")).softmax(-1)
    tokenizer = toy_tokenizer()
    ids = torch.randint(1, len(tokenizer), (N_TOKENS,), generator=generator).tolist()
    return attention, [tokenizer.decode([i]) for i in ids]


def gpt2_data(device: str) -> tuple[torch.Tensor, list[str]]:
    """Layer GPT2_LAYER's patterns `[12, GPT2_TOKENS, GPT2_TOKENS]` of the random GPT-2-small-shaped model, and the tokens."""
    from interp_widgets.compute.core.hooks import activations_at

    model = gpt2_small_shaped(device)
    ids, tokens = gpt2_prompt(model, GPT2_TOKENS)
    pattern = activations_at(model, ids[None].to(model.cfg.device), f"blocks.{GPT2_LAYER}.attn.hook_pattern")[0]
    return pattern.float().cpu(), tokens


def ours(attention, tokens):
    from interp_widgets.attention import attention_heads

    widget = attention_heads(attention, tokens)
    state, paths, buffers = _remove_buffers(widget.get_state())
    esm = str(state.pop("_esm", ""))
    display, _ = widget._repr_mimebundle_()
    sizes = {
        "state JSON (without the front-end)": len(json.dumps(state).encode()),
        "front-end bundle": len(esm.encode()),
        "binary buffers (float16 lower triangles)": sum(len(memoryview(b).cast("B")) for b in buffers),
        "display: static HTML snapshot": len(display["text/html"].encode()),
        "display: plain text + widget reference": len(json.dumps({k: v for k, v in display.items() if k != "text/html"}).encode()),
    }
    return sizes, (state, paths, [bytes(memoryview(b).cast("B")) for b in buffers])


def circuitsvis_view(attention, tokens):
    import circuitsvis
    from circuitsvis.attention import attention_heads

    rendered = attention_heads(attention, tokens)
    bundle = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"  # the same code as the CDN's esm.js
    sizes = {
        "HTML, online (CDN) form": len(rendered.cdn_src.encode()),
        "JavaScript fetched from the CDN (size of its bundle)": bundle.stat().st_size if bundle.exists() else 0,
        "HTML, offline form (bundle inlined)": len(rendered.local_src.encode()),
    }
    return sizes, rendered.local_src


HARNESS = """<!doctype html><html><body><div id="view"></div><script type="module">
import widget from "./attention.js";
const state = await (await fetch("state.json")).json();
const raw = await (await fetch("buffers.bin")).arrayBuffer();
let offset = 0;
state.__paths.forEach((path, i) => {
  const length = state.__lengths[i];
  let node = state;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]] = new DataView(raw, offset, length);
  offset += length;
});
const model = { get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {}, on() {}, off() {}, send() {} };
widget.render({ model, el: document.getElementById("view") });
requestAnimationFrame(() => requestAnimationFrame(() => { window.__painted = performance.now(); }));
</script></body></html>"""


CIRCUITSVIS_CAP_S = 180  # CircuitsVis gets one try, this long, to paint (it can take minutes at this size)


def paint_times(our_payload, their_html: str, repeats: int = 3) -> tuple[float, float | None]:
    """ms from navigation start to painted view: (ours, median of `repeats`; CircuitsVis', one try, None if over the cap)."""
    from playwright.sync_api import sync_playwright

    state, paths, buffers = our_payload
    folder = Path(tempfile.mkdtemp(prefix="bench_attention_"))
    (folder / "attention.js").write_bytes((Path(__file__).parents[1] / "interp_widgets" / "static" / "attention.js").read_bytes())
    (folder / "state.json").write_text(json.dumps({**state, "__paths": paths, "__lengths": [len(b) for b in buffers]}))
    (folder / "buffers.bin").write_bytes(b"".join(buffers))
    (folder / "index.html").write_text(HARNESS)
    (folder / "circuitsvis.html").write_text(f"<!doctype html><html><body>{their_html}</body></html>")
    ours_ms: list[float] = []
    theirs_ms: float | None = None
    try:
        with served(folder) as base, sync_playwright() as playwright:
            browser = launch(playwright)
            for _ in range(repeats):
                page = browser.new_page()
                page.goto(f"{base}/index.html")
                page.wait_for_function("() => window.__painted", timeout=120_000)
                assert page.locator(".iw-thumb").count() == N_HEADS
                ours_ms.append(page.evaluate("() => window.__painted"))
                page.close()
            page = browser.new_page()
            try:
                page.goto((folder / "circuitsvis.html").as_uri(), timeout=CIRCUITSVIS_CAP_S * 1000)
                page.wait_for_function("() => document.querySelectorAll('[id^=circuits-vis] canvas').length > 0", timeout=CIRCUITSVIS_CAP_S * 1000)
                theirs_ms = page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))")
            except Exception:  # noqa: BLE001 - a time-out is a result here
                theirs_ms = None
            browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return sorted(ours_ms)[len(ours_ms) // 2], theirs_ms


def gpt2_bytes(device: str) -> None:
    attention, tokens = gpt2_data(device)
    mine, _ = ours(attention, tokens)
    theirs, _ = circuitsvis_view(attention, tokens)
    total = sum(mine.values())
    print(f"{GPT2_LABEL}: layer {GPT2_LAYER}, {attention.shape[0]} heads x {GPT2_TOKENS} tokens: ours {total:,} B, "
          f"CircuitsVis CDN HTML {theirs['HTML, online (CDN) form']:,} B (offline {theirs['HTML, offline form (bundle inlined)']:,} B)")
    print(f"{GPT2_LABEL}: attention view bytes, {attention.shape[0]} heads x {GPT2_TOKENS} tokens, vs CircuitsVis: "
          f"{theirs['HTML, online (CDN) form'] / total:.1f}x (offline HTML {theirs['HTML, offline form (bundle inlined)'] / total:.1f}x)\n")


def main() -> None:
    args = options(__doc__)
    torch.set_num_threads(1)
    try:
        import circuitsvis  # noqa: F401
    except ImportError:
        sys.exit("needs circuitsvis: .venv/bin/pip install circuitsvis")
    gpt2_bytes(args.device)
    attention, tokens = data()
    mine, payload = ours(attention, tokens)
    theirs, their_html = circuitsvis_view(attention, tokens)
    total = sum(mine.values())
    print(f"{N_HEADS} heads x {N_TOKENS} tokens\n\ninterp-widgets AttentionView")
    for name, size in mine.items():
        print(f"  {name:<55} {size:>12,} B")
    print(f"  {'total':<55} {total:>12,} B\n\nCircuitsVis attention_heads")
    for name, size in theirs.items():
        print(f"  {name:<55} {size:>12,} B")
    ours_ms, theirs_ms = paint_times(payload, their_html)
    theirs_text = f"{theirs_ms:,.0f} ms ({theirs_ms / ours_ms:.1f}x ours)" if theirs_ms is not None else f"not painted within {CIRCUITSVIS_CAP_S} s"
    print(f"\ntime to first paint (headless Chromium): interp-widgets {ours_ms:,.0f} ms (median of 3), CircuitsVis {theirs_text}")
    online = theirs["HTML, online (CDN) form"] + theirs["JavaScript fetched from the CDN (size of its bundle)"]
    print(f"online, HTML + CDN JavaScript vs ours: {online / total:.1f}x")
    print(f"offline, inlined HTML vs ours: {theirs['HTML, offline form (bundle inlined)'] / total:.1f}x")
    print(f"attention view bytes vs CircuitsVis: {theirs['HTML, online (CDN) form'] / total:.1f}x")


if __name__ == "__main__":
    main()
