"""The fast patching engine runs only the patched runs that can differ from the target, packed without padding work,
and stays exact (against the hook engine, one full forward per cell)."""

import pytest
import torch

from interp_widgets.compute.patching import engines as patching_engines
from interp_widgets.compute.patching.activation import LogitDiff, patch

COMPONENTS = ["resid_pre", "mlp_out", "head_out_by_pos"]


@pytest.fixture(scope="module")
def deep():
    import interp_widgets as iw

    return iw.load_model("embedded-6l")


def pair(model, n=24, changed=11):
    clean = torch.randint(1, model.cfg.d_vocab, (n,), generator=torch.Generator().manual_seed(1))
    clean[0] = model.tokenizer.bos_token_id
    corrupt = clean.clone()
    corrupt[changed] = (clean[changed] + 5) % model.cfg.d_vocab
    return clean, corrupt


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_fast_equals_one_forward_per_cell_with_unequal_suffixes(deep, component, direction):
    clean, corrupt = pair(deep)
    metric = LogitDiff(5, 11)
    fast = patch(deep, clean, corrupt, metric, component, direction)
    hooks = patch(deep, clean, corrupt, metric, component, direction, fast=False)
    torch.testing.assert_close(fast.values, hooks.values, atol=1e-4, rtol=0)


def test_cells_that_write_what_the_target_has_are_not_run(deep, monkeypatch):
    """resid_pre: at layer 0 only the changed token differs; at every layer nothing before it does."""
    clean, corrupt = pair(deep, changed=11)
    run_rows = []
    original = patching_engines.NativeEngine._run_chunk

    def counting(self, starts, first, target, metric):
        run_rows.append(len(starts))
        return original(self, starts, first, target, metric)

    monkeypatch.setattr(patching_engines.NativeEngine, "_run_chunk", counting)
    result = patch(deep, clean, corrupt, LogitDiff(5, 11), "resid_pre", "denoise")
    n_layers, n = deep.cfg.n_layers, clean.numel()
    assert sum(run_rows) <= 1 + (n_layers - 1) * (n - 11)
    assert sum(run_rows) >= n_layers - 1  # the changed position is run at every layer
    # and the skipped cells hold the target's (corrupt run's) own value
    torch.testing.assert_close(result.values[0, :11], torch.full((11,), result.corrupt), atol=1e-5, rtol=0)
    torch.testing.assert_close(result.values[:, :11], torch.full((n_layers, 11), result.corrupt), atol=1e-5, rtol=0)
