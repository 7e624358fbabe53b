"""Activation patching against transformer-lens' patching module (one full forward per patched cell).

Ours (`compute.patching.activation.patch`): many patched runs per batch, each starting from the target run's
cached residual stream at its layer and recomputing only from its position on. Both give the same
numbers (checked here to 1e-4). On the embedded model, one thread, logit-difference metric:

- the docstring pair (26 tokens), residual stream, denoising;
- the same pair, every head at every position (head_out_by_pos), denoising;
- a 96-token pair (a passage with one word changed near the start), residual stream, both
  directions: the headline, last line.

At GPT-2 small's shape (a random model, benchmarks/_shapes.py) the 96-token pair's residual
stream in both directions (--quick: 32 tokens). There transformer-lens' functions would take
thousands of full forwards (12 x 96 cells x 2 directions), so its per-cell step (one full forward of
the target with one hook that writes the source's activation, what `get_act_patch_resid_pre` runs
per cell) is timed on a random sample of cells and scaled to the grid; ours runs the whole grid and
its sampled cells are checked against the reference's values. The same on the path users take: random
Hugging Face models (GPT-2 small's, Pythia-160M's and SmolLM2-135M's shapes) saved with save_pretrained and
loaded with iw.load_model (target on GPT-2's: >= 10x; `--hf-only` runs these lines alone).

Run: .venv/bin/python benchmarks/bench_patching.py [--quick]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402

import interp_widgets as iw  # noqa: E402
from interp_widgets.compute.patching import tasks  # noqa: E402
from interp_widgets.compute.patching.activation import LogitDiff, patch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, HF_PREFIX, HF_SHAPES, gpt2_small_shaped, hf_options, hf_shaped, options  # noqa: E402

ORACLE = {"resid_pre": "get_act_patch_resid_pre", "head_out_by_pos": "get_act_patch_attn_head_out_by_pos"}
TEXT = ("It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith, his chin nuzzled into his "
        "breast in an effort to escape the vile wind, slipped quickly through the glass doors of Victory Mansions, though "
        "not quickly enough to prevent a swirl of gritty dust from entering along with him. The hallway smelt of boiled "
        "cabbage and old rag mats.")


def theirs(model, clean, corrupt, metric, component, direction):
    from transformer_lens import patching

    source, target = (clean, corrupt) if direction == "denoise" else (corrupt, clean)
    with torch.inference_mode():
        _, cache = model.run_with_cache(source)
    return getattr(patching, ORACLE[component])(model, target, cache, lambda logits: metric(logits[:, -1])[0])


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def setting(model, clean, corrupt, metric, component, directions):
    ours_s = ref_s = 0.0
    for direction in directions:
        t, ours = timed(lambda: patch(model, clean, corrupt, metric, component, direction))
        ours_s += t
        t, ref = timed(lambda: theirs(model, clean, corrupt, metric, component, direction))
        ref_s += t
        diff = float((ours.values - ref.float()).abs().max())
        assert diff < 1e-4, diff
    return ours_s, ref_s


def sampled_reference(model, clean, corrupt, metric, direction, n_samples, seed=0):
    """transformer-lens' per-cell step on a random sample of resid_pre cells: `(seconds per cell, {cell: value})`."""
    source, target = (clean, corrupt) if direction == "denoise" else (corrupt, clean)
    n_layers, n_pos = model.cfg.n_layers, target.shape[-1]
    with torch.inference_mode():
        _, cache = model.run_with_cache(source[None])
    cells = torch.randperm(n_layers * n_pos, generator=torch.Generator().manual_seed(seed))[:n_samples]
    values = {}
    start = time.perf_counter()
    for flat in cells.tolist():
        layer, pos = divmod(flat, n_pos)
        name = f"blocks.{layer}.hook_resid_pre"

        def write(activation, hook, name=name, pos=pos):
            activation[:, pos] = cache[name][:, pos]
            return activation

        with torch.inference_mode():
            logits = model.run_with_hooks(target[None], fwd_hooks=[(name, write)])
        values[(layer, pos)] = float(metric(logits[:, -1])[0])
    return (time.perf_counter() - start) / len(cells), values


def gpt2_shape(n_tokens: int, n_samples: int, model=None, label: str = GPT2_LABEL) -> float:
    model = model if model is not None else gpt2_small_shaped()
    clean = model.to_tokens(TEXT)[0, :n_tokens]
    corrupt = clean.clone()
    corrupt[5] = (int(clean[5]) + 1) % 512
    metric = LogitDiff(int(clean[-1]), int(clean[-2]))
    patch(model, clean[:16], corrupt[:16], metric, "resid_pre")  # warm-up and the fast path's one-time check
    ours_s = ref_s = 0.0
    for direction in ("denoise", "noise"):
        t, ours = timed(lambda: patch(model, clean, corrupt, metric, "resid_pre", direction))
        ours_s += t
        per_cell, sampled = sampled_reference(model, clean, corrupt, metric, direction, n_samples)
        ref_s += per_cell * model.cfg.n_layers * n_tokens
        diff = max(abs(float(ours.values[cell]) - value) for cell, value in sampled.items())
        assert diff < 1e-3, diff
    ratio = ref_s / ours_s
    print(f"{label}, {n_tokens} tokens, resid_pre, both directions: ours {ours_s:7.1f} s   transformer-lens "
          f"{ref_s:7.1f} s (per-cell step timed on {n_samples} random cells per direction, scaled to the grid)   {ratio:5.1f}x")
    return ratio


def hf_path(n_tokens: int, n_samples: int, shapes: list[str]) -> None:
    """The path users take: random Hugging Face models saved and loaded with iw.load_model (benchmarks/_shapes.py)."""
    for name in shapes:
        model, _ = hf_shaped(name)
        ratio = gpt2_shape(n_tokens, n_samples, model, f"{HF_PREFIX} {name} (detail)")
        print(f"{HF_PREFIX} {name}: activation patching, {n_tokens} tokens, resid_pre, both directions vs transformer-lens "
              f"patching (sampled, scaled): {ratio:.1f}x", flush=True)
        del model


def main() -> None:
    args = options(__doc__, hf_options)
    torch.set_num_threads(1)
    n_gpt2 = 32 if args.quick else 96
    if args.hf_only:
        hf_path(n_gpt2, 8 if args.quick else 24, list(HF_SHAPES) if args.hf_all else list(HF_SHAPES)[:1])
        return
    gpt2 = gpt2_shape(n_gpt2, 8 if args.quick else 24)
    hf_path(n_gpt2, 8 if args.quick else 24, list(HF_SHAPES))
    model = iw.load_model()
    model.eval()
    pair = tasks.docstring_pair(model)
    clean_d, corrupt_d = model.to_tokens(pair.clean), model.to_tokens(pair.corrupt)
    metric_d = LogitDiff(*[model.tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in pair.metric])
    long_clean = model.to_tokens(TEXT)[:, :96]
    long_corrupt = long_clean.clone()
    long_corrupt[0, 5] = model.tokenizer(" May", add_special_tokens=False)["input_ids"][0]
    metric_l = LogitDiff(int(long_clean[0, -1]), int(long_clean[0, -2]))
    patch(model, clean_d, corrupt_d, metric_d, "resid_pre")  # warm-up (and the one-time check of the fast path)
    settings = [
        ("docstring pair (26 tokens), resid_pre", clean_d, corrupt_d, metric_d, "resid_pre", ["denoise"]),
        ("docstring pair, every head at every position", clean_d, corrupt_d, metric_d, "head_out_by_pos", ["denoise"]),
        ("96 tokens, resid_pre, both directions", long_clean, long_corrupt, metric_l, "resid_pre", ["denoise", "noise"]),
    ]
    ratio = 0.0
    for name, clean, corrupt, metric, component, directions in settings:
        ours_s, ref_s = setting(model, clean[0], corrupt[0], metric, component, directions)
        ratio = ref_s / ours_s
        print(f"{name:<48} ours {ours_s * 1000:8.1f} ms   transformer-lens {ref_s * 1000:8.1f} ms   {ratio:5.1f}x")
    print(f"{GPT2_LABEL}: activation patching, {n_gpt2} tokens, resid_pre, both directions vs transformer-lens patching "
          f"(sampled, scaled): {gpt2:.1f}x")
    print(f"activation patching, 96 tokens, resid_pre, both directions vs transformer-lens patching: {ratio:.1f}x")


if __name__ == "__main__":
    main()
