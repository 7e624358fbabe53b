"""Feature dashboards: ours (an activation index, then any feature from it) against SAEDashboard itself.

SAEDashboard (the `sae-dashboard` package, 0.8.0) runs in its own environment, `.venv-saedashboard`
(`scripts/setup-saedashboard.sh`, called here when it is missing): it pins transformer-lens < 3 and
transformers < 4.57. `_saedashboard_probe.py` rebuilds our model there as a `HookedSAETransformer`
from the same weights and loads the same SAE directory; before timing, this script checks that its
activations at the SAE's hook equal ours (to 1e-4) on the same tokens. SAEDashboard's `SaeVisRunner`
takes features in batches of 256 (its default): each batch is a pass of the model over every token
(minibatches of 64 sequences), the batch's codes kept dense, then per feature its tables, histograms,
top activations and quantile groups. Timed: a run for one feature (its first dashboard) and a run for
256 features (its per-feature time = that run / 256, the best case for it).

Ours: `build_index` (one pass, every nonzero code kept by feature), then `feature_dashboard` per
feature from the index (with the logit lens, as the widget shows it; no model run). Targets (issue
27): a later feature >= 10x faster than SAEDashboard's per-feature time and >= 50x faster than one
bare forward pass over the tokens; building the index <= 2x that bare pass. Each side runs in its own
process; peak memory is that process's `ru_maxrss` (model, SAE and tokens included).

Shapes: the embedded 2-layer model with its 4x SAE (1,024 features, blocks.0.hook_resid_post) over
1.25 M tokens (its held-out split repeated; --quick 262 k), and a random GPT-2-small-shaped model with
a random TopK SAE (d_sae 6,144, L0 32) at blocks.6.hook_resid_post over random ids (32 k tokens;
--quick 8 k). One torch thread everywhere. Headline (the embedded shape) on the last line.

Run: .venv/bin/python benchmarks/bench_dashboard.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, options  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAEDASHBOARD_PYTHON = ROOT / ".venv-saedashboard" / "bin" / "python"
EMBEDDED = ROOT / "interp_widgets" / "models" / "embedded"

PROBE = r"""
import json, os, resource, statistics, sys, time
os.environ["TQDM_DISABLE"] = "1"
sys.path.insert(0, sys.argv[1])
import numpy as np
import torch
torch.set_num_threads(1)
import interp_widgets as iw
from interp_widgets.compute.features.dashboard import feature_dashboard
from interp_widgets.compute.features.index import build_index
from interp_widgets.compute.core.hooks import activations_at
shape, how, work = sys.argv[2], sys.argv[3], sys.argv[4]
context = 128
if shape == "embedded":
    model, sae = iw.load_model(), iw.load_sae("4x")
else:
    from _shapes import gpt2_small_shaped
    from interp_widgets.sae.model import TopKSAE
    model = gpt2_small_shaped()
    sae = TopKSAE(768, 6144, k=32, hook_name="blocks.6.hook_resid_post", seed=0)
hook = sae.cfg.hook_name
if how == "prepare":  # the tokens (and, for the random shape, the model and SAE) both tools read
    n_tokens = int(sys.argv[5])
    if shape == "embedded":
        held_out = iw.models.validation_tokens(context, bos=model.tokenizer.bos_token_id)
        tokens = held_out.repeat((n_tokens // held_out.numel()) + 1, 1)[: n_tokens // context]
    else:
        tokens = torch.randint(0, 50257, (n_tokens // context, context), generator=torch.Generator().manual_seed(0))
        tokens[:, 0] = model.tokenizer.bos_token_id
        from _shapes import save_native
        from interp_widgets.sae.io import save_sae
        save_native(model, f"{work}/model", torch.float32)
        save_sae(sae, f"{work}/sae")
    np.save(f"{work}/tokens.npy", tokens.numpy())
    with torch.inference_mode():
        np.save(f"{work}/ours_acts.npy", activations_at(model, tokens[:4], hook).numpy())
    print(json.dumps({"tokens": tokens.numel()}))
    sys.exit(0)
tokens = torch.from_numpy(np.load(f"{work}/tokens.npy"))
out = {"tokens": tokens.numel()}
start = time.perf_counter()
if how == "bare":
    with torch.inference_mode():
        for chunk in tokens.split(64):
            model(chunk)
    out["pass_s"] = time.perf_counter() - start
else:
    index = build_index(model, sae, tokens=tokens, max_tokens=None, batch=64, progress=False)
    out["index_s"] = time.perf_counter() - start
    firing = (index.indptr.diff() > 0).nonzero()[:, 0]
    features = firing[torch.randperm(firing.numel(), generator=torch.Generator().manual_seed(0))].tolist()
    feature_dashboard(index, features[0], model=model, sae=sae)
    out["first_s"] = time.perf_counter() - start
    times = []
    for f in features[1:21]:
        t = time.perf_counter(); feature_dashboard(index, f, model=model, sae=sae); times.append(time.perf_counter() - t)
    out["later_s"] = statistics.median(times)
    out["index_mb"] = index.nbytes / 2**20
    out["features"] = features[:256]
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def ours(shape: str, how: str, work: str, *extra: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(Path(__file__).parent), shape, how, work, *extra],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"our {how} probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def saedashboard(model_dir: Path, sae_dir: Path, work: str, features: list[int], check: bool = False) -> dict:
    command = [str(SAEDASHBOARD_PYTHON), str(Path(__file__).parent / "_saedashboard_probe.py"), str(model_dir), str(sae_dir),
               f"{work}/tokens.npy", ",".join(map(str, features))] + (["--check", f"{work}/their_acts.npy"] if check else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"SAEDashboard's probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(label: str, shape: str, n_tokens: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        ours(shape, "prepare", work, str(n_tokens))
        model_dir, sae_dir = (EMBEDDED, EMBEDDED / "saes" / "4x") if shape == "embedded" else (Path(work) / "model", Path(work) / "sae")
        bare, mine = ours(shape, "bare", work), ours(shape, "index", work)
        first = saedashboard(model_dir, sae_dir, work, mine["features"][:1], check=True)
        difference = float(np.abs(np.load(f"{work}/ours_acts.npy") - np.load(f"{work}/their_acts.npy")).max())
        if difference > 1e-4:
            raise SystemExit(f"{label}: SAEDashboard's rebuilt model differs from ours by {difference:.2e} at the SAE's hook")
        batch = saedashboard(model_dir, sae_dir, work, mine["features"][:256])
    print(f"{label}: {mine['tokens']:,} tokens (same model in both tools: activations differ by at most {difference:.1e})")
    print(f"  one bare forward pass:       {bare['pass_s']:8.2f} s   peak {bare['peak_mb']:6.0f} MB")
    print(f"  ours: index built in         {mine['index_s']:8.2f} s   ({mine['index_s'] / bare['pass_s']:.2f}x the bare pass; target <= 2x), "
          f"index {mine['index_mb']:.0f} MB, peak {mine['peak_mb']:6.0f} MB")
    print(f"  ours: first dashboard after  {mine['first_s']:8.2f} s; each later feature {mine['later_s'] * 1000:8.2f} ms (median of 20)")
    print(f"  SAEDashboard: first dashboard after {first['run_s']:8.2f} s (one feature), peak {first['peak_mb']:6.0f} MB; "
          f"{batch['n_features']} features in {batch['run_s']:8.2f} s = {batch['per_feature_s'] * 1000:8.2f} ms per feature, "
          f"peak {batch['peak_mb']:6.0f} MB")
    ratios = {"tool": batch["per_feature_s"] / mine["later_s"], "pass": bare["pass_s"] / mine["later_s"],
              "index": mine["index_s"] / bare["pass_s"], "first": first["run_s"] / mine["first_s"],
              "memory": batch["peak_mb"] / mine["peak_mb"]}
    print(f"  later feature: {ratios['tool']:.0f}x faster than SAEDashboard's per-feature time (target 10x), "
          f"{ratios['pass']:.0f}x faster than a bare pass (target 50x); first dashboard {ratios['first']:.1f}x sooner; "
          f"peak memory {mine['peak_mb']:.0f} MB vs SAEDashboard's {batch['peak_mb']:.0f} MB")
    return ratios


def main() -> None:
    args = options(__doc__)
    if not SAEDASHBOARD_PYTHON.exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "setup-saedashboard.sh")], check=True)
    gpt2 = measure(GPT2_LABEL, "gpt2", 8192 if args.quick else 32_768)
    embedded = measure("embedded 2-layer, 4x SAE", "embedded", 262_144 if args.quick else 1_250_000)
    for label, r in ((GPT2_LABEL, gpt2), ("embedded", embedded)):
        print(f"{label}: dashboard of a later feature {r['tool']:.0f}x SAEDashboard's per-feature time, {r['pass']:.0f}x a bare "
              f"pass; index build {r['index']:.2f}x a bare pass; peak memory {1 / r['memory']:.2f}x SAEDashboard's")


if __name__ == "__main__":
    main()
