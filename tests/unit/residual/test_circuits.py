"""Head scores, residual norms and the docstring task, checked on hand-made attention patterns."""

import math

import pytest
import torch

from interp_widgets.compute.patching.task_accuracy import (
    docstring_prompts,
)
from interp_widgets.compute.residual.head_scores import (
    HEAD_SCORE_LABELS,
    bos_score,
    duplicate_token_score,
    head_scores,
    induction_score,
    induction_scores,
    previous_token_score,
    repeated_random_tokens,
    repeated_sequence_loss,
)
from interp_widgets.compute.residual.norms import (
    growth_factor,
    mean_residual_norms,
)


def one_hot_pattern(length, key_of):
    """[batch=1, heads=1, q, k] attending from each query to key_of(q) (or to itself when None)."""
    pattern = torch.zeros(1, 1, length, length)
    for q in range(length):
        k = key_of(q)
        pattern[0, 0, q, q if k is None or k < 0 else k] = 1.0
    return pattern


def test_previous_token_head_scores_one_and_self_attention_zero():
    assert previous_token_score(one_hot_pattern(9, lambda q: q - 1)).item() == 1.0
    assert previous_token_score(one_hot_pattern(9, lambda q: q)).item() == 0.0


def test_previous_token_score_leaves_out_query_one_and_says_so():
    # only query 1 attends to its previous token (BOS); every later query attends to itself
    only_first = one_hot_pattern(9, lambda q: q - 1 if q == 1 else None)
    assert previous_token_score(only_first).item() == 0.0
    assert "position 2" in HEAD_SCORE_LABELS["previous_token"] and "on the prompt" in HEAD_SCORE_LABELS["previous_token"]


def test_induction_is_measured_on_repeated_random_tokens_not_the_prompt(toy):
    scores = [head_scores(toy, toy.to_tokens(prompt)) for prompt in ("The cat sat on the mat.", "A dog, a dog, a dog ran by.")]
    assert set(HEAD_SCORE_LABELS) == set(scores[0])
    for name in ("induction", "duplicate_token"):
        torch.testing.assert_close(scores[0][name], scores[1][name])  # the prompt does not enter
        assert "repeated random tokens" in HEAD_SCORE_LABELS[name] and "not the prompt" in HEAD_SCORE_LABELS[name]
    assert not torch.equal(scores[0]["previous_token"], scores[1]["previous_token"])  # this one is on the prompt


def test_perfect_induction_head_scores_one():
    half = 6
    length = 1 + 2 * half
    induction = one_hot_pattern(length, lambda q: q - half + 1 if q > half else None)
    assert induction_score(induction).item() == 1.0
    assert induction_score(one_hot_pattern(length, lambda q: q - 1)).item() == 0.0  # previous-token head
    assert induction_score(one_hot_pattern(length, lambda q: q - half if q > half else None)).item() == 0.0  # same token, not the next


def test_duplicate_token_and_bos_scores_on_made_up_patterns():
    half = 6
    length = 1 + 2 * half
    duplicate = one_hot_pattern(length, lambda q: q - half if q > half else None)
    assert duplicate_token_score(duplicate).item() == 1.0
    assert duplicate_token_score(one_hot_pattern(length, lambda q: q - half + 1 if q > half else None)).item() == 0.0
    assert bos_score(one_hot_pattern(length, lambda q: 0)).item() == 1.0
    assert bos_score(one_hot_pattern(length, lambda q: q - 1 if q > 1 else None)).item() == pytest.approx(0.0)
    half_on_bos = 0.5 * one_hot_pattern(length, lambda q: 0) + 0.5 * one_hot_pattern(length, lambda q: q)
    assert bos_score(half_on_bos).item() == pytest.approx(0.5)


def test_head_scores_find_the_embedded_models_heads():
    """The model card's heads: previous-token L0H3, induction heads in layer 1."""
    import interp_widgets as iw

    model = iw.load_model()
    scores = head_scores(model, model.to_tokens("The cat sat on the mat, and the dog slept by the warm door."))
    assert set(scores) == {"previous_token", "induction", "duplicate_token", "bos"}
    assert all(score.shape == (2, 4) for score in scores.values())
    assert divmod(int(scores["previous_token"].argmax()), 4) == (0, 3)
    assert int(scores["induction"].argmax()) // 4 == 1 and float(scores["induction"].max()) > 0.8


def test_repeated_tokens_layout(toy):
    tokens = repeated_random_tokens(toy, n_sequences=3, half=10, seed=1)
    assert tokens.shape == (3, 21) and (tokens[:, 0] == toy.tokenizer.bos_token_id).all()
    assert torch.equal(tokens[:, 1:11], tokens[:, 11:])


def test_model_level_scores_have_one_value_per_head(toy):
    tokens = repeated_random_tokens(toy, n_sequences=2, half=10)
    assert induction_scores(toy, tokens).shape == (2, 4)
    first, second = repeated_sequence_loss(toy, tokens)
    assert math.isfinite(first) and math.isfinite(second)
    assert mean_residual_norms(toy, tokens).shape == (3,)


def test_growth_factor_of_an_exponential():
    assert growth_factor(torch.tensor([1.0, 2.0, 4.0, 8.0])) == pytest.approx(2.0)


def test_docstring_prompts_end_with_param_and_name_four_distinct_arguments():
    for prompt, names in docstring_prompts(20, seed=3):
        assert prompt.endswith(":param") and len(set(names)) == 4
        assert f"(self, {', '.join(names)}):" in prompt
        assert f":param {names[0]}:" in prompt and f":param {names[1]}:" in prompt and f":param {names[2]}" not in prompt
