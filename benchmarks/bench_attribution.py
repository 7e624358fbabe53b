"""Attribution graphs: our batched linear backward pass against one autograd backward per target node.

Ours (`compute.attribution.attribute`): the replacement model's backward pass written out, many
targets per pass, each pass cut to the batch's highest layer and last position. Reference
(`compute.attribution.reference.direct_effects_one_by_one`): the real model with hooks that freeze
attention patterns and LayerNorm scales and cut the MLPs, one `torch.autograd.grad` per target
(feature or logit), after one forward pass. Both give the same matrix (checked here to 1e-4).
Peak memory: the rise of the process's peak resident set (Linux VmHWM, reset before each run).

- a 32-token prompt on each embedded model with its shipped transcoders, every active feature;
- a GPT-2-small-shaped model (12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50257) with
  random weights from a config and random TopK transcoders (3072 features, k 8), 32 tokens, the
  500 most influential features (--quick: 200), printed on the "GPT-2-small-shaped random" line. Here both sides do nearly the same arithmetic (each target needs
  its gradient at every lower layer and position, d_model^2 per position and layer), so the gain
  is what batching, stopping at each batch's last position and taking the first attention layer
  from one position save; on the small embedded models the per-backward overhead dominates the
  reference.
- QK attribution (`benchmarks/_qk.py`): every head of every layer at the (query, key) positions of the
  graph's strongest edges between two positions, on a 64-token prompt of the 6-layer model
  (--quick: 3 edges, else 10), timed against one graph computation on the same prompt and against
  one autograd backward per (head, query, key) through the frozen model (which gives each node's
  marginal part of the score only; the marginals agree, checked here).
- circuit-tracer 0.5.0 itself where its environment is built (`bash scripts/setup-circuit-tracer.sh --full`;
  benchmarks/_circuit_tracer.py): its `attribute` timed against ours on the same three cases (BOS held on
  both sides), edges compared with nodes matched by (layer, position, feature), one line each.
The headline (last line): the 6-layer embedded model, 32 tokens, every active feature.

Run: .venv/bin/python benchmarks/bench_attribution.py [--quick] [--device cuda]
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
warnings.filterwarnings("ignore")

import torch  # noqa: E402

import interp_widgets as iw  # noqa: E402
from interp_widgets.compute.attribution.attribute import attribute  # noqa: E402
from interp_widgets.compute.attribution.reference import direct_effects_one_by_one  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _qk import qk_figure  # noqa: E402
from _shapes import GPT2_LABEL, GPT2_SMALL, options  # noqa: E402

PROMPT = ("It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith, his chin nuzzled into his "
          "breast in an effort to escape the vile wind, slipped quickly through")


def peak_rss_rise(function):
    """(seconds, result, MiB): wall time, result, and how far the peak resident set rose above the start."""
    def status(key: str) -> int:
        return int(re.search(rf"{key}:\s+(\d+)", open("/proc/self/status").read()).group(1))

    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    before = status("VmRSS")
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    return seconds, result, max(0, status("VmHWM") - before) / 1024


def compare(name: str, model, transcoders, tokens, max_features=None) -> float:
    attribute(model, transcoders, tokens[:8], max_features=max_features)  # warm-up
    ours_s, graph, ours_mb = peak_rss_rise(lambda: attribute(model, transcoders, tokens, max_features=max_features))
    ref_s, reference, ref_mb = peak_rss_rise(lambda: direct_effects_one_by_one(model, transcoders, graph))
    rows = list(range(graph.n_features)) + list(range(graph.logit_offset, graph.n_nodes))
    diff = float((graph.adjacency[rows] - reference[rows]).abs().max())
    assert diff < 1e-4, diff
    ratio = ref_s / ours_s
    print(f"{name:<34} {graph.n_features:5d}/{graph.n_active_features:5d} features {len(graph.logit_tokens):2d} logits | "
          f"ours {ours_s:7.2f} s {ours_mb:6.0f} MiB | one backward per node {ref_s:7.2f} s {ref_mb:6.0f} MiB | {ratio:5.1f}x (max diff {diff:.1e})",
          flush=True)
    return ratio


def gpt2_shaped(device: str):
    from interp_widgets.models.bridge import boot_from_config
    from interp_widgets.models.toy import toy_tokenizer
    from interp_widgets.sae.transcoder import Transcoder

    model = boot_from_config({**GPT2_SMALL, "act_fn": "gelu_new", "seed": 0}, toy_tokenizer(), device=device)
    transcoders = []
    for layer in range(12):
        transcoder = Transcoder(768, 3072, k=8, layer=layer, seed=layer)
        with torch.no_grad():
            transcoder.b_dec.normal_(0, 0.02)
        transcoders.append(transcoder.eval().to(device))
    return model, transcoders


def against_circuit_tracer(args, gpt2_model, gpt2_transcoders, gpt2_tokens, gpt2_features) -> None:
    """circuit-tracer 0.5.0's own `attribute` on the same model, transcoders and prompt (its environment, its
    transformer-lens replacement model built from our config and weights, our transcoders in its classes)."""
    import _circuit_tracer

    missing = _circuit_tracer.available()
    if missing or args.device != "cpu":
        print(f"against circuit-tracer: skipped ({missing or 'CPU only'})")
        return
    cases = [(name, iw.load_model(name), iw.load_transcoders(name), None) for name in ("embedded", "embedded-6l")]
    cases.append((GPT2_LABEL, gpt2_model, gpt2_transcoders, gpt2_features))
    for name, model, transcoders, max_features in cases:
        tokens = gpt2_tokens if name == GPT2_LABEL else model.to_tokens(PROMPT)[0, :32]
        # circuit-tracer prepends BOS to a prompt without one (and fails where BOS is token 0): give both sides BOS
        tokens = torch.cat([torch.tensor([model.tokenizer.bos_token_id]), tokens[1:]])
        attribute(model, transcoders, tokens[:8], max_features=max_features)  # warm-up, as circuit-tracer's run has
        ours_s, graph, _ = peak_rss_rise(lambda: attribute(model, transcoders, tokens, max_features=max_features))
        theirs = _circuit_tracer.run(model, transcoders, tokens, max_features)
        learned = model.cfg.positional_embedding_type == "standard"
        agree = _circuit_tracer.agreement(graph, theirs, learned)
        assert theirs["logit_gap"] < 1e-3 and agree["same_logits"], (theirs["logit_gap"], agree)
        print(f"{name + ', 32 tokens':<34} {graph.n_features:5d} features | ours {ours_s:7.2f} s | circuit-tracer 0.5.0 {theirs['seconds']:7.2f} s | "
              f"{theirs['seconds'] / ours_s:5.1f}x | edges agree to {agree['relative']:.1e} of a row's norm, "
              f"{agree['feature_overlap']:.0%} of its features ours too" + (" (token columns left out: ours add the learned position)" if learned else ""),
              flush=True)


def main() -> None:
    args = options(__doc__)
    torch.set_num_threads(1)
    ratios = {}
    for name in ("embedded", "embedded-6l"):
        model = iw.load_model(name, device=args.device)
        tokens = model.to_tokens(PROMPT)[0, :32]
        ratios[name] = compare(f"{name}, 32 tokens, all features", model, iw.load_transcoders(name, device=args.device), tokens)
    model, transcoders = gpt2_shaped(args.device)
    tokens = torch.randint(0, 50257, (32,), generator=torch.Generator().manual_seed(0))
    features = 200 if args.quick else 500
    ratio = compare("GPT-2-shaped random, 32 tokens", model, transcoders, tokens, max_features=features)
    print(f"{GPT2_LABEL}: attribution graph, 32 tokens, random TopK transcoders (k 8), {features} most influential features: "
          f"batched vs one backward per node {ratio:.1f}x")
    against_circuit_tracer(args, model, transcoders, tokens, features)
    model = iw.load_model("embedded-6l", device=args.device)
    qk = qk_figure(model, iw.load_transcoders("embedded-6l", device=args.device), model.to_tokens(PROMPT * 2)[0, :64], 3 if args.quick else 10)
    assert qk["max_diff"] < 1e-4, qk
    print(f"QK attribution, embedded-6l, 64 tokens: every head at the {qk['edges']} strongest attention edges ({qk['calls']} scores) "
          f"{qk['ours_s']:.2f} s = {qk['ours_s'] / qk['graph_s']:.2f}x one graph ({qk['graph_s']:.2f} s); one autograd backward per "
          f"(head, query, key) {qk['reference_s']:.2f} s: {qk['reference_s'] / qk['ours_s']:.1f}x (marginals agree to {qk['max_diff']:.1e})")
    print(f"attribution graph, embedded-6l, 32 tokens, every feature: batched vs one backward per node {ratios['embedded-6l']:.1f}x")


if __name__ == "__main__":
    main()
