"""Published transcoder formats load as their files define them. Each test writes the files itself,
from the format's description (circuit-tracer 0.5.0's transcoder sets and cross-layer transcoders,
SAELens' transcoder directories), and checks the encodings against a plain implementation."""

import json

import pytest
import torch
import yaml
from safetensors.torch import save_file

import interp_widgets as iw
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.transcoder_files import CrossLayerTranscoder, LayerTranscoder

D, F, L = 8, 12, 3


def random_layer(seed, skip=False, threshold=False):
    g = torch.Generator().manual_seed(seed)
    tensors = {"W_enc": torch.randn(F, D, generator=g), "W_dec": torch.randn(F, D, generator=g),
               "b_enc": torch.randn(F, generator=g) * 0.5, "b_dec": torch.randn(D, generator=g)}
    if skip:
        tensors["W_skip"] = torch.randn(D, D, generator=g) * 0.1
    if threshold:  # negative and positive thresholds: the conventions differ below zero
        tensors["activation_function.threshold"] = torch.linspace(-1.0, 1.0, F)
    return tensors


def write_set(folder, layers, **config):
    folder.mkdir(parents=True, exist_ok=True)
    for layer, tensors in enumerate(layers):
        save_file(tensors, str(folder / f"layer_{layer}.safetensors"))
    config = {"model_kind": "transcoder_set", "feature_input_hook": "mlp.hook_in", "feature_output_hook": "hook_mlp_out",
              "scan": "test", "transcoders": [f"layer_{layer}.safetensors" for layer in range(len(layers))], **config}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def inputs(seed=9, n=64):
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed)) * 2


def test_a_relu_skip_set_encodes_and_predicts_as_written(tmp_path):
    layers = [random_layer(layer, skip=True) for layer in range(L)]
    transcoders = iw.load_transcoders(str(write_set(tmp_path / "set", layers)))
    assert len(transcoders) == L and all(isinstance(tc, LayerTranscoder) for tc in transcoders)
    x = inputs()
    for layer, (tc, file) in enumerate(zip(transcoders, layers)):
        assert tc.layer == layer and tc.activation == "relu" and tuple(tc.W_enc.shape) == (D, F)  # stored [F, d], kept [d, F]
        pre = x @ file["W_enc"].T + file["b_enc"]
        acts = torch.where(pre > 0, pre, torch.zeros_like(pre))
        torch.testing.assert_close(tc.encode(x), acts)
        expected = acts @ file["W_dec"] + file["b_dec"] + x @ file["W_skip"].T
        torch.testing.assert_close(tc(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(tc.skip(x), x @ file["W_skip"].T)


def test_decoders_are_read_by_rows_not_whole(tmp_path):
    layers = [random_layer(layer) for layer in range(L)]
    tc = iw.load_transcoders(str(write_set(tmp_path / "set", layers)))[1]
    assert tc.decoder._whole is None
    torch.testing.assert_close(tc.decoder_rows([5, 2, 5]), layers[1]["W_dec"][[5, 2, 5]])
    tc.decode(torch.zeros(3, F).index_fill(1, torch.tensor([4]), 1.0))
    assert tc.decoder._whole is None  # decoding reads the active rows only
    torch.testing.assert_close(tc.W_dec, layers[1]["W_dec"])  # the whole matrix on request


def test_jumprelu_is_strict_without_relu_first(tmp_path):
    layers = [random_layer(layer, threshold=True) for layer in range(L)]
    tc = iw.load_transcoders(str(write_set(tmp_path / "set", layers)))[0]
    assert tc.activation == "jumprelu"
    x = inputs()
    pre = x @ layers[0]["W_enc"].T + layers[0]["b_enc"]
    threshold = layers[0]["activation_function.threshold"]
    plain = torch.where(pre > threshold, pre, torch.zeros_like(pre))
    acts = tc.encode(x)
    torch.testing.assert_close(acts, plain)
    assert (acts < 0).any()  # pre-activations between a negative threshold and 0 pass as they are
    # exactly at the threshold: off (strict)
    at = torch.zeros(1, D)
    tc.b_enc.data = threshold.clone()
    assert not tc.encode(at).any()


def test_topk_keeps_the_k_largest_pre_activations_as_they_are(tmp_path):
    layers = [random_layer(layer) for layer in range(L)]
    for tensors in layers:
        tensors["b_enc"] = tensors["b_enc"] - 4.0  # most pre-activations negative: fewer than k positive
    tc = iw.load_transcoders(str(write_set(tmp_path / "set", layers, activation="topk", k=5)))[2]
    assert tc.activation == "topk" and tc.k == 5
    x = inputs()
    pre = x @ layers[2]["W_enc"].T + layers[2]["b_enc"]
    plain = torch.zeros_like(pre)
    for row in range(pre.shape[0]):
        order = sorted(range(F), key=lambda f: -float(pre[row, f]))[:5]
        plain[row, order] = pre[row, order]
    acts = tc.encode(x)
    torch.testing.assert_close(acts, plain)
    assert (acts.ne(0).sum(1) == 5).all() and (acts < 0).any()


def test_dtypes_are_kept_as_stored(tmp_path):
    layers = [{k: v.to(torch.bfloat16) for k, v in random_layer(layer).items()} for layer in range(L)]
    tc = iw.load_transcoders(str(write_set(tmp_path / "set", layers)))[0]
    assert tc.W_enc.dtype == torch.bfloat16 and tc.decoder_rows([0]).dtype == torch.bfloat16
    assert iw.load_transcoders(str(tmp_path / "set"), dtype=torch.float32)[0].W_enc.dtype == torch.float32


def write_clt(folder, n_layers=L, threshold=False):
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    files = []
    for layer in range(n_layers):
        enc = {f"W_enc_{layer}": torch.randn(F, D, generator=g), f"b_enc_{layer}": torch.randn(F, generator=g) * 0.5,
               f"b_dec_{layer}": torch.randn(D, generator=g)}
        if threshold:
            enc[f"threshold_{layer}"] = torch.full((F,), 0.3)
        dec = {f"W_dec_{layer}": torch.randn(F, n_layers - layer, D, generator=g)}
        save_file(enc, str(folder / f"W_enc_{layer}.safetensors"))
        save_file(dec, str(folder / f"W_dec_{layer}.safetensors"))
        files.append((enc, dec))
    (folder / "config.yaml").write_text(yaml.safe_dump({"model_kind": "cross_layer_transcoder", "feature_input_hook": "mlp.hook_in",
                                                        "feature_output_hook": "hook_mlp_out", "scan": "test"}))
    return files


def test_a_cross_layer_transcoder_writes_to_its_layer_and_every_later_one(tmp_path):
    files = write_clt(tmp_path / "clt", threshold=True)
    clt = iw.load_transcoders(str(tmp_path / "clt"))
    assert isinstance(clt, CrossLayerTranscoder) and len(clt) == L
    xs = [inputs(seed) for seed in range(L)]
    acts = []
    for layer, ((enc, _), x) in enumerate(zip(files, xs)):
        pre = x @ enc[f"W_enc_{layer}"].T + enc[f"b_enc_{layer}"]
        acts.append(torch.where(pre > 0.3, pre, torch.zeros_like(pre)))
        torch.testing.assert_close(clt[layer].encode(x), acts[-1])
        assert clt[layer].n_outputs == L - layer and clt[layer].decoder._whole is None
    for layer, predicted in enumerate(clt.reconstruct(xs)):  # sum over s <= l of f_s @ W_dec_s[:, l - s] + b_dec_l
        expected = files[layer][0][f"b_dec_{layer}"] + sum(acts[s] @ files[s][1][f"W_dec_{s}"][:, layer - s] for s in range(layer + 1))
        torch.testing.assert_close(predicted, expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(clt[1].decoder_rows([3]), files[1][1]["W_dec_1"][[3]])


def write_saelens(folder, layer, architecture, seed):
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    tensors = {"W_enc": torch.randn(D, F, generator=g), "W_dec": torch.randn(F, D, generator=g), "b_enc": torch.randn(F, generator=g),
               "b_dec": torch.randn(D, generator=g)}
    if "jumprelu" in architecture:
        tensors["threshold"] = torch.linspace(-1.0, 1.0, F)
    if "skip" in architecture:
        tensors["W_skip"] = torch.randn(D, D, generator=g) * 0.1
    save_file(tensors, str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps({
        "architecture": architecture, "d_in": D, "d_sae": F, "d_out": D, "dtype": "float32", "apply_b_dec_to_input": False,
        "metadata": {"hook_name": f"blocks.{layer}.ln2.hook_normalized", "hook_name_out": f"blocks.{layer}.hook_mlp_out"}}))
    return tensors


def test_saelens_jumprelu_transcoders_apply_relu_first(tmp_path):
    written = [write_saelens(tmp_path / f"layer_{layer}", layer, "jumprelu_skip_transcoder", layer) for layer in range(L)]
    transcoders = iw.load_transcoders(str(tmp_path))
    assert [tc.layer for tc in transcoders] == list(range(L))
    x = inputs()
    for tc, tensors in zip(transcoders, written):
        assert tc.activation == "jumprelu_relu_first" and tc.input_hook == "ln2.hook_normalized"
        pre = x @ tensors["W_enc"] + tensors["b_enc"]
        acts = torch.where((pre > tensors["threshold"]) & (pre > 0), pre, torch.zeros_like(pre))
        torch.testing.assert_close(tc.encode(x), acts)
        assert not (tc.encode(x) < 0).any()
        torch.testing.assert_close(tc(x), acts @ tensors["W_dec"] + tensors["b_dec"] + x @ tensors["W_skip"].T, rtol=1e-5, atol=1e-5)


def test_bad_files_are_refused_naming_the_problem(tmp_path, monkeypatch):
    extra = [random_layer(layer) for layer in range(L)]
    extra[1]["log_threshold"] = torch.zeros(F)
    with pytest.raises(InterpWidgetsError, match="nothing else"):
        iw.load_transcoders(str(write_set(tmp_path / "extra", extra)))
    wrong = [random_layer(layer) for layer in range(L)]
    wrong[0]["W_dec"] = torch.zeros(F, D + 1)
    with pytest.raises(InterpWidgetsError, match="W_dec is"):
        iw.load_transcoders(str(write_set(tmp_path / "wrong", wrong)))
    (tmp_path / "yaml").mkdir()
    (tmp_path / "yaml" / "config.yaml").write_text("model_kind: [unclosed")
    with pytest.raises(InterpWidgetsError, match="YAML"):
        iw.load_transcoders(str(tmp_path / "yaml"))
    with pytest.raises(InterpWidgetsError, match="topk"):
        iw.load_transcoders(str(write_set(tmp_path / "topk", [random_layer(0)], activation="topk")))
    write_clt(tmp_path / "short")
    (tmp_path / "short" / "W_dec_1.safetensors").unlink()
    with pytest.raises(InterpWidgetsError, match="decoder file"):
        iw.load_transcoders(str(tmp_path / "short"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(InterpWidgetsError, match="cannot be reached"):
        iw.load_transcoders("hf://mwhanna/qwen3-0.6b-transcoders")
    with pytest.raises(InterpWidgetsError, match="cannot be reached"):
        iw.load_transcoders("mntss/clt-gemma-2-2b-426k")
    with pytest.raises(InterpWidgetsError, match="release name"):
        iw.load_transcoders("gemma-scope-2b-pt-transcoders")
