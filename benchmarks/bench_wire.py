"""Bytes that reach the browser for one token-highlight view: interp-widgets against CircuitsVis.

Data: 2,048 tokens x 8 series of float32 values (e.g. 8 SAE features over a long prompt).

- interp-widgets: the widget's state message (JSON, the bundled front-end included, plus the
  values as one binary buffer) and its display message (widget reference, plain-text form and the
  static HTML snapshot).
- CircuitsVis: the HTML `circuitsvis.tokens.colored_tokens_multi` produces. Online it is a page
  with the data as JSON text that imports its JavaScript from a CDN (counted separately);
  offline it inlines that JavaScript into every output.

The headline compares our total against the smallest CircuitsVis figure (CDN HTML, without the
CDN download), which is the comparison least favourable to us.

GPT-2 small's shape (the "GPT-2-small-shaped random" line): 1,024 tokens (GPT-2's whole context)
x 8 features of a random TopK SAE (d_sae 6,144, L0 32) at blocks.6.hook_resid_post of the random
GPT-2-small-shaped model (`_shapes.gpt2_feature_values`), the prompt being the package's toy corpus
repeated. What differs from the headline's data: the values are an SAE's, zero on ~99 % of tokens,
which CircuitsVis writes as a one-character "0" and we send sparse (the nonzero float32 values and
their int32 positions, `widgets/_wire.py`); the token strings are the toy tokenizer's (no GPT-2
vocabulary offline), a few bytes each either way. What is left of ours there is the front-end bundle
(once per widget) and the static HTML snapshot that renders where no kernel runs (nbviewer, GitHub),
which CircuitsVis' figure does not have: its HTML draws nothing until its CDN script arrives.

Run: .venv/bin/python benchmarks/bench_wire.py [--device cuda]  (needs `pip install circuitsvis`; --quick changes nothing)
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import torch
from ipywidgets.widgets.widget import _remove_buffers

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, gpt2_feature_values, options  # noqa: E402

N_TOKENS, N_SERIES = 2048, 8


def data() -> tuple[list[str], torch.Tensor, list[str]]:
    from interp_widgets.models import toy_tokenizer

    tokenizer = toy_tokenizer()
    vocab = sorted(tokenizer.get_vocab())
    rng = random.Random(0)
    ids = [tokenizer.convert_tokens_to_ids(rng.choice(vocab)) for _ in range(N_TOKENS)]
    tokens = [tokenizer.decode([i]) for i in ids]
    values = torch.randn(N_TOKENS, N_SERIES, generator=torch.Generator().manual_seed(0))
    return tokens, values, [f"feature {i}" for i in range(N_SERIES)]


def ours(tokens, values, labels) -> dict[str, int]:
    from interp_widgets.tokens import colored_tokens_multi

    widget = colored_tokens_multi(tokens, values, labels)
    state, _paths, buffers = _remove_buffers(widget.get_state())
    esm = len(str(state.pop("_esm", "")).encode())
    display, _metadata = widget._repr_mimebundle_()
    return {
        "state JSON (without the front-end)": len(json.dumps(state).encode()),
        "front-end bundle (in the state, once per widget)": esm,
        "binary buffers": sum(len(memoryview(b).cast("B")) for b in buffers),
        "display: static HTML snapshot": len(display["text/html"].encode()),
        "display: plain text + widget reference": len(json.dumps({k: v for k, v in display.items() if k != "text/html"}).encode()),
    }


def circuitsvis(tokens, values, labels) -> dict[str, int]:
    from circuitsvis.tokens import colored_tokens_multi
    import circuitsvis

    rendered = colored_tokens_multi(tokens, values, labels)
    bundle = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
    return {
        "HTML, online (CDN) form": len(rendered.cdn_src.encode()),
        "JavaScript fetched from the CDN (size of its bundle)": bundle.stat().st_size if bundle.exists() else 0,
        "HTML, offline form (bundle inlined)": len(rendered.local_src.encode()),
    }


def compare(title: str, tokens, values, labels) -> dict[str, float]:
    """Prints both sides' bytes; returns the ratios (CircuitsVis over our total)."""
    mine = ours(tokens, values, labels)
    theirs = circuitsvis(tokens, values, labels)
    total = sum(mine.values())
    print(f"{title}\n\ninterp-widgets")
    for name, size in mine.items():
        print(f"  {name:<55} {size:>12,} B")
    print(f"  {'total':<55} {total:>12,} B\n\nCircuitsVis colored_tokens_multi")
    for name, size in theirs.items():
        print(f"  {name:<55} {size:>12,} B")
    online = theirs["HTML, online (CDN) form"] + theirs["JavaScript fetched from the CDN (size of its bundle)"]
    ratios = {"online": online / total, "offline": theirs["HTML, offline form (bundle inlined)"] / total,
              "cdn": theirs["HTML, online (CDN) form"] / total}
    print(f"\nonline, HTML + CDN JavaScript vs ours: {ratios['online']:.1f}x")
    print(f"offline, inlined HTML vs ours: {ratios['offline']:.1f}x\n")
    return ratios


def main() -> None:
    args = options(__doc__)
    torch.set_num_threads(1)
    gpt2_tokens, gpt2_values, about = gpt2_feature_values(1024, N_SERIES, device=args.device)
    gpt2 = compare(f"{GPT2_LABEL}: 1,024 tokens x {N_SERIES} features, {about}", gpt2_tokens, gpt2_values,
                   [f"feature {i}" for i in range(N_SERIES)])
    tokens, values, labels = data()
    embedded = compare(f"{N_TOKENS} tokens x {N_SERIES} series (random normal values)", tokens, values, labels)
    print(f"{GPT2_LABEL}: token-highlight bytes, 1,024 tokens x {N_SERIES} sparse SAE features, circuitsvis HTML vs interp-widgets: "
          f"{gpt2['cdn']:.1f}x (with its CDN script {gpt2['online']:.1f}x)")
    print(f"token-highlight bytes to the browser, circuitsvis HTML vs interp-widgets: {embedded['cdn']:.1f}x")


if __name__ == "__main__":
    main()
