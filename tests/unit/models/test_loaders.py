"""Loaders: local Hugging Face directories, hub names offline (a fast, clear error), SAEs."""

import pytest
import torch

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models import loaders
from interp_widgets.models.loaders import load_model, load_sae
from interp_widgets.sae import ReluSAE, save_sae


@pytest.fixture(scope="module")
def tiny_gpt2_dir(random_gpt2):
    """A 2-layer GPT-2 saved the way `save_pretrained` saves a hub model, with the toy tokenizer."""
    return random_gpt2(n_layer=2, n_embd=32, n_positions=64)


def test_local_hugging_face_directory(tiny_gpt2_dir):
    path, reference = tiny_gpt2_dir
    model = load_model(str(path))
    tokens = model.to_tokens("The residual stream")
    with torch.inference_mode():
        expected = reference(tokens).logits.log_softmax(-1)
        got = model(tokens).log_softmax(-1)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert "blocks.1.hook_resid_post" in model.run_with_cache(tokens)[1]


@pytest.fixture()
def no_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_hub_name_offline_fails_fast_and_clearly(no_hub_cache, monkeypatch):
    """Fast: one probe of the hub (bounded by its timeout), then the error; no download is tried."""
    import socket

    probes = []
    monkeypatch.setattr(loaders, "hub_reachable", lambda timeout=loaders.HUB_TIMEOUT_S: probes.append(timeout) or False)

    def no_connection(*args, **kwargs):
        raise AssertionError(f"load_model tried to connect {args} after the hub was found unreachable")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    with pytest.raises(InterpWidgetsError, match="cannot be reached from here. Use the embedded model"):
        load_model("EleutherAI/pythia-70m")
    assert probes == [loaders.HUB_TIMEOUT_S]


def test_hf_hub_offline_is_respected(no_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InterpWidgetsError, match="not in the local cache"):
        load_model("gpt2")


def test_hub_probe_gives_up_within_its_timeout(monkeypatch):
    """A connection that never opens (a black-holed network): the probe answers False while it still hangs."""
    import socket
    import threading

    from huggingface_hub import constants

    asked, ended, release = [], [], threading.Event()

    def hanging(address, timeout=None):
        asked.append((address, timeout))
        release.wait(60)  # never answers while the probe waits
        ended.append(True)
        raise OSError("timed out")

    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.example:443")
    monkeypatch.setattr(socket, "create_connection", hanging)
    try:
        assert loaders.hub_reachable(timeout=0.05) is False
        assert asked == [(("hub.example", 443), 0.05)] and not ended  # it gave up while the connection still hung
    finally:
        release.set()


def test_missing_path_is_named():
    with pytest.raises(InterpWidgetsError, match="does not exist"):
        load_model("./no/such/model_dir")


def test_load_sae_from_a_directory_and_bad_names(tmp_path):
    sae = ReluSAE(8, 16, seed=0, hook_name="blocks.0.hook_resid_post")
    loaded = load_sae(str(save_sae(sae, tmp_path / "sae")))
    torch.testing.assert_close(loaded.W_enc, sae.W_enc)
    with pytest.raises(InterpWidgetsError, match="pass its id too"):
        load_sae("gpt2-small-res-jb")


def test_missing_embedded_assets_are_explained(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "embedded_dir", lambda model="embedded": tmp_path / model)
    with pytest.raises(InterpWidgetsError, match="toy_model"):
        load_model()
    with pytest.raises(InterpWidgetsError, match="'embedded-6l' is not in this installation.*recipe6.sh"):
        load_model("embedded-6l")
    with pytest.raises(InterpWidgetsError, match="train_saes.py"):
        load_sae("2x")
    with pytest.raises(InterpWidgetsError, match="embedded-6l model's 4x SAE .*train_saes.py"):
        load_sae("embedded-6l/4x")
    with pytest.raises(InterpWidgetsError, match="catalogue"):
        loaders.feature_catalogue()


def copy_of_embedded(tmp_path, edit):
    """The embedded model's files in `tmp_path`, with `edit(weights)` applied to its weights."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(loaders.embedded_dir(), tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("saes"))
    weights = load_file(str(tmp_path / "model.safetensors"))
    edit(weights)
    save_file(weights, str(tmp_path / "model.safetensors"))
    return tmp_path


def test_weights_that_do_not_fit_the_config_are_named(tmp_path):
    path = copy_of_embedded(tmp_path, lambda weights: weights.pop("layers.1.attn.q.weight"))
    with pytest.raises(InterpWidgetsError, match=r"does not match config.json .*layers\.1\.attn\.q\.weight"):
        load_model(str(path))


def test_an_unembedding_bias_is_optional_across_transformer_lens_versions(tmp_path):
    """Our files have no `head.bias`; transformer-lens 3.9's native model has it as a parameter, 4.x as a zero buffer."""
    reference = load_model()
    zero_bias = lambda weights: weights.update({"head.bias": torch.zeros(weights["head.weight"].shape[0], dtype=torch.float16)})  # noqa: E731
    path = copy_of_embedded(tmp_path, zero_bias)
    tokens = reference.to_tokens("Der Hund schläft.")
    with torch.inference_mode():
        assert torch.allclose(load_model(str(path))(tokens), reference(tokens))
