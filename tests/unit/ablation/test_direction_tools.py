"""Direction ablation equals a hand-written hook; the feature logit lens equals the direct matrix product."""

import pytest
import torch

from interp_widgets.compute.ablation.direction import direction_ablation
from interp_widgets.compute.features.logit_lens import feature_logit_lens, outlier_tokens
from interp_widgets.errors import InterpWidgetsError

PROMPT = "The cat sat on the mat, and then the dog sat on the rug."


def hand_written(model, tokens, hook, edit):
    def fn(activation, hook):
        return edit(activation.clone())

    with torch.inference_mode(), model.hooks(fwd_hooks=[(hook, fn)]):
        logits = model(tokens)
    return logits[0, :-1].log_softmax(-1).gather(-1, tokens[0, 1:, None])[:, 0]


def test_projecting_a_direction_out_equals_a_hand_written_hook(toy):
    hook = "blocks.0.hook_resid_post"
    tokens = toy.to_tokens(PROMPT)
    v = torch.randn(toy.cfg.d_model, generator=torch.Generator().manual_seed(1))
    result = direction_ablation(toy, tokens[0], hook, v, positions=[3, 4, 7])
    u = v / v.norm()

    def edit(x):
        x[:, [3, 4, 7]] -= (x[:, [3, 4, 7]] @ u)[..., None] * u
        return x

    assert result.mode == "project"
    torch.testing.assert_close(result.ablated, hand_written(toy, tokens, hook, edit), atol=1e-5, rtol=0)
    torch.testing.assert_close(result.clean, hand_written(toy, tokens, hook, lambda x: x), atol=1e-5, rtol=0)
    assert result.drop[:3].abs().max() < 1e-5  # before the first ablated position nothing changes
    assert result.drop[3:].abs().max() > 1e-4


def test_removing_an_sae_feature_subtracts_its_contribution():
    import interp_widgets as iw

    model, sae = iw.load_model(), iw.load_sae("1x")
    hook = "blocks.0.hook_resid_post"
    tokens = model.to_tokens("Die Katze sitzt auf der Matte und der Hund")
    feature = 51

    def edit(x):
        return x - sae.encode(x)[..., feature, None] * sae.W_dec[feature]

    result = direction_ablation(model, tokens, hook, (sae, feature))
    assert result.mode == "feature"
    torch.testing.assert_close(result.ablated, hand_written(model, tokens, hook, edit), atol=1e-4, rtol=0)
    position, token, drop = result.largest_drops(1)[0]
    assert token == result.tokens[position + 1] and abs(drop) == pytest.approx(float(result.drop.abs().max()))


def test_direction_ablation_errors(toy):
    with pytest.raises(InterpWidgetsError, match="shape"):
        direction_ablation(toy, PROMPT, "blocks.0.hook_resid_post", torch.ones(3))
    with pytest.raises(InterpWidgetsError, match="outside the prompt"):
        direction_ablation(toy, PROMPT, "blocks.0.hook_resid_post", torch.ones(toy.cfg.d_model), positions=[99])
    with pytest.raises(InterpWidgetsError, match="SAE feature"):
        direction_ablation(toy, PROMPT, "blocks.0.hook_resid_post", torch.ones(toy.cfg.d_model), mode="feature")
    with pytest.raises(InterpWidgetsError, match="not a hook point"):
        direction_ablation(toy, PROMPT, "blocks.0.hook_resid_pots", torch.ones(toy.cfg.d_model))


def test_feature_logit_lens_equals_the_direct_product(toy):
    v = torch.randn(toy.cfg.d_model, generator=torch.Generator().manual_seed(2))
    raw = feature_logit_lens(toy, v, k=5, apply_ln=False)
    direct = (v @ toy.W_U).detach()
    assert [t for _, t, _ in raw.top] == direct.argsort(descending=True)[:5].tolist()
    assert [t for _, t, _ in raw.bottom] == direct.argsort()[:5].tolist()
    assert raw.top[0][2] == pytest.approx(float(direct.max()), abs=1e-5) and not raw.ln_applied
    with_ln = feature_logit_lens(toy, v, k=5)
    w = toy.ln_final._original_component.weight.detach()
    scaled = (((v - v.mean()) * w) @ toy.W_U).detach()
    assert with_ln.ln_applied and [t for _, t, _ in with_ln.top] == scaled.argsort(descending=True)[:5].tolist()


def test_feature_logit_lens_filters_report_what_they_left_out():
    import interp_widgets as iw

    model, sae = iw.load_model(), iw.load_sae("1x")
    outliers = set(outlier_tokens(model).tolist())
    lens = feature_logit_lens(model, (sae, 158), k=20, exclude_outliers=True, reference_texts=["The Book Of The Dead And The Living"])
    shown = {t for _, t, _ in lens.top + lens.bottom}
    left = {t for _, t, _ in lens.left_out}
    assert outliers <= left and not shown & left
    assert all(reason in ("unembedding norm is an outlier", "never produced on the reference texts") for _, _, reason in lens.left_out)
    with pytest.raises(InterpWidgetsError, match="out of range"):
        feature_logit_lens(model, (sae, 10**6))


def test_tokens_never_produced_on_ordinary_text_can_be_left_out(toy):
    from interp_widgets.compute.features.logit_lens import unseen_tokens

    unseen = set(unseen_tokens(toy, "python-docs").tolist())
    seen_ids = set(toy.tokenizer(" the function returns", add_special_tokens=False)["input_ids"])
    assert unseen and not seen_ids & unseen
    v = torch.randn(toy.cfg.d_model, generator=torch.Generator().manual_seed(4))
    lens = feature_logit_lens(toy, v, k=10, reference_texts="python-docs")
    assert {t for _, t, _ in lens.left_out} == unseen and not {t for _, t, _ in lens.top + lens.bottom} & unseen
    with pytest.raises(InterpWidgetsError, match="python-docs"):
        feature_logit_lens(toy, v, reference_texts="wikipedia")
