"""Prompt sets that measure a behaviour, and the model's accuracy on them: the docstring task and IOI.

- Docstring task (Heimersheim & Janiak): after `def f(self, a, b, c, d):` and `:param a:` and
  `:param b:` lines, the model should continue `:param` with ` c`; top-1 accuracy among the four
  argument names (chance is 25 %).
- IOI (Wang et al.): "When Mary and John went to the store, John gave a drink to" → " Mary"; the
  accuracy is how often the indirect object's logit beats the subject's (chance 50 %), both name
  orders, names from `IOI_NAMES` only; `IOI_HELDOUT_TEMPLATES` / `IOI_HELDOUT_NAMES` are shapes and
  names the synthetic training text never uses.

The clean / corrupt pairs built from the same names are in `compute.patching.tasks`.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import torch


DOCSTRING_NAMES = [
    "data", "value", "name", "path", "key", "size", "index", "items", "result", "text", "url", "config", "options",
    "count", "source", "target", "model", "user", "query", "state", "node", "message", "width", "height", "limit",
    "offset", "timeout", "mode", "level", "prefix", "token", "label", "column", "table", "field", "filename",
]


DOCSTRING_WORDS = ["the", "a", "an", "number", "of", "new", "old", "first", "last", "given", "current", "default", "input", "output"]


# Indirect-object identification: measured with these names only; synthetic training text
# (scripts/embedded/ioi.py) uses other names.
IOI_NAMES = [
    "Mary", "John", "Tom", "James", "Anna", "Kate", "Sarah", "Lisa", "David", "Peter",
    "Laura", "Susan", "Alice", "Martin", "Henry", "George", "Emma", "Helen", "Robert", "Thomas",
]


IOI_PLACES = ["store", "garden", "school", "station", "office", "park", "market", "house"]


IOI_OBJECTS = ["drink", "book", "ring", "letter", "bag", "key", "ball", "flower"]


IOI_TEMPLATES = [
    "When {A} and {B} went to the {place}, {S} gave a {object} to",
    "After {A} and {B} went to the {place}, {S} gave a {object} to",
    "While {A} and {B} were working at the {place}, {S} handed a {object} to",
    "{A} and {B} found a {object} at the {place}. {S} gave it to",
]


# A held-out IOI set: sentence shapes and names that the synthetic training text
# (scripts/embedded/ioi.py) never produces — each shape has words its generator never uses, and
# the names (with distinct first tokens) are in neither its list nor `IOI_NAMES`. A model that
# solves these has learned the rule (the name said once is the one to give to), not the shapes.
IOI_HELDOUT_NAMES = [
    "Oscar", "Nora", "Hugo", "Iris", "Felix", "Stella", "Leo", "Vera", "Ruby", "Diana",
    "Lena", "Bruno", "Sofia", "Tina", "Gordon", "Zoe", "Quinn", "Anton",
]


IOI_HELDOUT_TEMPLATES = [
    "While {A} and {B} were cooking dinner, {S} passed the salt to",
    "{A} and {B} were sitting on a bench. After a while, {S} whispered a secret to",
    "Once {A} and {B} had finished the puzzle, {S} tossed a pencil to",
    "On the train, {A} sat beside {B}. Suddenly {S} offered a sandwich to",
    "{A} and {B} stayed at a hotel. In the morning, {S} mailed a postcard to",
    "Since {A} and {B} both loved music, {S} lent a guitar to",
    "At the wedding, {A} and {B} danced all night, so {S} brought a coat to",
    "{A} phoned {B} in the evening, and later {S} delivered a parcel to",
    "The teacher asked {A} and {B} to stay. Afterwards, {S} explained the answer to",
    "During the storm, {A} and {B} hid in the barn, and {S} handed a blanket to",
]


def docstring_prompts(n: int = 100, seed: int = 0, names: Sequence[str] = DOCSTRING_NAMES) -> list[tuple[str, list[str]]]:
    """Prompts ending in `:param` whose right continuation is the third argument; with the four names."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(n):
        a, b, c, d = rng.sample(list(names), 4)
        description = " ".join(rng.choice(DOCSTRING_WORDS) for _ in range(3))
        prompt = (
            f"def {rng.choice(['load', 'update', 'render', 'check', 'create'])}(self, {a}, {b}, {c}, {d}):\n"
            f'    """{description.capitalize()} {rng.choice(["item", "file", "record"])}.\n\n'
            f"    :param {a}: {rng.choice(DOCSTRING_WORDS)} {rng.choice(DOCSTRING_WORDS)}\n"
            f"    :param {b}: {rng.choice(DOCSTRING_WORDS)} {rng.choice(DOCSTRING_WORDS)}\n"
            f"    :param"
        )
        prompts.append((prompt, [a, b, c, d]))
    return prompts


def docstring_accuracy(model: Any, n: int = 100, seed: int = 0) -> float:
    """Top-1 accuracy of ` c` among the four argument names' first tokens (chance 0.25)."""
    tokenizer = model.tokenizer
    correct = 0
    for prompt, args in docstring_prompts(n, seed):
        candidates = [tokenizer(" " + name, add_special_tokens=False)["input_ids"][0] for name in args]
        with torch.inference_mode():
            logits = model(prompt)[0, -1]
        correct += int(int(torch.stack([logits[c] for c in candidates]).argmax()) == 2)
    return correct / n


def ioi_prompts(tokenizer: Any, n: int = 200, seed: int = 0, templates: Sequence[str] = IOI_TEMPLATES,
                names: Sequence[str] = IOI_NAMES) -> list[tuple[str, int, int]]:
    """`n` IOI prompts `(prompt, io_token, subject_token)`: two names whose first tokens differ.

    A small tokenizer splits most names into pieces, so the answer is each name's first token
    (with its leading space). Even-numbered prompts put the indirect object first ("ABB"), odd
    ones the subject first ("BAB"), so a name-order habit scores 50 %.
    """
    first_token = {name: tokenizer(" " + name, add_special_tokens=False)["input_ids"][0] for name in names}
    rng = random.Random(seed)
    prompts = []
    for index in range(n):
        io, subject = rng.sample(list(names), 2)
        while first_token[io] == first_token[subject]:
            io, subject = rng.sample(list(names), 2)
        first, second = (io, subject) if index % 2 == 0 else (subject, io)
        prompt = rng.choice(list(templates)).format(A=first, B=second, S=subject, place=rng.choice(IOI_PLACES), object=rng.choice(IOI_OBJECTS))
        prompts.append((prompt, first_token[io], first_token[subject]))
    return prompts


def ioi_accuracy(model: Any, n: int = 200, seed: int = 0, templates: Sequence[str] = IOI_TEMPLATES,
                 names: Sequence[str] = IOI_NAMES) -> dict[str, float]:
    """Share of IOI prompts where the indirect object's logit beats the subject's, and the mean logit difference.

    Chance is 50 %. `templates`/`names` default to the measured training shapes with unseen names;
    `IOI_HELDOUT_TEMPLATES`/`IOI_HELDOUT_NAMES` ask whether the rule generalises to new shapes.
    """
    correct, differences = 0, []
    for prompt, io_token, subject_token in ioi_prompts(model.tokenizer, n, seed, templates, names):
        with torch.inference_mode():
            logits = model(prompt)[0, -1].float()
        difference = float(logits[io_token] - logits[subject_token])
        differences.append(difference)
        correct += int(difference > 0)
    return {"accuracy": correct / n, "logit_diff": sum(differences) / n}

