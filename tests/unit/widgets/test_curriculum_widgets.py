"""SuperpositionToy and PositionalEmbeddings: built, driven as the front-end drives them (set
requests, the phase-diagram request), their numbers tied to compute/, text and snapshot forms."""

import re

import pytest
import torch

from interp_widgets.compute.residual.positions import positional_picture
from interp_widgets.compute.superposition import geometry
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models import load_model, toy_model
from interp_widgets.widgets.positional_embeddings import PositionalEmbeddings
from interp_widgets.widgets.superposition_toy import SuperpositionToy, ToyInputs
from tests.widget_requests import ask


@pytest.fixture(scope="module")
def toy():
    return SuperpositionToy.from_settings(n_features=5, n_hidden=2, feature_probability=0.05, seeds=2, steps=600)


def test_toy_shows_the_best_seeds_geometry(toy):
    assert toy.W.shape == (2, 5) and toy.norms.shape == (5,) and toy.gram.shape == (5, 5)
    summary = geometry(toy.W)
    torch.testing.assert_close(toy.norms, summary["norms"])
    torch.testing.assert_close(toy.superposition, summary["superposition"])
    assert toy.loss == min(toy.seed_losses) and len(toy.seed_losses) == 2
    assert toy.trajectory_steps[-1] == 600 == toy.step and toy.trajectory_dims.shape == toy.trajectory_steps.shape
    assert toy.mcs_counts.sum() >= 1 and toy.mcs_mean is not None


def test_training_yields_pictures_before_it_ends():
    widget = SuperpositionToy.from_settings(n_features=3, n_hidden=2, seeds=1, steps=120)
    out = widget.compute(ToyInputs(3, 2, 0.1, 1.0, 1, 120), lambda *a, **k: None, lambda: False)
    partial = []
    with pytest.raises(StopIteration) as finished:
        while True:
            partial.append(next(out))
    assert [p["step"] for p in partial][:2] == [1, 4] and partial[-1]["step"] == 120
    assert partial[0]["W"].shape == (2, 3) and "trajectory_dims" in finished.value.value


def test_a_slider_move_retrains_and_a_bad_one_keeps_the_view(toy):
    before = toy.W.clone()
    reply = ask(toy, "set", feature_probability=1.0)
    assert reply["ok"], reply
    assert toy.feature_probability == 1.0 and not torch.equal(toy.W, before)
    assert geometry(toy.W)["dimensions_per_feature"] > 0.9  # dense: no superposition
    kept = toy.W.clone()
    reply = ask(toy, "set", n_hidden=0)
    assert not reply["ok"] and "1-20 dimensions" in reply["error"]
    assert toy.n_hidden == 2 and torch.equal(toy.W, kept)
    assert ask(toy, "set", feature_probability=0.05)["ok"]


def test_phase_diagram_request_fills_the_grid(toy):
    reply = ask(toy, "phase_diagram", steps=300)
    assert reply["ok"] and reply["result"]["cells"] == 64
    assert toy.phase.shape == (8, 8) and set(toy.phase.unique().tolist()) <= {0, 1, 2}
    assert len(toy.phase_probabilities) == 8 and "phase diagram" in toy.to_text()


def test_toy_text_and_snapshot(toy):
    text = toy.to_text()
    assert "5 features into 2 dimensions" in text and text.count("feature ") >= 5
    for i, norm in enumerate(toy.norms.tolist()):
        assert f"feature  {i}: norm {norm:.3f}" in text
    snapshot = toy.to_static_html()
    assert "<script" not in snapshot.lower() and snapshot.count("<line ") == 5 and "static snapshot" in snapshot


def test_positional_view_on_the_six_layer_model():
    model = load_model("embedded-6l")
    view = PositionalEmbeddings.from_model(model)
    picture = positional_picture(model)
    assert view.verdict == picture["verdict"] and view.helix is False and view.how_late == picture["how_late"]
    torch.testing.assert_close(view.components, picture["components"])
    assert view.components.shape == (6, 255) and view.first_token.shape == (6,)
    assert "no helix" in view.to_text() and "PC1:" in view.to_text()
    snapshot = view.to_static_html()
    assert "<script" not in snapshot.lower() and len(re.findall(r"-?\d\.\d+,-?\d\.\d+", snapshot)) == 255


def test_positional_view_on_a_random_model_with_learned_positions_and_its_view_state():
    view = PositionalEmbeddings.from_model(toy_model(seed=1), k=3)
    assert view.components.shape == (3, 127)
    view.pc_x, view.pc_y = 2, 0
    assert "PC3 against PC1" in view.to_static_html()


def test_positional_view_refuses_rotary_positions_with_the_fix():
    with pytest.raises(InterpWidgetsError, match=r"rotary positions.*embedded-6l"):
        PositionalEmbeddings.from_model(load_model())


def test_toy_with_more_than_two_dimensions_sends_the_gram_matrix():
    widget = SuperpositionToy.from_settings(n_features=8, n_hidden=4, feature_probability=0.1, importance_decay=0.9, seeds=1, steps=200)
    assert widget.W.shape == (4, 8) and widget.gram.shape == (8, 8) and widget.mcs_counts.numel() == 0  # one seed: no MCS
    torch.testing.assert_close(widget.gram, widget.W.T @ widget.W, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(widget.importance, 0.9 ** torch.arange(8.0))
    assert "<line " not in widget.to_static_html() and widget.to_text().count("angle") == 0
