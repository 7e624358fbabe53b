"""Feature dashboards: ours (an activation index, then any feature from it) against SAEDashboard's method.

SAEDashboard (the `sae-dashboard` package) could not run here: its release 0.8.0 pins
transformer-lens < 3 and transformers < 4.57, which conflict with both of this project's
environments (transformer-lens 4.x in .venv, 3.9 in .venv-saelens; a third one with
transformer-lens 2.x would also need the embedded model ported to HookedTransformer). So its method
is written plainly here, as its `SaeVisRunner` does it: features in batches of 256 (its
`minibatch_size_features` default); per batch, a pass of the model over every token in minibatches
of 64 sequences (stopping after the SAE's block), the batch's codes kept dense `[tokens, 256]`, then
per feature the top 20 activations, 10 quantile bins with examples and a 40-bin histogram. Its
first dashboard is ready after the first batch; each later feature costs that batch's time / 256.

Ours: `build_index` (one pass, every nonzero code kept by feature), then `feature_dashboard` per
feature from the index (no model run). Targets (issue 27): a later feature >= 10x faster than the
method's per-feature time and >= 50x faster than one bare forward pass over the tokens; building
the index <= 2x that bare pass. Each side runs in its own process (peak memory: `ru_maxrss`).

Shapes: the embedded 2-layer model with its 4x SAE over 1.25 M tokens (the held-out split 4 times;
--quick 262 k), and a random GPT-2-small-shaped model with a random TopK SAE (d_sae 6,144, L0 32)
at blocks.6.hook_resid_post over random ids (32 k tokens; --quick 8 k). One torch thread. Headline
(the embedded shape) on the last line.

Run: .venv/bin/python benchmarks/bench_dashboard.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, options  # noqa: E402

PROBE = r"""
import json, os, resource, statistics, sys, time
os.environ["TQDM_DISABLE"] = "1"
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
import interp_widgets as iw
from interp_widgets.compute.dashboard import feature_dashboard
from interp_widgets.compute.feature_index import build_index
from interp_widgets.compute.hooks import activations_at
shape, how, n_tokens = sys.argv[2], sys.argv[3], int(sys.argv[4])
context = 128
if shape == "embedded":
    model, sae = iw.load_model(), iw.load_sae("4x")
    held_out = iw.models.validation_tokens(context, bos=model.tokenizer.bos_token_id)
    tokens = held_out.repeat((n_tokens // held_out.numel()) + 1, 1)[: n_tokens // context]
else:
    from _shapes import gpt2_small_shaped
    from interp_widgets.sae.model import TopKSAE
    model = gpt2_small_shaped()
    sae = TopKSAE(768, 6144, k=32, hook_name="blocks.6.hook_resid_post", seed=0)
    tokens = torch.randint(0, 50257, (n_tokens // context, context), generator=torch.Generator().manual_seed(0))
    tokens[:, 0] = model.tokenizer.bos_token_id
hook = sae.cfg.hook_name
out = {"tokens": tokens.numel()}
start = time.perf_counter()
if how == "bare":
    with torch.inference_mode():
        for chunk in tokens.split(64):
            model(chunk)
    out["pass_s"] = time.perf_counter() - start
elif how == "ours":
    index = build_index(model, sae, tokens=tokens, max_tokens=None, batch=64, progress=False)
    out["index_s"] = time.perf_counter() - start
    firing = (index.indptr.diff() > 0).nonzero()[:, 0]
    features = firing[torch.randperm(firing.numel(), generator=torch.Generator().manual_seed(0))[:21]].tolist()
    feature_dashboard(index, features[0])
    out["first_s"] = time.perf_counter() - start
    times = []
    for f in features[1:]:
        t = time.perf_counter(); feature_dashboard(index, f); times.append(time.perf_counter() - t)
    out["later_s"] = statistics.median(times)
    out["index_mb"] = index.nbytes / 2**20
else:  # SAEDashboard's method, one batch of 256 features
    batch = torch.arange(256)
    codes = []
    with torch.inference_mode():
        for chunk in tokens.split(64):
            acts = activations_at(model, chunk, hook)
            codes.append(sae.encode(acts)[..., batch].reshape(-1, batch.numel()))
        codes = torch.cat(codes)  # [tokens, 256], dense, as SaeVisRunner keeps all_feat_acts
        for i in range(batch.numel()):
            acts = codes[:, i]
            top = acts.topk(20)
            peak = float(top.values[0])
            if peak > 0:
                edges = torch.linspace(0, peak, 11)
                which = torch.bucketize(acts, edges[1:-1])
                for b in range(10):
                    members = ((which == b) & (acts > 0)).nonzero()[:, 0]
                    members[torch.randperm(members.numel())[:5]]
                torch.histc(acts[acts > 0], bins=40, min=0, max=peak)
    out["batch_s"] = time.perf_counter() - start
    out["per_feature_s"] = out["batch_s"] / batch.numel()
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def probe(shape: str, how: str, n_tokens: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(Path(__file__).parent), shape, how, str(n_tokens)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(label: str, shape: str, n_tokens: int) -> dict[str, float]:
    bare, ours, theirs = (probe(shape, how, n_tokens) for how in ("bare", "ours", "method"))
    print(f"{label}: {ours['tokens']:,} tokens")
    print(f"  one bare forward pass:        {bare['pass_s']:8.2f} s   peak {bare['peak_mb']:6.0f} MB")
    print(f"  ours: index built in          {ours['index_s']:8.2f} s   ({ours['index_s'] / bare['pass_s']:.2f}x the bare pass; target <= 2x), "
          f"index {ours['index_mb']:.0f} MB, peak {ours['peak_mb']:6.0f} MB")
    print(f"  ours: first dashboard after   {ours['first_s']:8.2f} s; each later feature {ours['later_s'] * 1000:8.2f} ms (median of 20)")
    print(f"  SAEDashboard's method: first dashboard after {theirs['batch_s']:8.2f} s (a batch of 256 features), "
          f"per feature {theirs['per_feature_s'] * 1000:8.2f} ms, peak {theirs['peak_mb']:6.0f} MB")
    ratios = {"method": theirs["per_feature_s"] / ours["later_s"], "pass": bare["pass_s"] / ours["later_s"],
              "index": ours["index_s"] / bare["pass_s"]}
    print(f"  later feature: {ratios['method']:.0f}x faster than the method's per-feature time (target 10x), "
          f"{ratios['pass']:.0f}x faster than a bare pass (target 50x)")
    return ratios


def main() -> None:
    args = options(__doc__)
    gpt2 = measure(GPT2_LABEL, "gpt2", 8192 if args.quick else 32_768)
    embedded = measure("embedded 2-layer, 4x SAE", "embedded", 262_144 if args.quick else 1_250_000)
    for label, r in ((GPT2_LABEL, gpt2), ("embedded", embedded)):
        print(f"{label}: dashboard of a later feature {r['method']:.0f}x SAEDashboard's method per feature, {r['pass']:.0f}x a bare "
              f"pass; index build {r['index']:.2f}x a bare pass")


if __name__ == "__main__":
    main()
