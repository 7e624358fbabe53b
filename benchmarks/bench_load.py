"""How long `interp_widgets.load_model()` takes to hand back the embedded model, offline, cold.

Each measurement runs in a fresh Python process (nothing cached in memory), three times, and the
median is reported, split into the import of interp_widgets + transformer-lens (paid once per
kernel, whatever model is loaded) and the `load_model()` call itself, whose target is 2 s — for the
2-layer default and for `load_model("embedded-6l")`.

Reference: the same call on a Hugging Face GPT-2 of the same size (2 layers, d_model 256, 4 heads,
vocab 4,096, random weights) saved to a local directory, which goes through
`TransformerBridge.boot_transformers` — the route a user without an embedded model would take
offline.

Cases are interleaved (each round loads every case once), and process CPU time is printed beside
wall time: on a shared machine wall time follows the neighbours' load, CPU time follows ours.
At GPT-2 small's shape (the "GPT-2-small-shaped random" line): the random GPT-2-small-shaped model
saved in our format (config + fp16 safetensors) against a random Hugging Face GPT-2 small directory
(fp32 safetensors), both through load_model(path).

Where the time went (profiled, issue 27): about 2/3 of a cold load_model() is importing
transformer-lens' bridge, which imports transformers' modeling code and with it torch.distributed
and torch._dynamo, leaving ~400,000 objects alive; the objects the load allocates then triggered a
full cyclic garbage collection over all of them (0.4-1 s here). load_model() now freezes the imported
objects out of the collector once (`gc.freeze`), loads the tokenizer once instead of twice, and skips
random initialisation of weights it overwrites from the file.

Run: .venv/bin/python benchmarks/bench_load.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, options  # noqa: E402

RUNS = 3
TARGET_S = 2.0
PROBE = """
import json, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads(1)
import interp_widgets, transformer_lens
t1, c1 = time.perf_counter(), time.process_time()
model = interp_widgets.load_model(*sys.argv[1:])
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "load_cpu_s": c2 - c1, "layers": model.cfg.n_layers}))
"""
KEYS = ("import_s", "load_s", "load_cpu_s")


def once(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(cases: dict[str, tuple[str, ...]], runs: int) -> dict[str, dict[str, float]]:
    """Medians over `runs` rounds; each round loads every case once, so a busy machine slows all alike."""
    seen: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, args in cases.items():
            seen[name].append(once(*args))
    return {name: {key: statistics.median(run[key] for run in rows) for key in KEYS} for name, rows in seen.items()}


def tokenizer_files(directory: Path) -> None:
    from interp_widgets.models.loaders import embedded_dir

    for file in (embedded_dir() / "tokenizer").iterdir():
        (directory / file.name).write_bytes(file.read_bytes())


def hf_gpt2(directory: Path, n_layer: int, n_embd: int, n_head: int, n_positions: int, vocab_size: int) -> Path:
    """A random Hugging Face GPT-2 saved with save_pretrained (the reference route: boot_transformers on a local directory)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    directory.mkdir()
    config = GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=n_positions, vocab_size=vocab_size)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer_files(directory)
    return directory


def native_gpt2_small(directory: Path) -> Path:
    """A random GPT-2-small-shaped model in our own format (config.json, fp16 model.safetensors, tokenizer/)."""
    import torch

    from _shapes import gpt2_small_shaped, save_native

    save_native(gpt2_small_shaped(), directory, torch.float16)
    (directory / "tokenizer").mkdir()
    tokenizer_files(directory / "tokenizer")
    return directory


def main() -> None:
    args = options(__doc__)
    runs = 1 if args.quick else RUNS
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"ours": (), "ours-6l": ("embedded-6l",),
                 "hf": (str(hf_gpt2(Path(tmp) / "hf", 2, 256, 4, 256, 4096)),),
                 "ours-gpt2": (str(native_gpt2_small(Path(tmp) / "ours_gpt2")),),
                 "hf-gpt2": (str(hf_gpt2(Path(tmp) / "hf_gpt2", 12, 768, 12, 1024, 50257)),)}
        t = interleaved(cases, runs)
    ours, ref = t["ours"], t["hf"]
    print(f"import interp_widgets + transformer_lens: {ours['import_s']:.2f} s (median of {runs} fresh processes, cases interleaved)")
    print("load_model() call, wall (process CPU):")
    for name, label in (("ours", "embedded"), ("ours-6l", "embedded-6l"), ("hf", "local HF GPT-2, same size as embedded"),
                        ("ours-gpt2", "ours, GPT-2-small-shaped (fp16 file)"), ("hf-gpt2", "local HF GPT-2 small (fp32 file)")):
        print(f"  {label:40s} {t[name]['load_s']:5.2f} s ({t[name]['load_cpu_s']:.2f} s CPU)")
    print(f"{GPT2_LABEL}: load_model() of our fp16 directory vs a local Hugging Face GPT-2 small directory: "
          f"{t['hf-gpt2']['load_s'] / t['ours-gpt2']['load_s']:.1f}x wall ({t['ours-gpt2']['load_s']:.2f} s vs {t['hf-gpt2']['load_s']:.2f} s), "
          f"{t['hf-gpt2']['load_cpu_s'] / t['ours-gpt2']['load_cpu_s']:.1f}x CPU")
    print(f"embedded load_model() vs same-size local Hugging Face model: {ref['load_s'] / ours['load_s']:.1f}x "
          f"({ours['load_s']:.2f} s, {ours['load_s'] / TARGET_S:.0%} of the 2 s target; CPU {ref['load_cpu_s'] / ours['load_cpu_s']:.1f}x)")


if __name__ == "__main__":
    main()
