"""Every compute function on every family: exact against a plain reference, or a clear refusal.

References: the Hugging Face model's own logits, the bridge's hooks (`run_with_cache`, hooked
forwards), and full forwards of each edited prompt. A refusal must be an `InterpWidgetsError`
that names what the model lacks; anything else (a wrong number, a stack trace) fails.
"""

import pytest
import torch

from interp_widgets.compute.ablation import leave_one_out, pairwise_removal, remove_tokens
from interp_widgets.compute.ablation.direction import direction_ablation
from interp_widgets.compute.core.hooks import activations_at, tokenize
from interp_widgets.compute.features import feature_logit_lens, token_scores
from interp_widgets.compute.patching import patch
from interp_widgets.compute.residual import layer_logits, layer_patterns, logit_lens, residual_norms, token_rank
from interp_widgets.compute.steering import Steer, generate
from interp_widgets.errors import InterpWidgetsError
from tests.unit.models.families.conftest import CORRUPT, PROMPT
from tests.unit.models.families.zoo import ALL_FAMILIES, HF_FAMILIES

ATOL = 2e-4


def soft_capped(model, logits):
    """The final logit soft-cap as the model applies it (Gemma 2: cap * tanh(logits / cap))."""
    cap = float(getattr(model.cfg, "output_logits_soft_cap", -1.0) or -1.0)
    return cap * torch.tanh(logits / cap) if cap > 0 else logits


def cached_run(families, name):
    """(the family's bridge, the prompt's tokens, its full activation cache)."""
    model, _ = families(name)
    tokens = tokenize(model, PROMPT)
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens)
    return model, tokens, cache


@pytest.mark.parametrize("name", HF_FAMILIES)
def test_bridge_logits_are_the_hugging_face_models(families, name):
    model, reference = families(name)
    tokens = tokenize(model, PROMPT)
    with torch.inference_mode():
        assert torch.allclose(model(tokens), reference(tokens).logits, atol=ATOL)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_tokens_are_what_transformer_lens_gives(families, name):
    model, _ = families(name)
    assert torch.equal(tokenize(model, PROMPT), model.to_tokens(PROMPT))


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_logit_lens_ends_at_the_models_own_distribution(families, name):
    model, tokens, cache = cached_run(families, name)
    _, logits = layer_logits(model, tokens)
    with torch.inference_mode():
        final = model(tokens)[0].float()
        first = soft_capped(model, model.unembed(model.ln_final(cache["blocks.0.hook_resid_pre"])))[0].float()
    assert torch.allclose(logits[-1], final, atol=ATOL), "the last boundary must be the model's own logits (soft-cap included)"
    assert torch.allclose(logits[0], first, atol=ATOL)
    lens = logit_lens(model, tokens, k=3)
    assert torch.allclose(lens.top_probs[-1], final.softmax(-1).topk(3).values, atol=1e-5)
    assert float(lens.kl[-1].abs().max()) < 1e-5
    rank, prob = token_rank(model, tokens, 7)
    assert torch.allclose(prob[-1], final.softmax(-1)[:, 7], atol=1e-5)
    assert torch.equal(rank[-1], (final > final[:, 7:8]).sum(-1))


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_residual_norms_match_the_hooks_or_refuse_the_mid_point(families, name):
    model, tokens, cache = cached_run(families, name)
    norms = residual_norms(model, tokens)
    expected = cache[f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"].norm(dim=-1)
    assert torch.allclose(norms.stream[-1].float(), expected.float(), atol=1e-3)
    counted = expected[0, 1:] if model.cfg.default_prepend_bos else expected[0]  # BOS left out; without one, every token counts
    assert torch.allclose(norms.mean()[-1].float(), counted.float().mean(), atol=1e-3)
    if "blocks.0.hook_resid_mid" in cache:
        mid = residual_norms(model, tokens, mid=True)
        assert torch.allclose(mid.stream[1].float(), cache["blocks.0.hook_resid_mid"].norm(dim=-1).float(), atol=1e-3)
    else:
        with pytest.raises(InterpWidgetsError, match="mid"):
            residual_norms(model, tokens, mid=True)


def direction_at_layer_0(families, name, seed):
    """(the family's bridge, the prompt's tokens, the hook after block 0, a seeded random direction there)."""
    model, _ = families(name)
    return model, tokenize(model, PROMPT), "blocks.0.hook_resid_post", torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(seed))


def plain_readout(model, variant, hook, direction):
    """The readout at a variant's last position from a full forward through the bridge."""
    return float(activations_at(model, variant[None], hook)[0, -1] @ direction)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_leave_one_out_removals_and_pairs_equal_full_forwards(families, name):
    model, tokens, hook, direction = direction_at_layer_0(families, name, seed=3)
    target = tokens.shape[1] - 1
    result = leave_one_out(model, tokens, hook, direction, target=target)
    first = 1 if model.cfg.default_prepend_bos else 0
    for i in range(first, target):
        variant = torch.cat([tokens[0, :i], tokens[0, i + 1 :]])
        assert abs(float(result.values[i]) - plain_readout(model, variant, hook, direction)) < 1e-3, i
    both = remove_tokens(model, tokens, hook, direction, [2, 4], target)
    variant = torch.cat([tokens[0, :2], tokens[0, 3:4], tokens[0, 5:]])
    assert abs(both - plain_readout(model, variant, hook, direction)) < 1e-3
    pairs = pairwise_removal(model, tokens, hook, direction, target=target, top_k=3, single=result)
    a, b = pairs.positions[:2]
    kept = [p for p in range(tokens.shape[1]) if p not in (a, b)]
    joint = result.clean - plain_readout(model, tokens[0, kept], hook, direction)
    assert abs(float(pairs.joint[0, 1]) - joint) < 1e-3


@pytest.mark.parametrize("name", ALL_FAMILIES)
@pytest.mark.parametrize("component", ["resid_pre", "attn_out", "mlp_out", "head_out"])
def test_fast_patching_equals_hooked_forwards(families, name, component):
    model, _ = families(name)
    metric = (int(tokenize(model, " mat")[0, -1]), int(tokenize(model, " dog")[0, -1]))
    try:
        plain = patch(model, PROMPT, CORRUPT, metric, component, "denoise", fast=False)
    except InterpWidgetsError as error:  # the component does not exist in this model: the fast path refuses too
        with pytest.raises(InterpWidgetsError):
            patch(model, PROMPT, CORRUPT, metric, component, "denoise")
        assert component in str(error) or "hook" in str(error)
        return
    for direction in ("denoise", "noise"):
        fast = patch(model, PROMPT, CORRUPT, metric, component, direction)
        slow = plain if direction == "denoise" else patch(model, PROMPT, CORRUPT, metric, component, direction, fast=False)
        assert torch.allclose(fast.values, slow.values, atol=1e-3, equal_nan=True), direction


def greedy_with_hook(model, tokens, hook, vector, n):
    """The plain loop: the whole sequence through the bridge every step, the vector added at `hook`."""
    ids = []
    for _ in range(n):
        with torch.inference_mode(), model.hooks(fwd_hooks=[(hook, lambda x, hook: x + vector)]):
            logits = model(tokens)[0, -1]
        ids.append(int(logits.argmax()))
        tokens = torch.cat([tokens, torch.tensor([[ids[-1]]])], dim=1)
    return ids


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_steered_generation_equals_a_hooked_rerun_loop(families, name):
    model, _ = families(name)
    hook = "blocks.0.hook_resid_post"
    direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(5))
    result = generate(model, PROMPT, [Steer(hook, direction, 4.0)], max_new_tokens=6)
    unit = direction / direction.norm()
    tokens = tokenize(model, PROMPT)
    assert result.steered.ids == greedy_with_hook(model, tokens, hook, 4.0 * unit, 6)
    assert result.unsteered.ids == greedy_with_hook(model, tokens, hook, 0.0 * unit, 6)
    # the steered tokens teacher-forced through the unsteered model (the crossed log-probs)
    forced = torch.cat([tokens, torch.tensor([result.steered.ids])], dim=1)
    with torch.inference_mode():
        logits = model(forced)[0, tokens.shape[1] - 1 : -1].float()
    expected = logits.log_softmax(-1).gather(-1, forced[0, tokens.shape[1]:, None])[:, 0]
    assert torch.allclose(torch.as_tensor(result.steered.other_logprobs), expected, atol=1e-3)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_feature_logit_lens_scales_by_the_final_norm_as_the_model_does(families, name):
    """Reference: the final norm itself applied to the direction (minus its output at zero: a LayerNorm's bias),
    which is the direction times the norm's effective scale up to a positive factor, whatever the weight's form."""
    model, _ = families(name)
    direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(7))
    scores, applied = token_scores(model, direction)
    with torch.inference_mode():
        through = model.ln_final(direction[None, None]) - model.ln_final(torch.zeros(1, 1, model.cfg.d_model))
        expected = (through[0, 0] @ model.W_U.float()).float()
    assert applied
    assert torch.nn.functional.cosine_similarity(scores.float(), expected, dim=0) > 0.9999
    lens = feature_logit_lens(model, direction, k=5)
    assert [token for _, token, _ in lens.top] == expected.topk(5).indices.tolist()


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_attention_patterns_are_the_hooks(families, name):
    model, tokens, cache = cached_run(families, name)
    for layer in range(model.cfg.n_layers):
        assert torch.allclose(layer_patterns(model, tokens, layer), cache[f"blocks.{layer}.attn.hook_pattern"][0].float(), atol=1e-5)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_direction_ablation_equals_a_hooked_forward(families, name):
    model, tokens, hook, direction = direction_at_layer_0(families, name, seed=9)
    result = direction_ablation(model, tokens, hook, direction)
    unit = direction / direction.norm()
    with torch.inference_mode(), model.hooks(fwd_hooks=[(hook, lambda x, hook: x - (x @ unit)[..., None] * unit)]):
        logits = model(tokens)
    expected = logits[0, :-1].float().log_softmax(-1).gather(-1, tokens[0, 1:, None])[:, 0]
    assert torch.allclose(result.ablated, expected, atol=1e-4)


FAST_FAMILIES = ("gpt2", "neox", "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma2-nowindow", "gemma3",
                 "native-ln", "native-rms-rotary", "native-lnpre", "native-attn-only", "native-gqa", "native-gated", "native-softcap")


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_fast_paths_run_where_the_blocks_are_read_and_say_why_not_elsewhere(families, name):
    """Prefix reuse, patching from the patched cell on and cached decoding on the families listed; the
    others keep the exact fallback (the tests above check both against plain references)."""
    from interp_widgets.compute.core.decoding import CachedDecoder, make_decoder
    from interp_widgets.compute.core.prefix_runner import PrefixRunner
    from interp_widgets.compute.patching import NativeEngine, checked_engine

    model, _ = families(name)
    runner = PrefixRunner(model, "blocks.1.hook_resid_post")
    decoder = make_decoder(model, 1, 16, lambda site, x, positions: x, ["blocks.0.hook_resid_post"])
    engine = checked_engine(model, tokenize(model, PROMPT))
    if name in FAST_FAMILIES:
        assert runner.reason is None and isinstance(decoder, CachedDecoder) and isinstance(engine, NativeEngine)
    else:
        assert "no fast path" in runner.reason and not isinstance(decoder, CachedDecoder) and not isinstance(engine, NativeEngine)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_steering_never_calls_the_bridges_generate(families, name, monkeypatch):
    """transformer-lens 4.3's bridge keeps no key/value cache on Hugging Face GPT-2 and Llama under transformers 5
    (its `generate()` goes wrong from the second token): steering decodes with its own cache or reruns."""
    model, _ = families(name)
    monkeypatch.setattr(type(model), "generate", lambda *args, **kwargs: pytest.fail("the bridge's generate() was called"))
    direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(5))
    result = generate(model, PROMPT, [Steer("blocks.0.hook_resid_post", direction, 4.0)], max_new_tokens=4)
    assert len(result.steered.ids) == 4 and result.engine == "kv-cache"
