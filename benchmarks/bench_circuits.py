"""Circuit discovery: every edge by EAP against exact patching edge by edge, and against transformer-lens 4.3's
`attribution_patch(..., granularity="edge")` on the same edges.

- Embedded 6-layer model, docstring pairs, logit difference: EAP scores all 3,628 edges (one clean run, one corrupt
  run, one backward pass) against exact patching one edge per forward pass (what ACDC-style verification runs: the
  receiver's input rebuilt with the sender's clean value), timed on a random sample of edges and scaled to all of them;
  the sample's exact effects are printed beside EAP's estimates (their correlation). Target >= 100x: the headline, last.
- The Hugging Face path at GPT-2 small's shape (a random GPT2LMHeadModel saved with save_pretrained, loaded with
  iw.load_model(path); 32,491 edges): ours per position against transformer-lens' attribution_patch on the same
  per-position edges, the same scores (checked here), target >= 1x; and the time for every edge summed over positions.

Run: .venv/bin/python benchmarks/bench_circuits.py [--quick]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402

import interp_widgets as iw  # noqa: E402
from interp_widgets.compute import circuits  # noqa: E402
from interp_widgets.compute.patching import tasks  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import HF_GPT2, HF_PREFIX, hf_shaped, options  # noqa: E402


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def embedded_lines(n_pairs: int, n_sample: int) -> float:
    model = iw.load_model("embedded-6l")
    pairs = [tasks.docstring_pair(model, seed=seed) for seed in range(n_pairs)]
    circuits.edge_attribution(model, pairs)  # warm up
    scores, ours_s = timed(lambda: circuits.edge_attribution(model, pairs))
    run = circuits.prepare(model, pairs)
    edges = scores.graph.valid.nonzero()
    sample = edges[torch.randperm(len(edges), generator=torch.Generator().manual_seed(0))[:n_sample]]
    rows = len(pairs)  # one edge per forward pass: the edge-by-edge reference
    exact, sample_s = timed(lambda: circuits.edge_effects(model, pairs, [tuple(e) for e in sample.tolist()], prepared=run, max_rows=rows))
    reference_s = sample_s / len(sample) * scores.graph.n_edges
    estimate = torch.tensor([float(scores.scores[s, r]) for s, r in sample.tolist()])
    correlation = float(torch.corrcoef(torch.stack([estimate, exact.float()]))[0, 1])
    print(f"embedded 6-layer model, {n_pairs} docstring pairs: EAP on all {scores.graph.n_edges:,} edges {ours_s:.2f} s; exact patching "
          f"edge by edge {sample_s:.1f} s for {len(sample)} edges, {reference_s:.0f} s scaled to all (EAP vs exact on the sample: "
          f"correlation {correlation:.3f})")
    return reference_s / ours_s


def hf_lines(n_tokens: int, n_pairs: int) -> None:
    from transformer_lens.tools.analysis.attribution_patching import EdgeAttributionConfig, attribution_patch

    model, _ = hf_shaped(HF_GPT2)
    generator = torch.Generator().manual_seed(0)
    clean = torch.randint(1, 500, (n_pairs, n_tokens), generator=generator)
    corrupt = clean.clone()
    corrupt[:, n_tokens // 2] = torch.randint(1, 500, (n_pairs,), generator=generator)
    pairs = [(c, k, 5, 7) for c, k in zip(clean, corrupt)]
    ours, ours_s = timed(lambda: circuits.edge_attribution(model, pairs, per_position=True))
    theirs, theirs_s = timed(lambda: attribution_patch(model, clean, corrupt, lambda logits: logits[0, -1, 5] - logits[0, -1, 7],
                                                       EdgeAttributionConfig(granularity="edge")).edge_scores)
    mine = ours.to_transformer_lens()
    keys = list(theirs)
    a, b = torch.tensor([mine[k] for k in keys]), torch.tensor([theirs[k] for k in keys])
    difference = float((a - b).abs().max() / b.abs().max())
    assert set(mine) == set(theirs) and difference < 1e-3, f"scores differ from transformer-lens' by {difference:.2g} of the largest"
    _, summed_s = timed(lambda: circuits.edge_attribution(model, pairs))
    print(f"{HF_PREFIX} {HF_GPT2}: every edge summed over positions ({ours.graph.n_edges:,} edges), {n_pairs} pairs x {n_tokens} "
          f"tokens: {summed_s:.2f} s")
    print(f"{HF_PREFIX} {HF_GPT2}: EAP on all {len(keys):,} per-position edges, {n_pairs} pairs x {n_tokens} tokens: ours {ours_s:.2f} s   "
          f"transformer-lens attribution_patch {theirs_s:.2f} s (same scores, max difference {difference:.1e} of the largest): "
          f"{theirs_s / ours_s:.1f}x")


def main() -> None:
    args = options(__doc__)
    torch.set_num_threads(1)
    hf_lines(n_tokens=8 if args.quick else 16, n_pairs=1 if args.quick else 2)
    ratio = embedded_lines(n_pairs=2 if args.quick else 4, n_sample=60 if args.quick else 300)
    print(f"circuit discovery: all edges of the embedded 6-layer model by EAP vs exact patching edge by edge: {ratio:.0f}x")


if __name__ == "__main__":
    main()
