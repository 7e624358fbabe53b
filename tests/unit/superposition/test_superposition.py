"""Toy models of superposition: known answers from Elhage et al. (best of 8 seeds), the batched
loss against a plain per-setting loop, the geometry measures on hand-built weights, MCS, callbacks."""

import math

import pytest
import torch

from interp_widgets.compute.superposition import (
    PHASES, ToySetting, align_hidden, dimensions_per_feature, geometry, phase_diagram,
    seed_mcs, train_toy_models, weighted_loss, _stack_settings,
)
from interp_widgets.errors import InterpWidgetsError

PENTAGON = ToySetting(5, 2, 0.05)
ANTIPODAL = ToySetting(2, 1, 0.1)
DENSE = ToySetting(5, 5, 1.0, importance_decay=0.9)


@pytest.fixture(scope="module")
def known():
    """The three known-answer settings, 8 seeds each, trained in one batch; the best seed of each."""
    settings = [ToySetting(**{**s.__dict__, "seed": seed}) for s in (PENTAGON, ANTIPODAL, DENSE) for seed in range(8)]
    models = train_toy_models(settings, snapshot_every=100)
    best = models.best_of_seeds()
    assert [models.settings[i].n_features for i in best] == [5, 2, 5]
    return models, best


def test_five_sparse_features_in_two_dimensions_make_a_pentagon(known):
    models, best = known
    W, _ = models.weights(best[0])  # [2, 5]
    angles = torch.rad2deg(torch.atan2(W[1], W[0])).sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 360]))
    assert ((gaps - 72).abs() <= 5).all(), gaps
    norms = geometry(W)["norms"]
    assert ((norms / norms.mean() - 1).abs() <= 0.10).all(), norms
    assert norms.min() > 0.5  # all five represented, not dropped
    assert geometry(W)["dimensionality"].sub(0.4).abs().max() < 0.05  # 2 dimensions shared by 5 features


def test_two_sparse_features_in_one_dimension_are_an_antipodal_pair(known):
    models, best = known
    W, _ = models.weights(best[1])  # [1, 2]
    cosine = torch.nn.functional.cosine_similarity(W[:, 0], W[:, 1], dim=0)
    assert cosine < -0.95, W
    assert geometry(W)["angles"][0, 1] > 160


def test_dense_features_with_decaying_importance_get_orthogonal_dimensions(known):
    models, best = known
    W, _ = models.weights(best[2])  # [5, 5]
    gram = W.T @ W
    off_diagonal = gram - torch.diag(gram.diagonal())
    assert off_diagonal.abs().max() < 0.1, gram
    assert (gram.diagonal() - 1).abs().max() < 0.1, gram.diagonal()
    assert geometry(W)["superposition"].max() < 0.1


def test_trajectory_snapshots_end_at_the_trained_weights(known):
    models, _ = known
    assert models.steps[0] == 1 and models.steps[-1] == 2000 and len(models.steps) == 21
    assert models.W_history.shape == (21, 24, 5, 5) and models.loss_history.shape == (21, 24)
    assert torch.equal(models.W_history[-1], models.W)
    per_feature = dimensions_per_feature(models)  # [T, settings]
    assert per_feature[-1, 0] == pytest.approx(2 / float(models.W[0].pow(2).sum()), rel=1e-5)
    assert (models.loss_history[-1] < models.loss_history[0]).all()


def reference_loss(setting: ToySetting, W, b, x):
    """One setting alone, one sample at a time: Σᵢ Iᵢ (xᵢ − ReLU(Wᵀ W x + b)ᵢ)², averaged."""
    importance = setting.importance()
    total = 0.0
    for sample in x:
        out = torch.relu(W.T @ (W @ sample) + b)
        total = total + (importance * (sample - out) ** 2).sum()
    return total / x.shape[0]


def test_batched_loss_and_gradients_equal_a_plain_loop_over_padded_settings():
    settings = [ToySetting(3, 2, 0.5, seed=1), ToySetting(5, 1, 0.3, importance_decay=0.8, seed=2), ToySetting(2, 3, 1.0, seed=3)]
    importance, probability, mask, init = _stack_settings(settings)
    W = init.clone().requires_grad_(True)
    b = torch.randn(3, 5, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    x = torch.rand(3, 16, 5, generator=torch.Generator().manual_seed(1)) * (probability[:, None, :] > 0)
    weighted_loss(W * mask, b, x, importance).sum().backward()
    for index, setting in enumerate(settings):
        n, m = setting.n_features, setting.n_hidden
        W_alone = init[index, :m, :n].clone().requires_grad_(True)
        b_alone = b.detach()[index, :n].clone().requires_grad_(True)
        loss = reference_loss(setting, W_alone, b_alone, x[index, :, :n])
        loss.backward()
        torch.testing.assert_close(W.grad[index, :m, :n], W_alone.grad, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(b.grad[index, :n], b_alone.grad, rtol=1e-4, atol=1e-6)
        assert (W.grad[index] * (1 - mask[index])).abs().max() == 0  # padding gets no gradient


def test_geometry_of_hand_built_weights():
    antipodal = geometry(torch.tensor([[1.0, -1.0]]))
    torch.testing.assert_close(antipodal["superposition"], torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(antipodal["dimensionality"], torch.tensor([0.5, 0.5]))
    assert antipodal["angles"][0, 1] == pytest.approx(180, abs=1e-3)
    pentagon = torch.stack([torch.cos(torch.arange(5) * 2 * math.pi / 5), torch.sin(torch.arange(5) * 2 * math.pi / 5)])
    torch.testing.assert_close(geometry(pentagon)["dimensionality"], torch.full((5,), 0.4))
    assert geometry(pentagon)["dimensions_per_feature"] == pytest.approx(0.4)
    dropped = geometry(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))  # feature 1 not represented
    torch.testing.assert_close(dropped["superposition"], torch.zeros(2))
    assert math.isnan(dropped["angles"][0, 1]) and dropped["dimensionality"][1] == 0


def test_phase_diagram_finds_the_three_phases():
    diagram = phase_diagram([1.0, 0.03], [0.1, 10.0], seeds=2, steps=1500)
    names = [[PHASES[int(p)] for p in row] for row in diagram["phase"]]
    assert names[0] == ["not represented", "own dimension"], diagram  # dense: the weaker feature loses
    assert names[1] == ["superposition", "superposition"], diagram  # sparse: both share the dimension
    assert diagram["norm"][0, 0] < 0.1 and diagram["norm"][0, 1] > 0.9
    assert len(diagram["models"].settings) == 8


def test_max_cosine_similarity_equals_a_plain_loop():
    from interp_widgets.compute.core.similarity import max_cosine_similarity

    a, b = torch.randn(7, 4, generator=torch.Generator().manual_seed(0)), torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    expected = [max(float(torch.dot(u, v) / (u.norm() * v.norm())) for v in b) for u in a]
    torch.testing.assert_close(max_cosine_similarity(a, b), torch.tensor(expected), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(max_cosine_similarity(a, b, chunk=2), torch.tensor(expected), rtol=1e-5, atol=1e-6)  # in blocks


def test_seed_mcs_recovers_a_rotated_copy_and_tells_apart_a_different_model():
    W = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)))
    torch.testing.assert_close(align_hidden(rotation @ W, W), W, rtol=1e-4, atol=1e-5)
    same = seed_mcs(W, rotation @ W, min_norm=0.0)
    assert same["mcs"].min() > 0.999 and same["same_feature"].min() > 0.999
    assert same["counts"][-1] == 8 and same["counts"].sum() == 8
    other = seed_mcs(W, torch.randn(3, 8, generator=torch.Generator().manual_seed(2)), min_norm=0.0)
    assert other["same_feature"].mean() < 0.9


def test_callbacks_progress_stop_and_snapshots():
    seen, snapshots = [], []
    models = train_toy_models([ToySetting(3, 2, 0.1)], steps=400, snapshot_every=50,
                              progress=lambda done, total: seen.append((done, total)),
                              should_stop=lambda: len(seen) >= 3, on_snapshot=lambda step, W, loss: snapshots.append(step))
    assert models.stopped and seen == [(50, 400), (100, 400), (150, 400)]
    assert snapshots == [1, 50, 100, 150] and models.steps == snapshots


@pytest.mark.parametrize("bad, words", [
    (dict(settings=[]), "at least one"),
    (dict(settings=[ToySetting(3, 2, 0.0)]), "probability"),
    (dict(settings=[ToySetting(3, 0, 0.5)]), "hidden"),
    (dict(settings=[ToySetting(3, 2, 0.5, importances=(1.0, 2.0))]), "one per feature"),
    (dict(settings=[ToySetting(3, 2, 0.5)], steps=0), "positive"),
])
def test_bad_settings_are_refused_clearly(bad, words):
    with pytest.raises(InterpWidgetsError, match=words):
        train_toy_models(**bad)


def test_small_start_shows_a_phase_change_in_training():
    """From small weights the pentagon setting passes through a plateau where one feature keeps a
    dimension of its own (dimensionality ~1) for hundreds of steps before joining the others."""
    models = train_toy_models([ToySetting(5, 2, 0.05, seed=s) for s in range(4)], steps=3000, lr=1e-3, init_scale=0.02, snapshot_every=100)
    assert models.W_history[0].abs().max() < 0.1  # a small start
    found = False
    for s in range(4):
        dims = torch.stack([geometry(W)["dimensionality"] for W in models.W_history[:, s]])  # [T, n]
        for i in range(5):
            own = (dims[:, i] >= 0.95).int().tolist()
            longest = max(len(run) for run in "".join(map(str, own)).split("0"))
            found |= longest >= 5 and float(dims[-1, i]) <= 0.6
    assert found
