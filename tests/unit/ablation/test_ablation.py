"""Token ablation: the batched leave-one-out map, set removal and pairs equal one forward per variant."""

import pytest
import torch

from interp_widgets.compute.ablation.removal import leave_one_out, pairwise_removal, remove_tokens
from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.errors import InterpWidgetsError

PROMPT = "The cat sat on the mat, and then the dog sat on the rug by the door."


def slow_value(model, ids, hook, neuron, position):
    """One full forward pass of a whole prompt (not cut at the target), read at `position`."""
    tokens = torch.tensor([ids])
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens)
    return float(cache[hook][0, position, neuron])


@pytest.mark.parametrize("hook", ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"])
@pytest.mark.parametrize("mode", ["delete", "replace"])
def test_leave_one_out_equals_one_forward_per_removed_token(toy, hook, mode):
    ids = toy.to_tokens(PROMPT)[0].tolist()
    replacement = toy.tokenizer(" the", add_special_tokens=False)["input_ids"][0]
    result = leave_one_out(toy, PROMPT, hook, 5, target=12, mode=mode, replacement=replacement if mode == "replace" else None)
    assert result.clean == pytest.approx(slow_value(toy, ids, hook, 5, 12), abs=1e-4)
    for i in range(1, 12):
        if mode == "delete":
            expected = slow_value(toy, ids[:i] + ids[i + 1 :], hook, 5, 11)
        else:
            expected = slow_value(toy, ids[:i] + [replacement] + ids[i + 1 :], hook, 5, 12)
        assert float(result.values[i]) == pytest.approx(expected, abs=1e-4), i
    assert result.values[0].isnan() and result.values[12:].isnan().all()


def test_embedded_model_sae_feature_and_default_target():
    import interp_widgets as iw

    model, sae = iw.load_model(), iw.load_sae("4x")
    feature = next(e for e in iw.models.feature_catalogue() if e["sae"] == "4x")["feature"]
    prompt = "salt and pepper, bread and butter, fish and"
    result = leave_one_out(model, prompt, "blocks.0.hook_resid_post", (sae, feature))
    acts = activations_at(model, model.to_tokens(prompt), "blocks.0.hook_resid_post")[0]
    with torch.inference_mode():
        clean = sae.encode(acts)[:, feature]
    assert result.target == 1 + int(clean[1:].argmax()) and result.clean == pytest.approx(float(clean[result.target]), abs=1e-4)
    ids = model.to_tokens(prompt)[0].tolist()
    i = result.target - 1
    deleted = activations_at(model, torch.tensor([ids[:i] + ids[i + 1 :]]), "blocks.0.hook_resid_post")[0, result.target - 1]
    with torch.inference_mode():
        assert float(result.values[i]) == pytest.approx(float(sae.encode(deleted)[feature]), abs=1e-4)


def test_set_removal_and_pairs_equal_joint_removal(toy):
    hook = "blocks.1.hook_resid_post"
    ids = toy.to_tokens(PROMPT)[0].tolist()
    value = remove_tokens(toy, PROMPT, hook, 7, positions=[2, 5, 9], target=12)
    kept = [t for p, t in enumerate(ids) if p not in (2, 5, 9)]
    assert value == pytest.approx(slow_value(toy, kept, hook, 7, 9), abs=1e-4)
    assert remove_tokens(toy, PROMPT, hook, 7, positions=[], target=12) == pytest.approx(slow_value(toy, ids, hook, 7, 12), abs=1e-4)

    pairs = pairwise_removal(toy, PROMPT, hook, 7, target=12, top_k=4)
    assert len(pairs.positions) == 4 and pairs.joint.shape == (4, 4) and pairs.joint.diagonal().isnan().all()
    clean = slow_value(toy, ids, hook, 7, 12)
    a, b = pairs.positions[0], pairs.positions[2]
    both = [t for p, t in enumerate(ids) if p not in (a, b)]
    # one sign convention: drop = clean - ablated; interaction = joint drop - (drop A + drop B)
    drop_a = clean - slow_value(toy, [t for p, t in enumerate(ids) if p != a], hook, 7, 11)
    drop_b = clean - slow_value(toy, [t for p, t in enumerate(ids) if p != b], hook, 7, 11)
    joint_drop = clean - slow_value(toy, both, hook, 7, 10)
    assert float(pairs.single[0]) == pytest.approx(drop_a, abs=1e-4) and float(pairs.single[2]) == pytest.approx(drop_b, abs=1e-4)
    assert float(pairs.joint[0, 2]) == pytest.approx(joint_drop, abs=1e-4)
    assert float(pairs.interaction[0, 2]) == pytest.approx(joint_drop - (drop_a + drop_b), abs=1e-4)
    assert bool((pairs.single[:-1] >= pairs.single[1:]).all())  # largest drop first
    single = leave_one_out(toy, PROMPT, hook, 7, target=12)
    torch.testing.assert_close(single.drop, single.clean - single.values, equal_nan=True)
    assert float(single.drop[a]) == pytest.approx(drop_a, abs=1e-4)


def test_the_default_target_is_named(toy):
    hook = "blocks.0.hook_resid_post"
    chosen = leave_one_out(toy, PROMPT, hook, 5)
    given = leave_one_out(toy, PROMPT, hook, 5, target=chosen.target)
    assert chosen.target_chosen and not given.target_chosen
    assert chosen.describe_target() == f"target {chosen.target} {chosen.tokens[chosen.target]!r} (where the readout is largest)"
    assert given.describe_target().endswith("(given)")


def test_errors_name_the_fix(toy):
    hook = "blocks.0.hook_resid_post"
    with pytest.raises(InterpWidgetsError, match="target position 0 is out of range"):
        leave_one_out(toy, PROMPT, hook, 0, target=0)
    with pytest.raises(InterpWidgetsError, match="out of range for hook"):
        leave_one_out(toy, PROMPT, hook, 999)
    with pytest.raises(InterpWidgetsError, match="not a hook point"):
        leave_one_out(toy, PROMPT, "blocks.0.hook_resid_pots", 0)
    with pytest.raises(InterpWidgetsError, match="is not one token"):
        leave_one_out(toy, PROMPT, hook, 0, mode="replace", replacement=" catastrophically")
    with pytest.raises(InterpWidgetsError, match="needs a replacement"):
        leave_one_out(toy, PROMPT, hook, 0, mode="replace")
    with pytest.raises(InterpWidgetsError, match="context is 128 tokens"):
        leave_one_out(toy, "word " * 200, hook, 0)
    with pytest.raises(InterpWidgetsError, match="the prompt is empty"):
        leave_one_out(toy, "", hook, 0)
    with pytest.raises(InterpWidgetsError, match=r"positions \[0\] cannot be removed"):
        remove_tokens(toy, PROMPT, hook, 0, positions=[0], target=5)
    with pytest.raises(InterpWidgetsError, match='mode must be "delete" or "replace"'):
        leave_one_out(toy, PROMPT, hook, 0, mode="zero")
    import interp_widgets as iw

    with pytest.raises(InterpWidgetsError, match="reads vectors of width 256 but hook"):  # an SAE of another model
        leave_one_out(toy, PROMPT, hook, (iw.load_sae("1x"), 3))


@pytest.mark.parametrize(("name", "hook"), [("embedded", "blocks.0.hook_resid_post"), ("embedded", "blocks.1.hook_resid_post"),
                                             ("embedded-6l", "blocks.2.hook_resid_post")])  # rotary and learned positions
@pytest.mark.parametrize("mode", ["delete", "replace"])
def test_embedded_model_map_equals_one_forward_per_removed_token(name, hook, mode):
    import interp_widgets as iw

    model = iw.load_model(name)
    prompt = "The Hound Of The Baskervilles and the dog sat on the mat, and then"
    ids = model.to_tokens(prompt)[0].tolist()
    direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(3))
    replacement = model.tokenizer(" the", add_special_tokens=False)["input_ids"][0]
    target = len(ids) - 1
    result = leave_one_out(model, prompt, hook, direction, target=target, mode=mode, replacement=replacement if mode == "replace" else None)
    for i in (1, 2, target // 2, target - 1):
        variant = ids[:i] + ids[i + 1 :] if mode == "delete" else ids[:i] + [replacement] + ids[i + 1 :]
        with torch.inference_mode():
            expected = float(activations_at(model, torch.tensor([variant]), hook)[0, -1] @ direction)
        assert float(result.values[i]) == pytest.approx(expected, abs=1e-4), i


def test_prefix_reuse_is_used_and_other_hooks_fall_back_exactly(toy):
    from interp_widgets.compute.ablation import removal as ablation

    ids = toy.to_tokens(PROMPT)[0].tolist()
    leave_one_out(toy, PROMPT, "blocks.1.hook_resid_post", 5, target=12)
    assert ablation._PREPARED[toy]["blocks.1.hook_resid_post"].runner is not None  # the fast path ran
    hook = "blocks.0.ln2.hook_normalized"  # inside a block: no prefix runner, plain batched forwards
    result = leave_one_out(toy, PROMPT, hook, 5, target=12)
    assert ablation._PREPARED[toy][hook].runner is None
    for i in (1, 6, 11):
        assert float(result.values[i]) == pytest.approx(slow_value(toy, ids[:i] + ids[i + 1 :], hook, 5, 11), abs=1e-4)
