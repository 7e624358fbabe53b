"""The positional picture: the 6-layer model's arc and "how late" direction (no helix), a GPT-2-shaped
random model through the same code, a synthetic helix, and a clear refusal for rotary positions."""

import math

import pytest
import torch

from interp_widgets.compute.residual.positions import position_embeddings, positional_picture
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models import load_model


@pytest.fixture(scope="module")
def gpt2_shaped(random_gpt2):
    """A random-weight GPT-2 (learned positions) built from a config and loaded like a hub model."""
    path, model = random_gpt2(n_layer=2, n_embd=48, n_positions=96)
    return load_model(str(path)), model.transformer.wpe.weight.detach()


def test_six_layer_model_shows_an_arc_and_a_how_late_direction_but_no_helix():
    picture = positional_picture(load_model("embedded-6l"))
    assert picture["n_ctx"] == 256 and picture["components"].shape == (6, 255)
    assert 0 in picture["how_late"] and abs(picture["position_correlation"][0]) > 0.9
    assert not picture["helix"] and picture["circles"] == []
    assert any("no helix" in line and "arc" in line for line in picture["verdict"])
    assert sum(picture["variance_share"][:2]) > 0.5
    assert picture["first_token_z"] > 2  # position 0 stands apart
    assert picture["first_token"].shape == (6,)


def test_gpt2_shaped_model_goes_through_the_same_code(gpt2_shaped):
    model, wpe = gpt2_shaped
    torch.testing.assert_close(position_embeddings(model).float(), wpe)
    picture = positional_picture(model, k=4)
    assert picture["components"].shape == (4, 95) and picture["n_ctx"] == 96 and picture["d_model"] == 48
    assert not picture["helix"]  # random weights: no structure
    assert max(picture["variance_share"]) < 0.2


def test_first_token_coordinates_are_the_projection_on_the_same_components():
    w_pos = torch.randn(40, 16, generator=torch.Generator().manual_seed(0))
    picture = positional_picture(w_pos, k=3)
    rest = w_pos[1:].double()
    centred = rest - rest.mean(dim=0)
    for i in range(3):  # the component's values are centred positions projected on a unit direction
        direction = torch.linalg.lstsq(centred, picture["components"][i].double()[:, None]).solution[:, 0]
        expected = float((w_pos[0].double() - rest.mean(dim=0)) @ direction)
        assert float(picture["first_token"][i]) == pytest.approx(expected, rel=1e-3, abs=1e-4)


def test_a_synthetic_helix_is_called_a_helix():
    position = torch.arange(200, dtype=torch.float64)
    angle = 2 * math.pi * 4 * position / 199
    w_pos = torch.zeros(200, 8, dtype=torch.float64)
    w_pos[:, 0], w_pos[:, 1], w_pos[:, 2] = torch.cos(angle), torch.sin(angle), position / 40
    w_pos[:, 3:] = 0.01 * torch.randn(200, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    picture = positional_picture(w_pos.float(), k=4)
    assert picture["helix"] and picture["how_late"] and picture["circles"][0][2] == 4, picture["verdict"]
    assert any("helix" in line and "no helix" not in line for line in picture["verdict"])


def test_rotary_default_model_is_refused_with_the_fix():
    with pytest.raises(InterpWidgetsError, match=r"rotary positions.*embedded-6l"):
        positional_picture(load_model())
    with pytest.raises(InterpWidgetsError, match="no pos_embed.W_pos"):
        position_embeddings(object())
    with pytest.raises(InterpWidgetsError, match="at least 3 positions"):
        positional_picture(torch.zeros(2, 4))
