"""The held-out IOI set is really held out: the training-text generator can never write its shapes or names."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from interp_widgets.compute.patching.task_accuracy import IOI_HELDOUT_NAMES, IOI_HELDOUT_TEMPLATES, IOI_NAMES, ioi_prompts
from tests.parts import need_module

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts" / "embedded"))
ioi = need_module("ioi", "scripts/embedded/ioi.py, the training-text generator, comes with a git checkout")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", text)))


def test_heldout_set_is_large_enough():
    assert len(IOI_HELDOUT_TEMPLATES) >= 8
    assert len(set(IOI_HELDOUT_NAMES)) >= 10


def test_every_heldout_shape_has_words_the_generator_never_writes():
    vocabulary = ioi.vocabulary()
    for template in IOI_HELDOUT_TEMPLATES:
        assert _words(template) - vocabulary, f"the generator could write every word of {template!r}"


def test_generator_names_exclude_every_measured_name():
    assert not set(ioi.TRAIN_NAMES) & set(IOI_HELDOUT_NAMES)
    assert not set(ioi.TRAIN_NAMES) & set(IOI_NAMES)


def test_sampled_training_sentences_never_match_a_heldout_shape_or_name():
    rng = np.random.default_rng(0)
    sentences = [ioi.ioi_sentence(rng) for _ in range(5000)]
    vocabulary = ioi.vocabulary() | set(ioi.TRAIN_NAMES)
    unique_to_heldout = {word for template in IOI_HELDOUT_TEMPLATES for word in _words(template) - ioi.vocabulary()}
    for sentence in sentences:
        words = set(re.findall(r"[A-Za-z]+", sentence))
        assert words <= vocabulary, (sentence, words - vocabulary)  # the vocabulary really covers what it writes
        assert not words & unique_to_heldout, sentence
        assert not words & set(IOI_HELDOUT_NAMES), sentence
    # the generator varies: many opening shapes, both name orders, and some non-name answers
    assert len({s.split(",")[0].split(".")[0].split()[0] for s in sentences}) >= 8
    assert any(s.endswith(tuple(f"the {who}." for who in ioi.OTHERS)) for s in sentences)


def test_heldout_names_have_distinct_first_tokens():
    from interp_widgets.models import load_model

    tokenizer = load_model().tokenizer
    firsts = [tokenizer(" " + name, add_special_tokens=False)["input_ids"][0] for name in IOI_HELDOUT_NAMES]
    assert len(set(firsts)) == len(firsts)
    prompts = ioi_prompts(tokenizer, 40, seed=1, templates=IOI_HELDOUT_TEMPLATES, names=IOI_HELDOUT_NAMES)
    assert all(io != subject for _, io, subject in prompts)
    assert len({p for p, _, _ in prompts}) == 40  # no prompt twice
