"""How long `interp_widgets.load_model()` takes to hand back the embedded model, offline, cold.

Each measurement runs in a fresh Python process (nothing cached in memory), three times, and the
median is reported, split into the import of interp_widgets + transformer-lens (paid once per
kernel, whatever model is loaded) and the `load_model()` call itself, whose target is 2 s — for the
2-layer default and for `load_model("embedded-6l")`.

Reference: the same call on a Hugging Face GPT-2 of the same size (2 layers, d_model 256, 4 heads,
vocab 4,096, random weights) saved to a local directory, which goes through
`TransformerBridge.boot_transformers` — the route a user without an embedded model would take
offline.

Run: .venv/bin/python benchmarks/bench_load.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = 3
TARGET_S = 2.0
PROBE = """
import json, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads(1)
import interp_widgets, transformer_lens
t1 = time.perf_counter()
model = interp_widgets.load_model(*sys.argv[1:])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "layers": model.cfg.n_layers}))
"""


def timed(*args: str) -> dict[str, float]:
    runs = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True,
                             env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in ("import_s", "load_s")}


def same_size_hf_gpt2(directory: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp_widgets.models.loaders import embedded_dir

    config = GPT2Config(n_layer=2, n_embd=256, n_head=4, n_positions=256, vocab_size=4096)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer_dir = embedded_dir() / "tokenizer"
    for file in tokenizer_dir.iterdir():
        (directory / file.name).write_bytes(file.read_bytes())
    return directory


def main() -> None:
    ours = timed()
    deeper = timed("embedded-6l")
    with tempfile.TemporaryDirectory() as tmp:
        reference = timed(str(same_size_hf_gpt2(Path(tmp))))
    print(f"import interp_widgets + transformer_lens: {ours['import_s']:.2f} s (median of {RUNS} fresh processes)")
    print(f"load_model() embedded:                   {ours['load_s']:.2f} s   (target {TARGET_S:.0f} s)")
    print(f"load_model(\"embedded-6l\"):               {deeper['load_s']:.2f} s   (target {TARGET_S:.0f} s)")
    print(f"load_model(local HF GPT-2, same size):   {reference['load_s']:.2f} s")
    print(f"embedded load_model() vs same-size local Hugging Face model: {reference['load_s'] / ours['load_s']:.1f}x "
          f"({ours['load_s']:.2f} s, {ours['load_s'] / TARGET_S:.0%} of the 2 s target)")


if __name__ == "__main__":
    main()
