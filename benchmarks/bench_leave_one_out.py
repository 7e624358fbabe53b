"""The leave-one-out map against the same map written by hand: one forward per removed token.

The reference is what a careful user writes: for each earlier token, delete it, run the model on
the whole prompt stopping after the hook's block (`stop_at_layer`), read the readout at the
shifted target. Ours (`compute.ablation.removal.leave_one_out`) cuts every variant after the target, reuses
the clean run's prefix and computes at the hook's layer only the target position (a fresh prompt
each time: the clean run is part of the time). Both give the same numbers (checked here to 1e-4).

Settings, on the embedded model (target: the prompt's last token):
- 25 tokens, an SAE feature at blocks.0.hook_resid_post (the seed's setting);
- 128 tokens, a residual direction at the last layer (blocks.1.hook_resid_post);
- 128 tokens, an SAE feature at blocks.0.hook_resid_post (the headline, last line).

Also the kernel's reply to a click that toggles a removal on a 128-token prompt (the widget's
request handler, as the front-end calls it): p50 and p95 over 1,000 clicks, and the process's
resident memory before and after them (it should stay flat).

At GPT-2 small's shape (a random model, benchmarks/_shapes.py, with a random TopK SAE: d_sae
6,144, L0 32, at blocks.6.hook_resid_post; the feature most active at the target): 128 tokens with
the SAE feature at layer 6, and with a direction at the last layer (--quick: 64 tokens). And on the path
users take, random Hugging Face models saved with save_pretrained and loaded with iw.load_model (a
GPT2LMHeadModel with GPT-2's gelu_new, a Pythia-160M-shaped GPT-NeoX, a SmolLM2-135M-shaped Llama with
grouped-query attention; benchmarks/_shapes.py): a direction at the middle layer (target >= 1.5x on GPT-2:
removing token i changes every later position, so about 2x is the bound).

Run: .venv/bin/python benchmarks/bench_leave_one_out.py [--quick]
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import torch

import interp_widgets as iw
from interp_widgets.compute.ablation import removal as ablation
from interp_widgets.compute.ablation.removal import leave_one_out

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, HF_PREFIX, HF_SHAPES, gpt2_small_shaped, hf_options, hf_shaped, options  # noqa: E402

TEXT = ("It was a bright cold day in April, and the clocks were striking thirteen. The hallway smelt of boiled cabbage and old "
        "rag mats. At one end of it a coloured poster, too large for indoor display, had been tacked to the wall. It depicted "
        "simply an enormous face, more than a metre wide: the face of a man of about forty-five, with a heavy black moustache "
        "and ruggedly handsome features. Winston made for the stairs. It was no use trying the lift. Even at the best of times "
        "it was seldom working, and at present the electric current was cut off during daylight hours.")


def reference(model, ids, hook, read, target):
    """One forward per removed token, stopping after the hook's block."""
    layer = int(hook.split(".")[1]) + 1
    stop = layer if layer < model.cfg.n_layers else None
    values = []
    with torch.inference_mode():
        for i in range(1, target):
            tokens = torch.tensor([ids[:i] + ids[i + 1 :]])
            saved = {}
            with model.hooks(fwd_hooks=[(hook, lambda act, hook: saved.setdefault("a", act))]):
                model(tokens, stop_at_layer=stop) if stop else model(tokens)
            values.append(float(read(saved["a"][0, target - 1])))
    return torch.tensor(values)


REPEATS = 3


def timed(function, repeats=None):
    repeats = repeats or REPEATS
    best = float("inf")
    for _ in range(repeats):
        ablation._PREPARED.clear()  # no clean run kept from the last repeat
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def setting(model, n_tokens, hook, readout, read):
    ids = model.to_tokens(TEXT)[0, :n_tokens].tolist()
    target = n_tokens - 1
    ours_s, ours = timed(lambda: leave_one_out(model, torch.tensor(ids), hook, readout, target=target))
    ref_s, ref = timed(lambda: reference(model, ids, hook, read, target), repeats=min(2, REPEATS))
    diff = float((ours.values[1:target] - ref).abs().max())
    assert diff < 1e-4, diff
    return ours_s, ref_s, diff


def rss_mb() -> float:
    """The process's resident memory now, from /proc (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


def click_latency(model, sae, feature, clicks: int = 1000) -> tuple[float, float, float, float]:
    """p50 / p95 reply time (ms) of the explorer's toggle request, and memory before / after (MB)."""
    ids = model.to_tokens(TEXT)[0, :128]
    prompt = model.tokenizer.decode(ids[1:].tolist())
    view = iw.FeatureAblation.from_model(model, prompt, (sae, feature), target=len(model.to_tokens(prompt)[0]) - 1)
    positions = list(range(1, view.target))
    for position in positions[:20]:  # warm up
        view.handle_request({"kind": "request", "id": "w", "type": "toggle", "payload": {"position": position}})
    before = rss_mb()
    times = []
    for click in range(clicks):
        position = positions[(click * 7) % len(positions)]
        start = time.perf_counter()
        reply = view.handle_request({"kind": "request", "id": str(click), "type": "toggle", "payload": {"position": position}})
        times.append(time.perf_counter() - start)
        assert reply["ok"], reply
    times.sort()
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.95)] * 1000, before, rss_mb()


def gpt2_settings(n_tokens: int) -> list[tuple[str, float]]:
    """Leave-one-out at GPT-2 small's shape: an SAE feature in the middle, a direction at the last layer."""
    from interp_widgets.sae.model import TopKSAE

    model = gpt2_small_shaped()
    hook = "blocks.6.hook_resid_post"
    sae = TopKSAE(768, 6144, k=32, hook_name=hook, seed=0)
    ids = model.to_tokens(TEXT)[0, :n_tokens]
    with torch.inference_mode():
        feature = int(sae.encode(iw.compute.activations_at(model, ids[None], hook)[0, n_tokens - 1]).argmax())
        encode = lambda act: sae.encode(act[None])[0, feature]  # noqa: E731
    direction = torch.randn(768, generator=torch.Generator().manual_seed(0))
    lines = []
    for name, layer_hook, readout, read in [
        (f"{n_tokens} tokens, TopK SAE feature at layer 6", hook, (sae, feature), encode),
        (f"{n_tokens} tokens, direction at the last layer", "blocks.11.hook_resid_post", direction, lambda act: act @ direction),
    ]:
        ours_s, ref_s, diff = setting(model, n_tokens, layer_hook, readout, read)
        print(f"{GPT2_LABEL}, {name:<38} ours {ours_s * 1000:8.1f} ms   one forward per token {ref_s * 1000:8.1f} ms   "
              f"{ref_s / ours_s:5.1f}x   (max diff {diff:.1e})")
        lines.append((name, ref_s / ours_s))
    return lines


def hf_settings(n_tokens: int, shapes: list[str]) -> None:
    """The path users take (Hugging Face weights through iw.load_model): a direction at the middle layer."""
    for name in shapes:
        model, _ = hf_shaped(name)
        layer = model.cfg.n_layers // 2 - 1
        direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0))
        hook = f"blocks.{layer}.hook_resid_post"
        leave_one_out(model, model.to_tokens(TEXT)[0, :16], hook, direction, target=15)  # warm-up, the runner's one-time check
        ours_s, ref_s, diff = setting(model, n_tokens, hook, direction, lambda act: act @ direction)
        print(f"{HF_PREFIX} {name}: leave-one-out map, {n_tokens} tokens, direction at layer {layer} of {model.cfg.n_layers} "
              f"(middle), ours {ours_s * 1000:.0f} ms vs one forward per removed token {ref_s * 1000:.0f} ms: {ref_s / ours_s:.1f}x "
              f"(max diff {diff:.1e})", flush=True)
        del model


def main() -> None:
    global REPEATS
    args = options(__doc__, hf_options)
    REPEATS = 1 if args.quick else 3
    torch.set_num_threads(1)
    if args.hf_only:  # the HF-path lines alone (GPT-2's shape unless --hf-all)
        hf_settings(64 if args.quick else 128, list(HF_SHAPES) if args.hf_all else list(HF_SHAPES)[:1])
        return
    gpt2 = gpt2_settings(64 if args.quick else 128)
    hf_settings(64 if args.quick else 128, list(HF_SHAPES))
    model, sae = iw.load_model(), iw.load_sae("4x")
    feature = next(e for e in iw.models.feature_catalogue() if e["sae"] == "4x")["feature"]
    direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        encode = lambda act: sae.encode(act[None])[0, feature]  # noqa: E731
    settings = [
        ("25 tokens, SAE feature at layer 0", 25, "blocks.0.hook_resid_post", (sae, feature), encode),
        ("128 tokens, direction at the last layer", 128, "blocks.1.hook_resid_post", direction, lambda act: act @ direction),
        ("128 tokens, layer 0", 128, "blocks.0.hook_resid_post", (sae, feature), encode),
    ]
    p50, p95, before, after = click_latency(model, sae, feature, clicks=200 if args.quick else 1000)
    print(f"click that toggles a removal, 128 tokens: p50 {p50:.1f} ms, p95 {p95:.1f} ms; memory {before:.0f} MB before, "
          f"{after:.0f} MB after {200 if args.quick else 1000:,} clicks")
    lines = []
    for name, n, hook, readout, read in settings:
        ours_s, ref_s, diff = setting(model, n, hook, readout, read)
        print(f"{name:<42} ours {ours_s * 1000:8.1f} ms   one forward per token {ref_s * 1000:8.1f} ms   "
              f"{ref_s / ours_s:5.1f}x   (max diff {diff:.1e})")
        lines.append((name, ref_s / ours_s))
    print(f"{GPT2_LABEL}: leave-one-out map, {gpt2[0][0]} vs one forward per token: {gpt2[0][1]:.1f}x")
    print(f"leave-one-out map, {lines[-1][0]} vs one forward per token: {lines[-1][1]:.1f}x")


if __name__ == "__main__":
    main()
