"""Residual-stream maths: norms per boundary with an exponential fit, and the logit lens."""


import pytest
import torch

from interp_widgets.compute.residual.lens import layer_logits, logit_lens, token_rank
from interp_widgets.compute.residual.norms import exponential_fit, growth_factor, residual_norms
from interp_widgets.errors import InterpWidgetsError

PROMPT = "The cat sat on the mat, and the dog slept by the door."


def test_exponential_fit_recovers_an_exact_growth_factor():
    norms = torch.tensor([2.0 * 1.7**layer for layer in range(6)])
    fit = exponential_fit(norms)
    assert fit.factor == pytest.approx(1.7) and fit.scale == pytest.approx(2.0) and fit.r2 == pytest.approx(1.0)
    noisy = exponential_fit(torch.tensor([1.0, 3.0, 2.0, 6.0]))
    assert 0 < noisy.r2 < 1
    assert growth_factor(norms) == pytest.approx(1.7)
    with pytest.raises(InterpWidgetsError, match="positive norms"):
        exponential_fit(torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize("mid", [False, True])
def test_norms_equal_a_direct_computation(toy, mid):
    tokens = toy.to_tokens([PROMPT, PROMPT.lower()])
    assert tokens.shape[0] == 2 and (tokens[:, -1] != toy.tokenizer.pad_token_id).all()  # same length: nothing padded
    result = residual_norms(toy, tokens, mid=mid)
    _, cache = toy.run_with_cache(tokens)
    names = ["blocks.0.hook_resid_pre"] + (["blocks.0.hook_resid_mid"] if mid else []) + ["blocks.1.hook_resid_pre"] \
        + (["blocks.1.hook_resid_mid"] if mid else []) + ["blocks.1.hook_resid_post"]
    expected = torch.stack([torch.linalg.vector_norm(cache[name].float(), dim=-1) for name in names])
    torch.testing.assert_close(result.stream, expected)
    assert result.labels[0] == "0_pre" and result.labels[-1] == "final_post" and len(result.labels) == len(names)
    torch.testing.assert_close(result.mlp[1], torch.linalg.vector_norm(cache["blocks.1.hook_mlp_out"].float(), dim=-1))
    torch.testing.assert_close(result.mean(), expected[:, :, 1:].mean(dim=(1, 2)))  # BOS left out
    assert result.fit().factor == pytest.approx(exponential_fit(expected[:, :, 1:].mean(dim=(1, 2)), torch.tensor(result.depths)).factor)


def test_a_padded_batch_needs_its_mask_and_then_averages_real_tokens_only(toy):
    prompts = [PROMPT, "The dog slept."]
    tokens = toy.to_tokens(prompts)
    with pytest.raises(InterpWidgetsError, match="attention_mask"):
        residual_norms(toy, tokens)
    lengths = [toy.to_tokens(prompt).shape[1] for prompt in prompts]
    mask = torch.arange(tokens.shape[1])[None, :] < torch.tensor(lengths)[:, None]
    result = residual_norms(toy, tokens, attention_mask=mask)
    # reference: each prompt alone, its real positions pooled (BOS left out)
    alone = [residual_norms(toy, toy.to_tokens(prompt)).stream[:, 0, 1:] for prompt in prompts]
    expected = torch.cat(alone, dim=1).mean(dim=1)
    torch.testing.assert_close(result.mean(), expected, atol=1e-4, rtol=1e-4)
    assert result.fit().factor == pytest.approx(exponential_fit(expected, torch.tensor(result.depths)).factor, rel=1e-4)
    assert result.stream[:, 1, lengths[1]:].isnan().all()  # padding is not a norm
    with pytest.raises(InterpWidgetsError, match="left padding"):
        residual_norms(toy, tokens, attention_mask=mask.flip(1))


def test_logit_lens_equals_transformer_lens_accumulated_resid(toy):
    tokens = toy.to_tokens(PROMPT)
    labels, logits = layer_logits(toy, tokens)
    _, cache = toy.run_with_cache(tokens)
    stack, tl_labels = cache.accumulated_resid(apply_ln=True, return_labels=True)
    expected = toy.unembed(stack[:, 0])
    assert labels == tl_labels
    torch.testing.assert_close(logits, expected.float(), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits[-1], toy(tokens)[0].float(), atol=1e-4, rtol=1e-4)  # the last boundary is the model's output


def test_logit_lens_top_k_kl_and_rank(toy):
    tokens = toy.to_tokens(PROMPT)
    lens = logit_lens(toy, tokens, k=3)
    _, logits = layer_logits(toy, tokens)
    probs = logits.softmax(-1)
    torch.testing.assert_close(lens.top_probs, probs.topk(3, dim=-1).values)
    assert torch.equal(lens.top_ids, probs.topk(3, dim=-1).indices)
    assert lens.kl[-1].abs().max() < 1e-5 and (lens.kl[:-1] > 0).all()
    manual = (probs[-1] * (probs[-1].log() - probs[0].log())).sum(-1)
    torch.testing.assert_close(lens.kl[0], manual, atol=1e-4, rtol=1e-4)
    rank, prob = token_rank(toy, tokens, int(lens.top_ids[1, 4, 0]))
    assert rank[1, 4] == 0 and prob[1, 4] == pytest.approx(float(lens.top_probs[1, 4, 0]), abs=1e-6)


def test_logit_lens_errors(toy):
    with pytest.raises(InterpWidgetsError, match="one prompt"):
        logit_lens(toy, toy.to_tokens([PROMPT, PROMPT]))
    with pytest.raises(InterpWidgetsError, match="k must be between 1"):
        logit_lens(toy, toy.to_tokens(PROMPT), k=0)
    with pytest.raises(InterpWidgetsError, match="outside the vocabulary"):
        token_rank(toy, toy.to_tokens(PROMPT), 10**6)
