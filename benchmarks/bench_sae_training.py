"""SAE trainer throughput (activations per second): interp-widgets against SAELens, same run.

Same activations, SAE size, batch, learning rate and step count for both: a ReLU + L1 SAE with
8x the residual width on a d_model-256 model's `blocks.0.hook_resid_post`. The activations are
computed once (by our store, running the model only to block 0) and fed to both trainers from
memory, so this measures the trainers, not the model. SAELens (which pins transformer-lens < 4)
runs in its own environment, `.venv-saelens` (scripts/setup-saelens.sh makes it), in a subprocess.
Both run fp32 on one thread; our bf16 autocast (default "auto" where the CPU has bf16) is shown
on a separate line.

Run: .venv/bin/python benchmarks/bench_sae_training.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
D_MODEL, EXPANSION, BATCH, STEPS, WARMUP_STEPS, LR = 256, 8, 4096, 40, 5, 4e-4


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


def time_ours(path: Path, autocast: str) -> float:
    from interp_widgets.sae import ReluSAE, TrainConfig, train_saes

    data = InMemoryBatches(torch.load(path), "blocks.0.hook_resid_post")
    config = dict(lr=LR, warmup_steps=1, log_every=10, resample_every=None, autocast=autocast, init_b_dec_to_mean=False)
    train_saes([ReluSAE(D_MODEL, D_MODEL * EXPANSION, seed=0)], data, TrainConfig(total_steps=WARMUP_STEPS, **config), progress=False)
    sae = ReluSAE(D_MODEL, D_MODEL * EXPANSION, seed=0)
    start = time.perf_counter()
    train_saes([sae], data, TrainConfig(total_steps=STEPS, **config), progress=False)
    return STEPS * BATCH / (time.perf_counter() - start)


def time_saelens(path: Path) -> float:
    """Runs inside .venv-saelens."""
    from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    batches = torch.load(path)

    def run(steps: int) -> float:
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=D_MODEL, d_sae=D_MODEL * EXPANSION, l1_coefficient=1.0))
        cfg = SAETrainerConfig(total_training_samples=steps * BATCH, train_batch_size_samples=BATCH, lr=LR, lr_end=LR, device="cpu",
                               autocast=False, logger=LoggingConfig(log_to_wandb=False))
        data = (batches[i % len(batches)] for i in range(10**9))
        trainer = SAETrainer(cfg=cfg, sae=sae, data_provider=data)
        start = time.perf_counter()
        trainer.fit()
        return steps * BATCH / (time.perf_counter() - start)

    run(WARMUP_STEPS)
    return run(STEPS)


def main() -> None:
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "--saelens":
        print(json.dumps({"saelens": time_saelens(Path(sys.argv[2]))}))
        return
    saelens_python = ROOT / ".venv-saelens" / "bin" / "python"
    if not saelens_python.exists():
        sys.exit("SAELens' environment is missing: run scripts/setup-saelens.sh first.")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activations.pt"
        make_activations(path)
        ours = time_ours(path, "none")
        ours_bf16 = time_ours(path, "auto")
        result = subprocess.run([str(saelens_python), __file__, "--saelens", str(path)], capture_output=True, text=True, check=True)
        theirs = json.loads(result.stdout.strip().splitlines()[-1])["saelens"]
    print(f"ReLU SAE {D_MODEL} -> {D_MODEL * EXPANSION}, batch {BATCH}, {STEPS} steps, 1 thread")
    print(f"  interp-widgets fp32          {ours:>10,.0f} activations/s")
    print(f"  interp-widgets autocast auto {ours_bf16:>10,.0f} activations/s")
    print(f"  SAELens fp32                 {theirs:>10,.0f} activations/s")
    print(f"SAE trainer throughput, interp-widgets vs SAELens (fp32, same batches): {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
