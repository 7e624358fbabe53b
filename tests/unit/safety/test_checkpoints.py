"""A training checkpoint is a file from disk: resuming loads only tensors and plain containers
(`weights_only=True`), so a planted pickle runs nothing and ends in a clear error."""

import re
from pathlib import Path

import pytest
import torch

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae import ReluSAE, TrainConfig, train_saes
from interp_widgets.sae.train import read_checkpoint

ROOT = Path(__file__).parents[3]


class Batches:
    """The part of ActivationStore the trainer reads: gaussian batches [64, 16]."""

    hook_name, d_in = "blocks.0.hook_resid_post", 16

    def batches(self, start=0):
        generator = torch.Generator().manual_seed(start)
        while True:
            yield torch.randn(64, self.d_in, generator=generator)


class Planted:
    """Unpickling this calls open(path, "w"): the file appears if the checkpoint's code runs."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


CONFIG = dict(total_steps=4, checkpoint_every=2, log_every=2, warmup_steps=1, resample_every=None, autocast="none")


def test_a_genuine_checkpoint_resumes(tmp_path):
    config = TrainConfig(checkpoint_dir=str(tmp_path), **CONFIG)
    train_saes([ReluSAE(16, 32, seed=0)], Batches(), config, progress=False)
    payload = read_checkpoint(tmp_path / "checkpoint.pt")
    assert payload["step"] == 4 and len(payload["saes"]) == 1 and len(payload["optimizers"]) == 1
    more = TrainConfig(**{**config.__dict__, "total_steps": 6})
    history = train_saes([ReluSAE(16, 32, seed=0)], Batches(), more, progress=False)
    assert [row["step"] for row in history[0]] == [2.0, 4.0, 6.0]  # steps 2 and 4 from the checkpoint, 6 trained now


def test_a_planted_pickle_in_the_checkpoint_runs_nothing(tmp_path):
    config = TrainConfig(checkpoint_dir=str(tmp_path), **CONFIG)
    train_saes([ReluSAE(16, 32, seed=0)], Batches(), config, progress=False)
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    marker = tmp_path / "the checkpoint ran code"
    payload["history"] = Planted(marker)
    torch.save(payload, tmp_path / "checkpoint.pt")
    with pytest.raises(InterpWidgetsError) as caught:
        train_saes([ReluSAE(16, 32, seed=0)], Batches(), TrainConfig(**{**config.__dict__, "total_steps": 6}), progress=False)
    assert not marker.exists(), "unpickling the checkpoint ran its code"
    message = str(caught.value)
    assert "checkpoint.pt holds Python objects besides tensors" in message and re.search(r"it names (io|builtins)\.open", message)
    assert "resume=False" in message and "weights_only=False" not in message  # the fix offered is not the unsafe one


@pytest.mark.parametrize("content, message", [
    (b"not a zip file", "is not a readable checkpoint"),
    (None, "is not a checkpoint of this trainer (it has no step"),
])
def test_other_bad_checkpoints_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "checkpoint.pt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(InterpWidgetsError, match=re.escape(message)):
        read_checkpoint(path)


def test_every_torch_load_in_the_repository_loads_weights_only():
    """The package, the maintainer scripts and the benchmarks: no torch.load that could unpickle code."""
    calls = []
    for folder in ("interp_widgets", "scripts", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            calls += [(path.relative_to(ROOT), m.group(0)) for m in re.finditer(r"torch\.load\([^\n]*", text)]
    assert calls, "the search found no torch.load at all"
    unsafe = [(str(path), call) for path, call in calls if "weights_only=True" not in call]
    assert unsafe == []
