"""Steered generation with a key/value cache against the plain loop that re-runs the whole sequence.

Ours (`compute.steering.steer.generate`): the unsteered and the steered run decoded together, one new
position per step through the cached decoder, then each run scored under the other. The
reference: for each run, the whole sequence through `run_with_hooks` at every step (the loop
the exactness tests use). Both greedy, 64 new tokens, the same tokens checked. One torch thread.

Models: the 2-layer and the 6-layer embedded models (an SAE feature steered), and a random model
of GPT-2-small's shape (12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50257; a random vector
steered; benchmarks/_shapes.py). Then memory over 200 generations (50 with --quick). Headline
(the embedded shape) on the last line.

Run: .venv/bin/python benchmarks/bench_steering.py [--quick] [--device cuda]
"""

from __future__ import annotations

import gc
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402

import interp_widgets as iw  # noqa: E402
from interp_widgets.compute.steering.steer import Steer, _prepare, generate  # noqa: E402
from _shapes import GPT2_LABEL, gpt2_small_shaped, options  # noqa: E402

PROMPT = "The old man walked down to the river and looked at the water, and"
NEW_TOKENS = 64


def rerun_loop(model, tokens, spec, n_tokens):
    """One run, greedy: the whole sequence with the steer's hook at every step."""
    hook_name, unit, strength = spec
    for _ in range(n_tokens):
        def add(activation, hook):
            return activation + strength * unit

        with torch.inference_mode():
            logits = model.run_with_hooks(tokens, fwd_hooks=[(hook_name, add)] if strength else [])
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return tokens[0, -n_tokens:].tolist()


def measure(name, model, steer):
    tokens = model.to_tokens(PROMPT)
    prepared = _prepare(model, steer)
    generate(model, PROMPT, [steer], max_new_tokens=4)  # warm up
    start = time.perf_counter()
    ours = generate(model, PROMPT, [steer], max_new_tokens=NEW_TOKENS)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    plain = rerun_loop(model, tokens, (prepared.site, prepared.unit, 0.0), NEW_TOKENS)
    steered = rerun_loop(model, tokens, (prepared.site, prepared.unit, steer.strength), NEW_TOKENS)
    theirs_s = time.perf_counter() - start
    assert ours.unsteered.ids == plain and ours.steered.ids == steered, f"{name}: the tokens differ"
    ratio = theirs_s / ours_s
    print(f"{name + ':':<28} {tokens.shape[1]}-token prompt, 2 runs x {NEW_TOKENS} tokens ({ours.engine}): "
          f"{2 * NEW_TOKENS / ours_s:.1f} tokens/s, rerun loop {2 * NEW_TOKENS / theirs_s:.1f} tokens/s, "
          f"{ratio:.1f}x, same tokens")
    return ratio


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def memory_over(model, steer, n: int) -> None:
    sizes = []
    for index in range(n):
        generate(model, PROMPT, [steer], max_new_tokens=32, temperature=1.0, seed=index)
        if index in (9, n - 1):
            gc.collect()
            sizes.append(resident_mb())
    print(f"memory over {n} generations (32 tokens each, sampled): {sizes[0]:.0f} MB after 10, {sizes[1]:.0f} MB after {n} "
          f"({sizes[1] - sizes[0]:+.1f} MB)")


def main() -> None:
    args = options(__doc__)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    device = args.device
    embedded = iw.load_model(device=device)
    german = next(f for f in iw.models.feature_catalogue() if f["concept"] == "German text")
    german_steer = Steer(None, (iw.load_sae(german["sae"], device=device), german["feature"]), 20.0)
    six = iw.load_model("embedded-6l", device=device)
    six_feature = iw.models.feature_catalogue("embedded-6l")[0]
    six_steer = Steer(None, (iw.load_sae(f"embedded-6l/{six_feature['sae']}", device=device), six_feature["feature"]), 20.0)
    gpt2 = gpt2_small_shaped(device=device)
    gpt2_steer = Steer("blocks.6.hook_resid_post", torch.randn(768, generator=torch.Generator().manual_seed(0)), 40.0)

    headline = measure("embedded 2-layer", embedded, german_steer)
    measure("embedded 6-layer", six, six_steer)
    measure(GPT2_LABEL, gpt2, gpt2_steer)
    memory_over(embedded, german_steer, 50 if args.quick else 200)
    print(f"steered generation with the key/value cache: {headline:.1f}x the rerun loop's tokens/s on the 2-layer embedded "
          "model (target >= 2x)")


if __name__ == "__main__":
    main()
