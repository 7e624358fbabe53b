"""Toy models of superposition: seconds per setting, all settings in one batch against one at a time.

The curriculum's widget trains several settings live, and the phase diagram trains 8 x 8 cells,
so the target is under one second per setting on one CPU thread at the default 2000 steps.
Both runs use `train_toy_models` with the same steps, batch and learning rate; the reference
loops over the settings, training each alone (what a plain per-model loop would do).

Run: .venv/bin/python benchmarks/bench_superposition.py [--quick]  (the toy trains on the CPU; --device is ignored)
"""

from __future__ import annotations

import time

import torch

from interp_widgets.compute.superposition import ToySetting, phase_diagram, train_toy_models

try:
    from _shapes import options
except ImportError:  # run from another folder
    from benchmarks._shapes import options

torch.set_num_threads(1)
STEPS = 2000
SETTINGS = [ToySetting(5, 2, 0.05, seed=s) for s in range(8)] + [ToySetting(20, 5, p, importance_decay=0.7) for p in (1, 0.3, 0.1, 0.03)]


def main() -> None:
    global STEPS
    if options(__doc__).quick:
        STEPS = 400
    start = time.perf_counter()
    train_toy_models(SETTINGS, steps=STEPS)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for setting in SETTINGS:
        train_toy_models([setting], steps=STEPS)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    phase_diagram(torch.logspace(0, -2, 8).tolist(), torch.logspace(-1, 1, 8).tolist(), seeds=2, steps=STEPS)
    diagram = time.perf_counter() - start
    print(f"{len(SETTINGS)} settings ({STEPS} steps): batched {batched:.1f} s ({batched / len(SETTINGS):.2f} s per setting), "
          f"one at a time {alone:.1f} s ({alone / len(SETTINGS):.2f} s per setting)")
    print(f"phase diagram 8 x 8 cells x 2 seeds (n=2, m=1): {diagram:.1f} s ({diagram / 128:.3f} s per setting)")
    print(f"batched training is {alone / batched:.1f}x faster than one setting at a time ({batched / len(SETTINGS):.2f} s per setting)")


if __name__ == "__main__":
    main()
