"""Transcoders: training fits a known sparse map, files round-trip, and the shipped ones load offline
with cards whose numbers the shipped weights reproduce."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models.transcoders import transcoder_card
from interp_widgets.sae import ReluSAE, TrainConfig, save_sae
from interp_widgets.sae.transcoder import Transcoder, input_hook, load_transcoder, replaced_loss, save_transcoder, train_transcoder, transcoder_metrics


def sparse_map(n: int, seed: int = 0):
    """Inputs `[n, 48]` and targets `[n, 48]` made by a hidden sparse dictionary of 32 directions, 3 active per input."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.zeros(n, 32)
    chosen = torch.rand(n, 32, generator=generator).topk(3, dim=-1).indices
    codes.scatter_(1, chosen, torch.rand(n, 3, generator=generator) + 0.5)
    dictionary = torch.Generator().manual_seed(123)  # the same hidden map whatever the seed of the codes
    read = torch.randn(32, 48, generator=dictionary)
    write = torch.randn(32, 48, generator=dictionary)
    return codes @ read, codes @ write


def test_training_fits_a_known_sparse_map():
    inputs, targets = sparse_map(20000)
    transcoder = Transcoder(48, 64, k=4, layer=0, seed=0)
    before = transcoder_metrics(transcoder, inputs[:2000], targets[:2000])["explained_variance"]
    history = train_transcoder(transcoder, inputs, targets, TrainConfig(total_steps=600, lr=3e-3, warmup_steps=20, log_every=100), batch_size=256)
    after = transcoder_metrics(transcoder, *sparse_map(4000, seed=1))
    assert after["explained_variance"] > 0.8 > before
    assert after["l0"] <= 4 and history[-1]["step"] == 600
    assert torch.allclose(transcoder.W_dec.norm(dim=-1), torch.ones(64), atol=1e-5)
    with pytest.raises(InterpWidgetsError, match=r"\[n, 48\]"):
        train_transcoder(transcoder, inputs[:, :8], targets[:, :8])


def test_files_round_trip_and_an_sae_is_not_a_transcoder(tmp_path):
    transcoder = Transcoder(16, 48, k=5, layer=3, seed=1)
    with torch.no_grad():
        transcoder.b_enc.normal_()
        transcoder.b_dec.normal_()
    loaded = load_transcoder(save_transcoder(transcoder, tmp_path / "tc"))
    x = torch.randn(10, 16)
    assert loaded.layer == 3 and loaded.k == 5 and loaded.hook_name == input_hook(3) and loaded.hook_name_out == "blocks.3.hook_mlp_out"
    assert torch.allclose(loaded(x), transcoder(x))
    save_sae(ReluSAE(16, 32), tmp_path / "sae")
    with pytest.raises(InterpWidgetsError, match="not a transcoder"):
        load_transcoder(tmp_path / "sae")


@pytest.mark.parametrize("name", ["embedded", "embedded-6l"])
def test_shipped_transcoders_load_offline_and_reproduce_their_card(name):
    model = iw.load_model(name)
    transcoders = iw.load_transcoders(name)
    card = transcoder_card(name)
    assert [tc.layer for tc in transcoders] == list(range(model.cfg.n_layers))
    assert all(tc.W_enc.dtype == torch.float32 and tc.d_in == model.cfg.d_model and tc.d_sae == card["d_transcoder"] for tc in transcoders)
    for entry in card["layers"]:
        assert {"l0", "explained_variance", "dead_fraction"} <= set(entry)
        # (the 6-layer model's layer-1 MLP writes little: 4 % of its features explain 90 % of it, the rest are dead)
        assert 0 < entry["l0"] <= card["k"] and 0.5 < entry["explained_variance"] <= 1 and 0 <= entry["dead_fraction"] < 0.97
    # the loss with every MLP replaced, on the card's own held-out windows, is what the card says
    tokens = iw.models.loaders.validation_tokens(context=card["recipe"]["context"])[: card["held_out"]["loss_windows"]]
    loss = replaced_loss(model, transcoders, tokens)
    for key in ("ce_clean", "ce_replaced", "ce_mlps_zeroed", "ce_loss_recovered"):
        assert loss[key] == pytest.approx(card["replaced"][key], abs=0.01), key
    assert loss["ce_clean"] < loss["ce_replaced"] < loss["ce_mlps_zeroed"]


def test_missing_transcoders_say_how_to_make_them(tmp_path):
    with pytest.raises(InterpWidgetsError, match="layer_0"):
        iw.load_transcoders(str(tmp_path))
