"""Attribution on every model family of the shared matrix (tests/unit/models/families/zoo.py), or a
clear refusal: tiny random models built from configs, saved with save_pretrained and loaded with
iw.load_model(path) (native configs through boot_native), random transcoders.

On each family: every feature's pre-activation and every logit (relative to the mean; after the
soft-cap where the model has one) is its incoming edges plus its constant, and the rows equal one
autograd backward per node through the real model with hooks freezing patterns and norm scales
(where the bridge lets a hook freeze them). Skip transcoders (the skip term on the linear path) and
cross-layer transcoders (a feature writing to several layers) on the structurally different
families: RMSNorm with grouped-query attention, parallel attention and MLP, sandwich norms with an
output soft-cap, post-norm."""

import warnings

import pytest
import torch

from interp_widgets.compute.attribution.attribute import attribute
from interp_widgets.compute.attribution.reference import direct_effects_one_by_one
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.transcoder import Transcoder
from interp_widgets.sae.transcoder_files import CrossLayerPart, CrossLayerTranscoder, LayerTranscoder
from tests.unit.models.families.zoo import ALL_FAMILIES, family_model

PROMPT = "The cat sat on the mat and the dog ran"
REFUSED = {"native-attn-only": "attention-only"}
STRUCTURES = ["llama", "neox", "gemma2", "olmo2"]  # RMS + GQA, parallel, sandwich + soft-cap, post-norm


def load(name):
    try:
        return family_model(name)[0]
    except ValueError as error:
        if "Unsupported architecture" in str(error):
            pytest.skip(f"{name}: {error} in this transformer-lens")
        raise


def topk_transcoders(model, features=48, k=6):
    return [Transcoder(model.cfg.d_model, features, k=k, layer=layer, seed=layer).requires_grad_(False) for layer in range(model.cfg.n_layers)]


def skip_transcoders(model, features=24):
    d, out = model.cfg.d_model, []
    for layer in range(model.cfg.n_layers):
        g = torch.Generator().manual_seed(10 + layer)
        out.append(LayerTranscoder(layer, torch.randn(d, features, generator=g) / d**0.5, torch.randn(features, generator=g) * 0.1,
                                   torch.randn(d, generator=g) * 0.1, torch.randn(features, d, generator=g) * 0.3, "jumprelu",
                                   threshold=torch.full((features,), 0.2), W_skip=torch.randn(d, d, generator=g) * 0.2 / d**0.5))
    return out


def cross_layer_transcoder(model, features=16):
    d, L, parts = model.cfg.d_model, model.cfg.n_layers, []
    for layer in range(L):
        g = torch.Generator().manual_seed(20 + layer)
        parts.append(CrossLayerPart(layer, torch.randn(d, features, generator=g) / d**0.5, torch.randn(features, generator=g) * 0.1,
                                    torch.randn(d, generator=g) * 0.1, torch.randn(features, L - layer, d, generator=g) * 0.3, "relu"))
    return CrossLayerTranscoder(parts)


def hooks_can_freeze(model):
    """The reference freezes attention by returning the clean pattern from `attn.hook_pattern` and norms from
    their `hook_scale`; some bridges ignore a pattern returned there (GPT-J, OPT, GPT-Neo), or fail on a
    parameter-free norm's scale (OLMo). Where they do the reference cannot build the frozen model."""
    tokens = model.to_tokens("a b")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        plain = model(tokens)
        with model.hooks(fwd_hooks=[("blocks.0.attn.hook_pattern", lambda pattern, hook: torch.zeros_like(pattern))]):
            if torch.equal(plain, model(tokens)):
                return "this bridge ignores values returned from attn.hook_pattern"
        _, cache = model.run_with_cache(tokens)
        for name in [n for n in cache if n.endswith("hook_scale")]:
            try:
                with model.hooks(fwd_hooks=[(name, lambda scale, hook: scale.clone())]):
                    model(tokens)
            except Exception as error:  # noqa: BLE001 - the bridge's own failure, reported as the skip reason
                return f"this bridge cannot take a value returned from {name} ({type(error).__name__})"
    return ""


def transcoder_input(cache, layer, tc):
    site = getattr(tc, "input_hook", "mlp.hook_in")
    if site in ("mlp.hook_in", "ln2.hook_out"):  # the MLP's input (transformer-lens 3.9's OPT bridge has no mlp.hook_in)
        site = "mlp.hook_in" if f"blocks.{layer}.mlp.hook_in" in cache else "ln2.hook_out"
    return cache[f"blocks.{layer}.{site}"][0].float().reshape(cache["blocks.0.hook_resid_pre"].shape[1], -1)


def check_exact(model, transcoders, graph, reference=True):
    with torch.inference_mode():
        logits, cache = model.run_with_cache(graph.tokens[None])
    expected = torch.stack([transcoder_input(cache, layer, transcoders[layer])[position] @ transcoders[layer].W_enc[:, feature].float()
                            + transcoders[layer].b_enc[feature].float() for layer, position, feature in graph.features.tolist()])
    completed = graph.adjacency[: graph.n_features].sum(1) + graph.bias[: graph.n_features]
    scale = float(expected.abs().max())
    assert torch.allclose(completed, expected, atol=2e-5 * max(scale, 1), rtol=0), float((completed - expected).abs().max())
    last = logits[0, -1].float()
    completed = graph.adjacency[graph.logit_offset :].sum(1) + graph.bias[graph.logit_offset :]
    assert torch.allclose(completed, last[graph.logit_tokens] - last.mean(), atol=1e-4, rtol=0)
    if not reference:
        return
    reason = hooks_can_freeze(model)
    if reason:
        pytest.skip(reason)
    rows = list(range(graph.n_features)) + list(range(graph.logit_offset, graph.n_nodes))
    hooked = direct_effects_one_by_one(model, transcoders, graph)
    scale = float(graph.adjacency[rows].abs().max())
    assert scale > 0 and torch.allclose(graph.adjacency[rows], hooked[rows], atol=2e-6 * max(scale, 1), rtol=0), \
        float((graph.adjacency[rows] - hooked[rows]).abs().max())


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_every_family_gives_an_exact_graph_or_a_clear_refusal(name):
    model = load(name)
    transcoders = topk_transcoders(model)
    if name in REFUSED:
        with pytest.raises(InterpWidgetsError, match=REFUSED[name]):
            attribute(model, transcoders, PROMPT)
        return
    graph = attribute(model, transcoders, PROMPT)
    assert graph.n_features > 0 and graph.bos_held == (int(graph.tokens[0]) in model.tokenizer.all_special_ids)
    check_exact(model, transcoders, graph)


@pytest.mark.parametrize("name", STRUCTURES)
def test_skip_transcoders_put_the_skip_on_the_linear_path(name):
    model = load(name)
    transcoders = skip_transcoders(model)
    graph = attribute(model, transcoders, PROMPT)
    check_exact(model, transcoders, graph, reference=False)
    # the skip is no part of the error: errors are the MLP outputs minus features, b_dec and the skip
    with torch.inference_mode():
        _, cache = model.run_with_cache(graph.tokens[None])
    plain = attribute(model, [LayerTranscoder(tc.layer, tc.W_enc, tc.b_enc, tc.b_dec, tc.W_dec, "jumprelu", threshold=tc.threshold)
                              for tc in transcoders], PROMPT)
    assert torch.equal(plain.features, graph.features)
    errors = slice(graph.error_offset, graph.token_offset)
    assert not torch.allclose(plain.adjacency[:, errors], graph.adjacency[:, errors], atol=1e-3)  # the skip moved off the errors
    check_exact(model, transcoders, graph)


@pytest.mark.parametrize("name", STRUCTURES)
def test_cross_layer_transcoder_features_write_to_every_later_layer(name):
    model = load(name)
    clt = cross_layer_transcoder(model)
    graph = attribute(model, clt, PROMPT)
    check_exact(model, clt, graph, reference=False)
    # a layer-0 feature writes to resid_post[0] and, through its layer-1 decoder column, to resid_post[1]:
    # with that column zeroed its edges into the logits change, those into the layer-1 features (which read
    # resid_mid[1], before the layer-1 write) do not
    cut = CrossLayerTranscoder([CrossLayerPart(p.layer, p.W_enc, p.b_enc, p.b_dec, p._W_dec * torch.tensor([1.0] + [0.0] * (p.n_outputs - 1))[:, None],
                                               "relu") for p in clt])
    alone = attribute(model, cut, PROMPT)
    assert torch.equal(alone.features, graph.features)
    first = (graph.features[:, 0] == 0).nonzero()[:, 0]
    logits = slice(graph.logit_offset, graph.n_nodes)
    assert (graph.adjacency[logits][:, first] - alone.adjacency[logits][:, first]).abs().max() > 1e-3
    assert torch.allclose(graph.adjacency[: graph.n_features], alone.adjacency[: graph.n_features], atol=1e-6)
    check_exact(model, clt, graph)


def test_a_model_the_frozen_pieces_do_not_reproduce_is_refused(monkeypatch):
    """The replacement checks itself against the model's own run: a wrong piece is a refusal, never a wrong graph."""
    import importlib

    attribute_module = importlib.import_module("interp_widgets.compute.attribution.replacement")

    model = load("llama")
    real = attribute_module.attention_weights

    def wrong(model):
        W_V, W_O, b_V, b_O = real(model)
        return W_V, W_O * 1.5, b_V, b_O

    monkeypatch.setattr(attribute_module, "attention_weights", wrong)
    with pytest.raises(InterpWidgetsError, match="does not reproduce the attention output of block 0"):
        attribute(model, topk_transcoders(model), PROMPT)


def test_a_bfloat16_model_is_attributed_at_its_own_precision():
    """A model loaded in bf16 (as the field's large models are): norms are fitted on a float32 copy, and the
    self-check allows the model's own rounding; the logits are their edges plus bias to bf16 precision."""
    import interp_widgets as iw
    from tests.unit.models.families.zoo import hf_family_dir

    model = iw.load_model(str(hf_family_dir("llama")), dtype=torch.bfloat16)
    transcoders = topk_transcoders(model)
    graph = attribute(model, transcoders, PROMPT)
    with torch.inference_mode():
        last = model(graph.tokens[None])[0, -1].float()
    completed = graph.adjacency[graph.logit_offset :].sum(1) + graph.bias[graph.logit_offset :]
    expected = last[graph.logit_tokens] - last.mean()
    assert graph.n_features > 0 and torch.allclose(completed, expected, atol=2e-2 * float(expected.abs().max()), rtol=0)
