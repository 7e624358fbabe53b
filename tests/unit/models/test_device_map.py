"""load_model(device_map=...): a Hugging Face model split by accelerate gives the unsplit model's numbers.

The test builds a small GPT-2 (3 layers) from a config, saves it with save_pretrained, and loads it
twice: whole on the CPU, and split between the CPU and disk offload (blocks 1-2 and the final
LayerNorm on disk, as accelerate does when a model outgrows its devices; transformer-lens 3.9
refuses disk offload, so there the map is onto the CPU alone). Every compute function below must
agree to 1e-4.
"""

import inspect

import pytest
import torch

from interp_widgets.errors import InterpWidgetsError
from tests.parts import need_module

need_module("accelerate", "pip install -e '.[multi-device]'; scripts/setup.sh installs it")  # in CI: a failure, not a skip

SPLIT = {"transformer.wte": "cpu", "transformer.wpe": "cpu", "transformer.drop": "cpu", "transformer.h.0": "cpu",
         "transformer.h.1": "disk", "transformer.h.2": "disk", "transformer.ln_f": "disk", "lm_head": "cpu"}
PROMPT = "The cat sat on the mat because the mat was warm"


def bridge_takes_disk() -> bool:
    from transformer_lens.model_bridge import TransformerBridge

    return "offload_folder" in inspect.signature(TransformerBridge.boot_transformers).parameters


@pytest.fixture(scope="module")
def gpt2_dir(random_gpt2):
    return random_gpt2(n_layer=3, n_embd=64, n_positions=64)[0]


@pytest.fixture(scope="module")
def pair(gpt2_dir, tmp_path_factory):
    import interp_widgets as iw

    whole = iw.load_model(str(gpt2_dir), device="cpu")
    if bridge_takes_disk():
        split = iw.load_model(str(gpt2_dir), device_map=SPLIT, offload_folder=str(tmp_path_factory.mktemp("offload")))
    else:  # transformer-lens 3.9 refuses disk offload (tested below): a map onto the CPU alone still goes through accelerate
        split = iw.load_model(str(gpt2_dir), device_map={module: "cpu" for module in SPLIT})
    return whole, split


def close(a, b):
    a, b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    assert a.shape == b.shape
    assert torch.equal(a.isnan(), b.isnan())
    torch.testing.assert_close(a.nan_to_num(), b.nan_to_num(), atol=1e-4, rtol=1e-4)


def test_the_split_model_is_really_split(pair):
    _, split = pair
    if not bridge_takes_disk():
        pytest.skip("transformer-lens 3.9 refuses disk offload")
    placed = split.original_model.hf_device_map
    assert placed["transformer.h.1"] == "disk" and placed["transformer.h.0"] == "cpu"
    # an offloaded block's weights are not in memory: accelerate materialises them during its forward
    assert split.original_model.transformer.h[1].attn.c_attn.weight.device.type == "meta"


def test_logits_and_cache(pair):
    whole, split = pair
    tokens = whole.to_tokens(PROMPT)
    with torch.inference_mode():
        close(whole(tokens), split(tokens))
        _, a = whole.run_with_cache(tokens)
        _, b = split.run_with_cache(tokens)
    assert set(a.keys()) == set(b.keys())
    for name in a.keys():
        close(a[name], b[name])


def test_logit_lens_and_residual_norms(pair):
    from interp_widgets.compute.residual.lens import logit_lens
    from interp_widgets.compute.residual.norms import residual_norms
    whole, split = pair
    tokens = whole.to_tokens(PROMPT)
    a, b = logit_lens(whole, tokens), logit_lens(split, tokens)
    assert torch.equal(a.top_ids, b.top_ids)
    close(a.top_probs, b.top_probs)
    close(a.kl, b.kl)
    a, b = residual_norms(whole, tokens, mid=True), residual_norms(split, tokens, mid=True)
    close(a.stream, b.stream)
    close(a.mlp, b.mlp)


def test_leave_one_out(pair):
    from interp_widgets.compute.ablation.removal import leave_one_out

    whole, split = pair
    readout = 3  # neuron 3 of block 1's MLP
    a = leave_one_out(whole, PROMPT, "blocks.1.mlp.hook_post", readout)
    b = leave_one_out(split, PROMPT, "blocks.1.mlp.hook_post", readout)
    assert a.target == b.target
    close(a.clean, b.clean)
    close(a.drop, b.drop)


@pytest.mark.parametrize("component", ["resid_pre", "head_out_by_pos"])
def test_patching_cells(pair, component):
    from interp_widgets.compute.patching.activation import patch

    whole, split = pair
    metric = (17, 42)  # logit difference of two token ids
    clean = whole.to_tokens(PROMPT)
    corrupt = clean.clone()
    corrupt[0, 2], corrupt[0, -1] = 17, 42
    last = clean.shape[1] - 1
    cells = [(0, 2), (1, 5), (2, last)] if component == "resid_pre" else [(0, last, 1), (2, last, 3)]
    for direction in ("denoise", "noise"):
        a = patch(whole, clean, corrupt, metric, component, direction, cells=cells)
        b = patch(split, clean, corrupt, metric, component, direction, cells=cells)
        close(a.values, b.values)
        close([a.clean, a.corrupt], [b.clean, b.corrupt])


def test_attention_patterns(pair):
    from interp_widgets.compute.residual.attention_patterns import layer_patterns

    whole, split = pair
    tokens = whole.to_tokens(PROMPT)
    close(layer_patterns(whole, tokens, 2), layer_patterns(split, tokens, 2))


def test_dtype_passes_through(gpt2_dir):
    import interp_widgets as iw

    model = iw.load_model(str(gpt2_dir), dtype=torch.bfloat16)
    assert next(model.original_model.parameters()).dtype == torch.bfloat16


def test_placement_mistakes_are_explained(gpt2_dir):
    import interp_widgets as iw

    with pytest.raises(InterpWidgetsError, match="either device= .* or device_map="):
        iw.load_model(str(gpt2_dir), device="cpu", device_map="auto")
    with pytest.raises(InterpWidgetsError, match="only apply with a device_map"):
        iw.load_model(str(gpt2_dir), max_memory={"cpu": "1GB"})
    with pytest.raises(InterpWidgetsError, match="dtype must be a floating torch dtype"):
        iw.load_model(str(gpt2_dir), dtype="half")
    with pytest.raises(InterpWidgetsError, match="fits on one"):
        iw.load_model(device_map="auto")
    if not bridge_takes_disk():
        with pytest.raises(InterpWidgetsError, match="refuses disk offload"):
            iw.load_model(str(gpt2_dir), device_map=SPLIT)
