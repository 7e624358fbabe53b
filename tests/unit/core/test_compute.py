"""Maths: values read at a hook equal the ones a full cached forward pass gives."""

import pytest
import torch

from interp_widgets.compute import (
    DirectionReadout,
    NeuronReadout,
    SAEFeatureReadout,
    activations_at,
    as_readout,
    hook_names,
    token_values,
    tokenize,
)
from interp_widgets.compute.core.hooks import stop_layer
from interp_widgets.errors import InterpWidgetsError

PROMPT = "The residual stream is a shared memory."


class TinySAE(torch.nn.Module):
    """Minimal ReLU SAE with the SAELens weight layout, to test the SAE readout."""

    def __init__(self, d_in, d_sae, hook_name=None):
        super().__init__()
        generator = torch.Generator().manual_seed(1)
        self.W_enc = torch.nn.Parameter(torch.randn(d_in, d_sae, generator=generator))
        self.b_enc = torch.nn.Parameter(torch.zeros(d_sae) - 0.1)
        self.hook_name = hook_name

    def encode(self, x):
        return torch.relu(x @ self.W_enc + self.b_enc)


def reference(toy, hook):
    _, cache = toy.run_with_cache(PROMPT)
    return cache[hook][0]


@pytest.mark.parametrize("hook", ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.1.hook_mlp_out", "hook_embed"])
def test_activations_match_full_cache(toy, hook):
    tokens = tokenize(toy, PROMPT)
    got = activations_at(toy, tokens, hook)[0]
    torch.testing.assert_close(got, reference(toy, hook), rtol=1e-5, atol=1e-5)


def test_stops_after_the_block_that_owns_the_hook(toy):
    assert stop_layer(toy, "blocks.0.hook_resid_post") == 1
    assert stop_layer(toy, "blocks.1.hook_resid_post") is None
    assert stop_layer(toy, "hook_embed") == 0
    fired = []
    tokens = tokenize(toy, PROMPT)

    def spy(activation, hook):
        fired.append(hook.name)

    with toy.hooks(fwd_hooks=[("blocks.1.hook_resid_post", spy)]):
        activations_at(toy, tokens, "blocks.0.hook_resid_post")
    assert fired == [], "layer 1 ran although only layer 0 was needed"


def test_hooks_are_removed_afterwards(toy):
    tokens = tokenize(toy, PROMPT)
    activations_at(toy, tokens, "blocks.0.hook_resid_post")
    assert all(not hp.fwd_hooks for hp in toy.hook_dict.values())


def test_readouts_equal_direct_maths(toy):
    hook = "blocks.0.hook_resid_post"
    resid = reference(toy, hook)
    vector = torch.randn(resid.shape[-1], generator=torch.Generator().manual_seed(3))
    sae = TinySAE(resid.shape[-1], 32)
    tokens, values = token_values(
        toy, PROMPT, hook, [NeuronReadout(5), DirectionReadout(vector), SAEFeatureReadout(sae, 7)]
    )
    assert tokens == [str(t) for t in toy.to_str_tokens(PROMPT)]
    assert values.shape == (3, len(tokens))
    torch.testing.assert_close(values[0], resid[:, 5])
    torch.testing.assert_close(values[1], resid @ vector, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(values[2], torch.relu(resid @ sae.W_enc + sae.b_enc)[:, 7], rtol=1e-4, atol=1e-5)


def test_several_features_of_one_sae_encode_once(toy):
    sae = TinySAE(64, 32)
    calls = []
    original = sae.encode
    sae.encode = lambda x: calls.append(1) or original(x)
    _, values = token_values(toy, PROMPT, "blocks.0.hook_resid_post", [SAEFeatureReadout(sae, f) for f in (1, 5, 9)])
    assert len(calls) == 1
    _, cache = toy.run_with_cache(PROMPT)
    torch.testing.assert_close(values, original(cache["blocks.0.hook_resid_post"][0])[:, [1, 5, 9]].T, rtol=1e-4, atol=1e-5)


def test_as_readout():
    assert as_readout(3) == NeuronReadout(3)
    assert isinstance(as_readout(torch.ones(4)), DirectionReadout)
    assert isinstance(as_readout((TinySAE(4, 8), 2)), SAEFeatureReadout)
    with pytest.raises(InterpWidgetsError, match="cannot read values"):
        as_readout("blocks.0")


def test_hook_names_include_aliases(toy):
    names = hook_names(toy)
    assert "blocks.0.hook_resid_post" in names and "blocks.1.hook_mlp_out" in names


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(hook="blocks.0.hook_resid_pst", readouts=[NeuronReadout(0)]), "Did you mean 'blocks.0.hook_resid_post'"),
        (dict(hook="blocks.0.hook_resid_post", readouts=[NeuronReadout(64)]), "out of range .* width 64: use an index from 0 to 63"),
        (dict(hook="blocks.0.hook_resid_post", readouts=[DirectionReadout(torch.ones(10))]), r"shape \[10\] .* pass a vector of shape \[64\]"),
        (dict(hook="blocks.0.hook_resid_post", readouts=[SAEFeatureReadout(TinySAE(32, 8), 0)]), "SAE reads vectors of width 32 .* width 64"),
        (dict(hook="blocks.0.hook_resid_post", readouts=[SAEFeatureReadout(TinySAE(64, 8), 8)]), "feature index 8 is out of range: the SAE has 8 features"),
        (dict(hook="blocks.0.hook_resid_post", readouts=[SAEFeatureReadout(TinySAE(64, 8, "blocks.1.hook_resid_post"), 0)]), "trained on 'blocks.1.hook_resid_post' .* pass hook="),
        (dict(hook="blocks.0.attn.hook_pattern", readouts=[NeuronReadout(0)]), "not one vector per token"),
    ],
)
def test_bad_input_gets_a_clear_error(toy, kwargs, message):
    with pytest.raises(InterpWidgetsError, match=message):
        token_values(toy, PROMPT, kwargs["hook"], kwargs["readouts"])


def test_prompt_longer_than_context(toy):
    with pytest.raises(InterpWidgetsError, match=r"context is 128 tokens: shorten the prompt"):
        tokenize(toy, "word " * 400)


def test_empty_prompt(toy):
    with pytest.raises(InterpWidgetsError, match="empty"):
        tokenize(toy, "")
