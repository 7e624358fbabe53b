"""Prompt pairs for patching: equal lengths, the differing positions, replacements, special tokens."""

import pytest
import torch

from interp_widgets.compute.patching import tasks
from interp_widgets.errors import InterpWidgetsError


def test_pairs_have_equal_lengths_and_differ_where_the_corruption_is():
    import interp_widgets as iw

    model = iw.load_model()
    for seed in range(3):
        pair = tasks.ioi_pair(model, seed=seed)
        diff = tasks.differing_positions(model, pair.clean, pair.corrupt)
        assert len(diff) == 1 and model.to_str_tokens(pair.corrupt)[diff[0]] == pair.answer
    pair = tasks.docstring_pair(model)
    diff = tasks.differing_positions(model, pair.clean, pair.corrupt)
    assert len(diff) == 1 and model.to_str_tokens(pair.clean)[diff[0]] == pair.answer
    with pytest.raises(InterpWidgetsError, match="first differ at position"):
        tasks.differing_positions(model, "When Mary went home", "When Maryanne went home")
    with pytest.raises(InterpWidgetsError, match="names"):
        tasks.ioi_pair(model, names=["Maryanne", "Bartholomew"])


def test_replacements_are_single_tokens_of_the_same_shape(toy):
    prompt = "The cat sat on the mat"
    position = 2
    suggestions = tasks.suggest_replacements(toy, prompt, position, k=5)
    original = toy.to_str_tokens(prompt)[position]
    for word in suggestions:
        assert len(toy.tokenizer(word, add_special_tokens=False)["input_ids"]) == 1
        assert word.startswith(" ") == original.startswith(" ") and word != original
        corrupt = toy.to_tokens(prompt)[0].clone()
        corrupt[position] = toy.tokenizer(word, add_special_tokens=False)["input_ids"][0]
        assert tasks.differing_positions(toy, prompt, corrupt) == [position]
    with pytest.raises(InterpWidgetsError, match="outside the prompt"):
        tasks.suggest_replacements(toy, prompt, 0)


def test_a_token_with_an_outlier_embedding_is_flagged():
    from interp_widgets.models import toy_model

    model = toy_model(seed=5)
    prompt = "The cat sat on the mat"
    assert tasks.special_token_warnings(model, prompt, [2, 3]) == []
    with torch.no_grad():
        model.W_E[int(model.to_tokens(prompt)[0, 2])] *= 25
    warnings = tasks.special_token_warnings(model, prompt, [2, 3])
    assert len(warnings) == 1 and "at 2" in warnings[0] and "embedding norm is an outlier" in warnings[0]
