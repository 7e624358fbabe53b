"""SAE trainer throughput (activations per second): interp-widgets against SAELens, same run.

Same activations, SAE size, batch, learning rate and step count for both: a ReLU + L1 SAE with
8x the residual width on a d_model-256 model's `blocks.0.hook_resid_post`. The activations are
computed once (by our store, running the model only to block 0) and fed to both trainers from
memory, so this measures the trainers, not the model. SAELens (which pins transformer-lens < 4)
runs in its own environment, `.venv-saelens` (scripts/setup-saelens.sh makes it), in a subprocess
that stays up. Both run fp32 on one thread, in turns (ours, SAELens', ours, ...: REPEATS runs each
after a warm-up), so a busy spell on a shared machine slows both sides; the headline is the ratio of
the medians, with the range of the run-by-run ratios beside it. Our bf16 autocast (default "auto"
where the CPU has bf16) is shown on a separate line.

GPT-2 small's shape (the "GPT-2-small-shaped random" line): d_in 768 (GPT-2 small's residual
width), d_sae 6,144 (the same 8x), batch 4,096, GPT2_STEPS steps per run, GPT2_REPEATS interleaved
runs per side (--quick: fewer), on gaussian batches of that width: a step's time depends on the
shapes, not on the data, and the same batches go to both trainers. Both sides run on the CPU
whatever --device says (SAELens' config here is CPU-only).

Run: .venv/bin/python benchmarks/bench_sae_training.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, GPT2_SMALL, options  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
D_MODEL, EXPANSION, BATCH, STEPS, WARMUP_STEPS, LR, REPEATS = 256, 8, 4096, 40, 5, 4e-4, 5
GPT2_STEPS, GPT2_REPEATS = 10, 3  # --quick: 5 steps, 2 runs each (a GPT-2-width step is ~9x an embedded one)


class InMemoryBatches:
    """The part of ActivationStore the trainer uses, over batches already in memory."""

    def __init__(self, batches: torch.Tensor, hook_name: str) -> None:
        self._batches, self.hook_name, self.d_in = batches, hook_name, batches.shape[-1]

    def batches(self, start: int = 0):
        index = start
        while True:
            yield self._batches[index % len(self._batches)]
            index += 1


def make_activations(path: Path) -> None:
    from interp_widgets.models import toy_model
    from interp_widgets.sae import ActivationStore, pack_texts

    model = toy_model(d_model=D_MODEL, n_heads=8, d_mlp=4 * D_MODEL, n_ctx=128)
    text = resources.files("interp_widgets.models").joinpath("toy_corpus.txt").read_text()
    tokens = pack_texts(model, [text] * 60, context=128)
    store = ActivationStore(model, "blocks.0.hook_resid_post", tokens, batch_size=BATCH, model_batch_size=32)
    batches = [batch for _, batch in zip(range(8), store.batches())]
    torch.save(torch.stack(batches), path)


def time_ours(path: Path, autocast: str, d_model: int = D_MODEL, steps: int = STEPS) -> float:
    """Activations per second of our trainer over `steps` steps (a fresh SAE; the SAE's set-up is timed too)."""
    from interp_widgets.sae import ReluSAE, TrainConfig, train_saes

    data = InMemoryBatches(torch.load(path, weights_only=True), "blocks.0.hook_resid_post")
    config = dict(lr=LR, warmup_steps=1, log_every=10, resample_every=None, autocast=autocast, init_b_dec_to_mean=False)
    start = time.perf_counter()
    train_saes([ReluSAE(d_model, d_model * EXPANSION, seed=0)], data, TrainConfig(total_steps=steps, **config), progress=False)
    return steps * BATCH / (time.perf_counter() - start)


def time_saelens(path: Path, d_model: int = D_MODEL, steps: int = STEPS) -> float:
    """Activations per second of SAELens' `SAETrainer` over `steps` steps. Runs inside .venv-saelens."""
    from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    batches = torch.load(path, weights_only=True)
    start = time.perf_counter()
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d_model, d_sae=d_model * EXPANSION, l1_coefficient=1.0))
    cfg = SAETrainerConfig(total_training_samples=steps * BATCH, train_batch_size_samples=BATCH, lr=LR, lr_end=LR, device="cpu",
                           autocast=False, logger=LoggingConfig(log_to_wandb=False))
    data = (batches[i % len(batches)] for i in range(10**9))
    SAETrainer(cfg=cfg, sae=sae, data_provider=data).fit()
    return steps * BATCH / (time.perf_counter() - start)


def saelens_server() -> None:
    """Inside .venv-saelens: answer each request line `<path> <d_model> <steps>` with one JSON line of throughput."""
    for line in sys.stdin:
        path, d_model, steps = line.split()
        print(json.dumps({"saelens": time_saelens(Path(path), int(d_model), int(steps))}), flush=True)


class SAELens:
    """SAELens' trainer in a subprocess of .venv-saelens that stays up, so its runs can alternate with ours."""

    def __init__(self) -> None:
        python = ROOT / ".venv-saelens" / "bin" / "python"
        if not python.exists():
            sys.exit("SAELens' environment is missing: run scripts/setup-saelens.sh first.")
        self._process = subprocess.Popen([str(python), __file__, "--saelens-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)

    def throughput(self, path: Path, d_model: int = D_MODEL, steps: int = STEPS) -> float:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(f"{path} {d_model} {steps}\n")
        self._process.stdin.flush()
        for reply in self._process.stdout:  # skips anything else SAELens prints
            if reply.startswith('{"saelens"'):
                return json.loads(reply)["saelens"]
        sys.exit("SAELens' trainer stopped: run `.venv-saelens/bin/python benchmarks/bench_sae_training.py --saelens-server` to see why.")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=60)


def interleaved(path: Path, saelens: SAELens, d_model: int = D_MODEL, repeats: int = REPEATS,
                steps: int = STEPS) -> tuple[list[float], list[float]]:
    """Our throughput and SAELens', measured in turns (ours, theirs, ours, theirs, ...) after one warm-up run each,
    so a slow spell of a shared machine lands on both sides rather than deciding the ratio."""
    time_ours(path, "none", d_model, WARMUP_STEPS)
    saelens.throughput(path, d_model, WARMUP_STEPS)
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(time_ours(path, "none", d_model, steps))
        theirs.append(saelens.throughput(path, d_model, steps))
    return ours, theirs


def summary(ours: list[float], theirs: list[float]) -> tuple[list[str], str]:
    """Each side's median and range, and the ratio of the medians with the range of the run-by-run ratios."""
    ratios = [a / b for a, b in zip(ours, theirs)]
    lines = [f"  {name:<29} median {statistics.median(runs):>10,.0f} activations/s  (runs {min(runs):,.0f} .. {max(runs):,.0f})"
             for name, runs in (("interp-widgets fp32", ours), ("SAELens fp32", theirs))]
    ratio = (f"{statistics.median(ours) / statistics.median(theirs):.2f}x (median of {len(ratios)} interleaved runs each; "
             f"run-by-run {min(ratios):.2f}x .. {max(ratios):.2f}x)")
    return lines, ratio


def gpt2_shape(folder: Path, saelens: SAELens, quick: bool) -> str:
    """The GPT-2-small-width comparison on gaussian batches; returns its printed lines."""
    d_model, steps, repeats = GPT2_SMALL["d_model"], (5 if quick else GPT2_STEPS), (2 if quick else GPT2_REPEATS)
    path = folder / "gpt2_width.pt"
    torch.save(torch.randn(4, BATCH, d_model, generator=torch.Generator().manual_seed(0)), path)  # [batches, batch, d_in]
    lines, ratio = summary(*interleaved(path, saelens, d_model, repeats, steps))
    return "\n".join([f"ReLU SAE {d_model} -> {d_model * EXPANSION} (GPT-2 small's width), gaussian batches, batch {BATCH}, "
                      f"{steps} steps, {repeats} interleaved runs per side", *lines,
                      f"{GPT2_LABEL}: SAE trainer throughput, d_in {d_model}, d_sae {d_model * EXPANSION:,}, "
                      f"interp-widgets vs SAELens (fp32, same batches): {ratio}", ""])


def main() -> None:
    torch.set_num_threads(1)
    if sys.argv[1:] == ["--saelens-server"]:
        saelens_server()
        return
    args = options(__doc__)
    saelens = SAELens()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            gpt2 = gpt2_shape(Path(tmp), saelens, args.quick)
            path = Path(tmp) / "activations.pt"
            make_activations(path)
            ours, theirs = interleaved(path, saelens)
            time_ours(path, "auto", D_MODEL, WARMUP_STEPS)
            ours_bf16 = time_ours(path, "auto")
    finally:
        saelens.close()
    lines, ratio = summary(ours, theirs)
    print(gpt2)
    print(f"ReLU SAE {D_MODEL} -> {D_MODEL * EXPANSION}, batch {BATCH}, {STEPS} steps, 1 thread, {REPEATS} interleaved runs per side")
    print("\n".join(lines))
    print(f"  interp-widgets autocast auto  one run    {ours_bf16:>10,.0f} activations/s  (bf16 where the CPU has it)")
    print(f"SAE trainer throughput, interp-widgets vs SAELens (fp32, same batches): {ratio}")


if __name__ == "__main__":
    main()
