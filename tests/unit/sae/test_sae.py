"""SAE toolkit: training reaches its targets, files round-trip (ours and SAELens'), MCS behaves."""

import json
from importlib import resources

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae import (
    ActivationStore,
    JumpReluSAE,
    ReluSAE,
    TopKSAE,
    TrainConfig,
    compare_dictionaries,
    load_sae_from_disk,
    pack_texts,
    reconstruction_metrics,
    save_sae,
    spliced_loss,
    train_saes,
)

HOOK = "blocks.0.hook_resid_post"
FAST = dict(lr=2e-3, log_every=10, warmup_steps=10)


@pytest.fixture(scope="module")
def tokens(toy):
    text = resources.files("interp_widgets.models").joinpath("toy_corpus.txt").read_text()
    return pack_texts(toy, [text] * 12, context=64)


@pytest.fixture(scope="module")
def cached_store(toy, tokens, tmp_path_factory):
    store = ActivationStore(toy, HOOK, tokens, batch_size=256, cache_path=tmp_path_factory.mktemp("cache") / "acts.npy")
    store.build_cache()
    return store


def test_pack_texts(toy, tokens):
    assert tokens.shape[1] == 64 and tokens.shape[0] > 10
    assert (tokens[:, 0] == toy.tokenizer.bos_token_id).all()


def test_topk_sae_trains_to_low_error_with_l0_equal_to_k(cached_store):
    sae = TopKSAE(64, 256, k=8, seed=0)
    history = train_saes([sae], cached_store, TrainConfig(total_steps=250, **FAST), progress=False)[0]
    x = cached_store.sample(8)
    metrics = reconstruction_metrics(sae, x)
    assert metrics["l0"] == pytest.approx(8.0)
    assert metrics["explained_variance"] > 0.6, metrics
    assert history[-1]["nmse"] < 0.5 * history[0]["nmse"]
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(256))  # decoder-norm constraint


def test_relu_sae_trains_sparse(cached_store):
    sae = ReluSAE(64, 256, seed=0)
    train_saes([sae], cached_store, TrainConfig(total_steps=250, l1_coefficient=0.2, resample_every=100, dead_after_tokens=10_000, **FAST), progress=False)
    metrics = reconstruction_metrics(sae, cached_store.sample(8))
    assert metrics["explained_variance"] > 0.55, metrics
    assert metrics["l0"] < 45, metrics  # of 256 features; untrained, about half fire


def test_several_sizes_train_from_one_model_pass(toy, tokens, tmp_path):
    calls = []
    store = ActivationStore(toy, HOOK, tokens, batch_size=256, model_batch_size=16, cache_path=tmp_path / "acts.npy")
    with toy.hooks(fwd_hooks=[("hook_embed", lambda act, hook: calls.append(act.shape[0]))]):
        saes = [TopKSAE(64, 64 * m, k=8, seed=m) for m in (1, 2, 4, 8)]
        train_saes(saes, store, TrainConfig(total_steps=60, **FAST), progress=False)
    assert sum(calls) == tokens.shape[0], "the model ran more than once over the dataset"
    assert [sae.d_sae for sae in saes] == [64, 128, 256, 512]
    assert all(sae.hook_name == HOOK for sae in saes)


def test_same_seed_same_weights(cached_store):
    def run():
        sae = ReluSAE(64, 128, seed=3)
        train_saes([sae], cached_store, TrainConfig(total_steps=30, seed=3, resample_every=10, dead_after_tokens=500, **FAST), progress=False)
        return sae.state_dict()

    first, second = run(), run()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def test_checkpoint_resume_is_exact(cached_store, tmp_path):
    config = TrainConfig(total_steps=40, seed=1, resample_every=10, dead_after_tokens=500, checkpoint_every=20,
                         checkpoint_dir=str(tmp_path), **FAST)
    straight = ReluSAE(64, 128, seed=1)
    train_saes([straight], cached_store, TrainConfig(**{**config.__dict__, "checkpoint_dir": None}), progress=False)

    def interrupt(history):
        if history[0][-1]["step"] == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_saes([ReluSAE(64, 128, seed=1)], cached_store, config, progress=False, on_log=interrupt)
    # A new process rebuilds the SAE from scratch and continues from the step-20 checkpoint.
    again = ReluSAE(64, 128, seed=99)
    history = train_saes([again], cached_store, config, progress=False)[0]
    assert [point["step"] for point in history] == [10, 20, 30, 40]
    for name, tensor in straight.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], tensor, rtol=1e-5, atol=1e-6)


def test_a_cache_for_another_hook_is_not_reused(toy, tokens, tmp_path):
    path = tmp_path / "acts.npy"
    first = ActivationStore(toy, HOOK, tokens[:4], batch_size=64, cache_path=path)
    first.build_cache()
    other = ActivationStore(toy, "blocks.1.hook_resid_post", tokens[:4], batch_size=64, cache_path=path)
    other.build_cache()
    expected = other.sample(4)
    assert torch.equal(torch.from_numpy(np.array(other._cache)), expected)
    assert not torch.equal(expected, first.sample(4))


def test_sample_covers_every_requested_sequence(toy, tokens):
    store = ActivationStore(toy, HOOK, tokens, batch_size=64, model_batch_size=4)
    assert store.sample(10).shape == (10 * 63, 64)  # three model batches, BOS left out


def test_streaming_store_without_cache(toy, tokens):
    store = ActivationStore(toy, HOOK, tokens, batch_size=128, buffer_batches=4)
    first = [batch for _, batch in zip(range(3), store.batches())]
    again = [batch for _, batch in zip(range(3), store.batches())]
    assert all(b.shape == (128, 64) for b in first)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    skipped = next(store.batches(start=2))
    assert torch.equal(skipped, first[2])


def test_save_load_round_trip(tmp_path):
    for sae in (ReluSAE(16, 32, seed=0, hook_name=HOOK), TopKSAE(16, 32, k=4, seed=0, hook_name=HOOK)):
        with torch.no_grad():
            sae.b_enc.normal_()
            sae.b_dec.normal_()
        path = save_sae(sae, tmp_path / sae.architecture)
        cfg = json.loads((path / "cfg.json").read_text())
        assert cfg["architecture"] == sae.architecture and cfg["metadata"]["hook_name"] == HOOK
        loaded = load_sae_from_disk(path)
        assert type(loaded) is type(sae) and loaded.hook_name == HOOK
        x = torch.randn(10, 16)
        torch.testing.assert_close(loaded.encode(x), sae.encode(x))
        torch.testing.assert_close(loaded(x), sae(x))


def saelens_files(path, cfg, weights):
    path.mkdir(parents=True)
    (path / "cfg.json").write_text(json.dumps(cfg))
    save_file(weights, str(path / "sae_weights.safetensors"))
    return path


def test_loads_files_in_saelens_old_flat_layout(tmp_path):
    generator = torch.Generator().manual_seed(0)
    weights = {name: torch.randn(*shape, generator=generator) for name, shape in
               {"W_enc": (8, 24), "b_enc": (24,), "W_dec": (24, 8), "b_dec": (8,)}.items()}
    cfg = {"d_in": 8, "d_sae": 24, "hook_point": "blocks.2.hook_resid_post", "activation_fn_str": "topk",
           "activation_fn_kwargs": {"k": 5}, "apply_b_dec_to_input": True, "model_name": "pythia-70m-deduped",
           "normalize_activations": "none", "sae_lens_training_version": "3.1.0"}
    sae = load_sae_from_disk(saelens_files(tmp_path / "old", cfg, weights))
    assert isinstance(sae, TopKSAE) and sae.k == 5 and sae.hook_name == "blocks.2.hook_resid_post"
    x = torch.randn(3, 8, generator=generator)
    pre = (x - weights["b_dec"]) @ weights["W_enc"] + weights["b_enc"]
    values, indices = pre.topk(5, dim=-1)
    expected = torch.zeros_like(pre).scatter_(-1, indices, values.relu())
    torch.testing.assert_close(sae.encode(x), expected)


def test_loads_saelens_v6_jumprelu(tmp_path):
    weights = {"W_enc": torch.eye(4), "b_enc": torch.zeros(4), "W_dec": torch.eye(4), "b_dec": torch.zeros(4),
               "threshold": torch.tensor([0.5, 0.5, 2.0, 2.0])}
    cfg = {"architecture": "jumprelu", "d_in": 4, "d_sae": 4, "dtype": "float32", "apply_b_dec_to_input": False,
           "normalize_activations": "none", "metadata": {"hook_name": "blocks.0.hook_resid_post", "sae_lens_version": "6.5.0"}}
    sae = load_sae_from_disk(saelens_files(tmp_path / "v6", cfg, weights))
    assert isinstance(sae, JumpReluSAE)
    torch.testing.assert_close(sae.encode(torch.tensor([[1.0, 0.1, 3.0, 1.0]])), torch.tensor([[1.0, 0.0, 3.0, 0.0]]))


def test_unsupported_files_get_clear_errors(tmp_path):
    weights = {"W_enc": torch.eye(4), "b_enc": torch.zeros(4), "W_dec": torch.eye(4), "b_dec": torch.zeros(4)}
    with pytest.raises(InterpWidgetsError, match="'gated' SAE; interp-widgets loads"):
        load_sae_from_disk(saelens_files(tmp_path / "g", {"architecture": "gated", "d_in": 4, "d_sae": 4}, weights))
    with pytest.raises(InterpWidgetsError, match="normalises its inputs"):
        load_sae_from_disk(saelens_files(tmp_path / "n", {"architecture": "standard", "d_in": 4, "d_sae": 4, "normalize_activations": "layer_norm"}, weights))
    with pytest.raises(InterpWidgetsError, match="describes"):
        load_sae_from_disk(saelens_files(tmp_path / "s", {"architecture": "standard", "d_in": 4, "d_sae": 8}, weights))
    with pytest.raises(InterpWidgetsError, match="cfg.json does not exist"):
        load_sae_from_disk(tmp_path / "nothing")


def test_mcs_with_itself_is_one_and_with_random_is_low():
    sae = ReluSAE(64, 256, seed=0)
    same = compare_dictionaries(sae, sae)
    torch.testing.assert_close(same.mcs, torch.ones(256))
    other = compare_dictionaries(sae, ReluSAE(64, 512, seed=1))
    assert other.mcs.shape == (256,) and other.mmcs < 0.6
    counts, edges = other.histogram()
    assert int(counts.sum()) == 256 and edges[-1] == 1.0
    from interp_widgets.widgets import HistogramView

    view = HistogramView.from_comparison(other)
    assert "MMCS" in view.to_text() and f"{other.mmcs:.3f}"[:4] in view.caption
    with pytest.raises(InterpWidgetsError, match="different widths"):
        compare_dictionaries(sae, ReluSAE(32, 64))


def test_spliced_loss_of_a_perfect_reconstruction_recovers_everything(toy, tokens):
    identity = ReluSAE(64, 128, hook_name=HOOK)
    with torch.no_grad():  # features = relu(x), relu(-x): decodes back to x exactly
        identity.W_enc.copy_(torch.cat([torch.eye(64), -torch.eye(64)], dim=1))
        identity.W_dec.copy_(torch.cat([torch.eye(64), -torch.eye(64)], dim=0))
        identity.b_dec.zero_()
    result = spliced_loss(toy, identity, tokens[:2])
    assert result["ce_spliced"] == pytest.approx(result["ce_clean"], abs=1e-4)
    assert result["ce_loss_recovered"] == pytest.approx(1.0, abs=1e-3)
    assert result["ce_zero_ablated"] != pytest.approx(result["ce_clean"])


def test_reconstruction_metrics_match_direct_maths():
    sae = ReluSAE(8, 16, seed=0)
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    metrics = reconstruction_metrics(sae, x, batch_size=7)
    with torch.no_grad():
        features = sae.encode(x)
        error = x - sae.decode(features)
    assert metrics["mse"] == pytest.approx(float(error.pow(2).mean()), rel=1e-5)
    assert metrics["l0"] == pytest.approx(float((features > 0).sum(-1).float().mean()))
    assert metrics["explained_variance"] == pytest.approx(float(1 - error.pow(2).sum() / (x - x.mean(0)).pow(2).sum()), rel=1e-5)


def test_bad_input(toy, tokens, cached_store):
    with pytest.raises(InterpWidgetsError, match="Did you mean"):
        ActivationStore(toy, "blocks.0.hook_resid_pots", tokens)
    with pytest.raises(InterpWidgetsError, match="empty"):
        ActivationStore(toy, HOOK, tokens[:0])
    with pytest.raises(InterpWidgetsError, match="d_in=32 but the activations .* width 64"):
        train_saes([ReluSAE(32, 64)], cached_store, TrainConfig(total_steps=2), progress=False)
    with pytest.raises(InterpWidgetsError, match="fewer than one sequence"):
        pack_texts(toy, ["hi"], context=64)


def test_non_finite_activations_are_reported(tokens):
    from interp_widgets.models import toy_model

    broken = toy_model(seed=5)
    with torch.no_grad():
        broken.embed.W_E[:] = float("nan")
    store = ActivationStore(broken, HOOK, tokens[:4], batch_size=16)
    with pytest.raises(InterpWidgetsError, match=r"NaN or infinity.*sequences 0 to 3"):
        store.sample(4)


def test_progress_bar_names_every_sae():
    from interp_widgets.sae.train import progress_line

    saes = [ReluSAE(8, 8), ReluSAE(8, 32), ReluSAE(8, 20)]
    logs = [{"nmse": 0.5, "l0": 3.0, "dead_fraction": 0.0}, {"nmse": 0.25, "l0": 7.4, "dead_fraction": 0.125},
            {"nmse": 0.1, "l0": 2.0, "dead_fraction": 1.0}]
    assert progress_line(saes, logs) == ("1x nmse 0.500 L0 3 dead 0% | 4x nmse 0.250 L0 7 dead 12% | "
                                         "20 features nmse 0.100 L0 2 dead 100%")
