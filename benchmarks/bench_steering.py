"""Steered generation with a key/value cache against the plain loop that re-runs the whole sequence.

Ours (`compute.steering.steer.generate`): the unsteered and the steered run decoded together, one new
position per step through the cached decoder, then each run scored under the other. The
reference: for each run, the whole sequence through `run_with_hooks` at every step (the loop
the exactness tests use). Both greedy, 64 new tokens, the same tokens checked. One torch thread.

Models: the 2-layer and the 6-layer embedded models (an SAE feature steered), and a random model
of GPT-2-small's shape (12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50257; a random vector
steered; benchmarks/_shapes.py); and on the path users take, random Hugging Face models (GPT-2 small's,
Pythia-160M's and SmolLM2-135M's shapes) saved and loaded with iw.load_model, against Hugging Face's
own `generate` (its key/value cache) with a forward hook adding the vector, greedy, the same tokens
checked (target on GPT-2's: >= 1.2x; `--hf-only` runs these lines alone). Then memory over 200 generations (50 with --quick). Headline
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
from interp_widgets.compute.steering.steer import Steer, generate, prepare_steer  # noqa: E402
from _shapes import GPT2_LABEL, HF_PREFIX, HF_SHAPES, gpt2_small_shaped, hf_options, hf_shaped, options  # noqa: E402

PROMPT = "The old man walked down to the river and looked at the water, and"
NEW_TOKENS = 64
REPEATS = 3  # HF-path lines: ours and HF generate alternated, the best time of each


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
    prepared = prepare_steer(model, steer)
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


def hf_generate_with_hook(hf, tokens, layer, vector, n_tokens):
    """What a user would write with Hugging Face alone: `generate` (its own key/value cache), greedy, with a forward
    hook on block `layer` adding `vector` to its output at every position. One run; returns the new ids."""
    def add(module, inputs, output):
        if isinstance(output, tuple):
            return (output[0] + vector,) + tuple(output[1:])
        return output + vector

    blocks = hf.transformer.h if hasattr(hf, "transformer") else hf.gpt_neox.layers if hasattr(hf, "gpt_neox") else hf.model.layers
    handle = blocks[layer].register_forward_hook(add)
    try:
        with torch.inference_mode():
            out = hf.generate(tokens, attention_mask=torch.ones_like(tokens), max_new_tokens=n_tokens, min_new_tokens=n_tokens,
                              do_sample=False, pad_token_id=0)
    finally:
        handle.remove()
    return out[0, tokens.shape[1]:].tolist()


def measure_hf(name, n_tokens):
    """Ours on the HF path (iw.load_model of a saved random model) against HF generate with a hook, and the rerun loop."""
    from transformers import AutoModelForCausalLM

    model, path = hf_shaped(name)
    hf = AutoModelForCausalLM.from_pretrained(path).eval()  # its default attention (sdpa): what a user gets
    layer = model.cfg.n_layers // 2
    steer = Steer(f"blocks.{layer}.hook_resid_pre", torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0)), 40.0)
    prepared = prepare_steer(model, steer)
    vector = steer.strength * prepared.unit
    tokens = model.to_tokens(PROMPT)
    generate(model, PROMPT, [steer], max_new_tokens=4)  # warm up (and the cached decoder's one-time check)
    hf_generate_with_hook(hf, tokens, layer - 1, vector, 4)
    ours_s = hf_s = float("inf")
    for _ in range(REPEATS):  # interleaved, best of each: other work on a shared machine comes and goes
        start = time.perf_counter()
        ours = generate(model, PROMPT, [steer], max_new_tokens=n_tokens)
        ours_s = min(ours_s, time.perf_counter() - start)
        start = time.perf_counter()
        hf_plain = hf_generate_with_hook(hf, tokens, layer - 1, 0 * vector, n_tokens)
        hf_steered = hf_generate_with_hook(hf, tokens, layer - 1, vector, n_tokens)
        hf_s = min(hf_s, time.perf_counter() - start)
        same = ours.unsteered.ids == hf_plain and ours.steered.ids == hf_steered
        assert same, f"{name}: HF generate's tokens differ from ours"
    start = time.perf_counter()
    assert ours.steered.ids == rerun_loop(model, tokens, (prepared.site, prepared.unit, steer.strength), n_tokens)
    rerun_s = (time.perf_counter() - start) * 2  # one run timed: the loop's two runs cost the same
    print(f"{HF_PREFIX} {name}: steered generation ({ours.engine}), {tokens.shape[1]}-token prompt, 2 runs x {n_tokens} tokens: "
          f"{ours_s:.2f} s, {hf_s / ours_s:.2f}x HF generate with a forward hook ({hf_s:.2f} s, its own cache, same tokens; "
          f"best of {REPEATS} interleaved), "
          f"{rerun_s / ours_s:.1f}x the rerun loop", flush=True)
    del model, hf


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
    args = options(__doc__, hf_options)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    device = args.device
    if args.hf_only:
        for name in list(HF_SHAPES) if args.hf_all else list(HF_SHAPES)[:1]:
            measure_hf(name, 32 if args.quick else NEW_TOKENS)
        return
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
    for name in HF_SHAPES:
        measure_hf(name, 32 if args.quick else NEW_TOKENS)
    memory_over(embedded, german_steer, 50 if args.quick else 200)
    print(f"steered generation with the key/value cache: {headline:.1f}x the rerun loop's tokens/s on the 2-layer embedded "
          "model (target >= 2x)")


if __name__ == "__main__":
    main()
