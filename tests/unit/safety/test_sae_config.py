"""An SAE's cfg.json is a file from disk: its dtype is only ever a floating dtype (never any torch
attribute it names), d_in, d_sae and k are positive whole numbers (k: 0 is an error, not a
missing k), and each bad value ends in an InterpWidgetsError naming the field."""

import json
import warnings

import pytest
import torch

from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae import ReluSAE, TopKSAE, load_sae_from_disk, save_sae
from interp_widgets.sae.transcoder import Transcoder, load_transcoder, save_transcoder


@pytest.fixture()
def saved(tmp_path):
    return {"relu": save_sae(ReluSAE(8, 16, seed=0), tmp_path / "relu"), "topk": save_sae(TopKSAE(8, 16, k=4, seed=0), tmp_path / "topk")}


def rewrite(path, **changes):
    cfg = json.loads((path / "cfg.json").read_text())
    for name, value in changes.items():
        if value is ...:
            cfg.pop(name, None)
        else:
            cfg[name] = value
    (path / "cfg.json").write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize("dtype", ["load", "_dynamo", "__builtins__", "nn", "Tensor", "int8", "bool", "complex64", "torch.load", 5, ["float32"]])
def test_a_dtype_that_is_not_floating_is_refused(saved, dtype):
    with pytest.raises(InterpWidgetsError, match=r"cfg.json has dtype .*, not a floating dtype: write one of \['bfloat16', 'float16', 'float32', 'float64'\]"):
        load_sae_from_disk(rewrite(saved["relu"], dtype=dtype))


@pytest.mark.parametrize("dtype, expected", [("float16", torch.float16), ("torch.bfloat16", torch.bfloat16), ("float32", torch.float32), (None, torch.float32)])
def test_floating_dtypes_load(saved, dtype, expected):
    assert load_sae_from_disk(rewrite(saved["relu"], dtype=dtype)).W_enc.dtype == expected


def test_float64_is_not_silently_twice_the_memory(saved):
    path = rewrite(saved["relu"], dtype="float64")
    with pytest.warns(UserWarning, match="says float64: loading in float32"):
        assert load_sae_from_disk(path).W_enc.dtype == torch.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_sae_from_disk(path, dtype=torch.float64).W_enc.dtype == torch.float64  # asked for: no warning
    with pytest.raises(InterpWidgetsError, match="not a floating torch dtype"):
        load_sae_from_disk(path, dtype=torch.int64)


@pytest.mark.parametrize("k, message", [
    (0, "has k=0, not a positive whole number"),
    (-3, "has k=-3, not a positive whole number"),
    (17, "has k=17, more than its d_sae=16 features"),
    (2.5, "has k=2.5, not a positive whole number"),
    ("4", 'has k="4", not a positive whole number'),
    (True, "has k=true, not a positive whole number"),
    (None, "has no 'k'"),
    (..., "has no 'k'"),
])
def test_k_must_be_a_valid_count(saved, k, message):
    with pytest.raises(InterpWidgetsError, match=message.replace("(", r"\(")):
        load_sae_from_disk(rewrite(saved["topk"], k=k))


def test_k_from_saelens_older_layout_and_zero_is_not_missing(saved):
    path = rewrite(saved["topk"], k=..., activation_fn="topk", activation_fn_kwargs={"k": 3})
    assert load_sae_from_disk(path).k == 3
    path = rewrite(saved["topk"], k=0, activation_fn_kwargs={"k": 3})  # k: 0 is the file's value, not a gap to fill
    with pytest.raises(InterpWidgetsError, match="has k=0"):
        load_sae_from_disk(path)


@pytest.mark.parametrize("changes, message", [
    ({"d_in": "8"}, 'has d_in="8", not a positive whole number'),
    ({"d_sae": 0}, "has d_sae=0, not a positive whole number"),
    ({"d_in": ...}, "has no 'd_in'"),
    ({"architecture": ["topk"]}, r'has architecture \["topk"\], not a name'),
    ({"metadata": [1]}, "is not a JSON object with an object 'metadata'"),
])
def test_other_bad_fields_are_named(saved, changes, message):
    with pytest.raises(InterpWidgetsError, match=message):
        load_sae_from_disk(rewrite(saved["relu"], **changes))


def test_a_cfg_that_is_not_json_and_a_broken_weights_file(saved):
    (saved["relu"] / "cfg.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(InterpWidgetsError, match="is not valid JSON"):
        load_sae_from_disk(saved["relu"])
    (saved["topk"] / "sae_weights.safetensors").write_bytes(b"\x00" * 12)
    with pytest.raises(InterpWidgetsError, match="is not a readable safetensors file"):
        load_sae_from_disk(saved["topk"])


@pytest.mark.parametrize("layer", ["1", -1, 1.5, True, [1]])
def test_a_transcoders_layer_is_a_layer_number(tmp_path, layer):
    path = save_transcoder(Transcoder(8, 16, k=4, layer=1, seed=0), tmp_path / "tc")
    assert load_transcoder(path).layer == 1
    cfg = json.loads((path / "cfg.json").read_text())
    cfg["metadata"]["layer"] = layer
    (path / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(InterpWidgetsError, match="not a layer number"):
        load_transcoder(path)
