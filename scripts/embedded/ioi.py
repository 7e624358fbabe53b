"""Synthetic indirect-object sentences for the training mix (Wang et al.'s IOI task).

"When Mary and John went to the store, John gave a drink to Mary": the name to predict is the one
of the pair that is not repeated. Real corpora have few such sentences, and a small model learns
the task only if it sees some. A model trained on a handful of fixed shapes learns those shapes
(the first 6-layer model: 91 % on its four shapes, 30 % on new ones), so the sentences here are
built procedurally from parts: an opening clause that introduces both names (many clause orders,
events and places, the two names together or apart, at different distances from the end), then
the repeated subject doing something to someone — giving, handing, sending, saying, showing, in
the "to X" form or the "gave X the ..." form. Both name orders (ABB and BAB) occur equally. Some
sentences end with a person who is not a name ("... to the driver"), so the model cannot simply
copy whichever name occurred once.

Held out: the names here are disjoint from the measured ones (`IOI_NAMES`, `IOI_HELDOUT_NAMES`),
and every shape in `IOI_HELDOUT_TEMPLATES` contains words that no part below uses, so this
generator can never produce a held-out sentence (tests/unit/patching/test_ioi_data.py checks both).
"""

from __future__ import annotations

import re

import numpy as np

from interp_widgets.compute.patching.task_accuracy import IOI_HELDOUT_NAMES, IOI_NAMES, IOI_TEMPLATES

_MEASURED = set(IOI_NAMES) | set(IOI_HELDOUT_NAMES)
TRAIN_NAMES = [name for name in (
    "Michael", "William", "Richard", "Charles", "Frank", "Jack", "Joe", "Bob", "Bill", "Jim", "Sam", "Max", "Alex",
    "Ben", "Dan", "Tim", "Ann", "Jane", "Linda", "Karen", "Nancy", "Betty", "Ruth", "Carol", "Amy", "Eve", "Rose",
    "Grace", "Ellen", "Hans", "Karl", "Fritz", "Adam", "Eric", "Steve", "Chris", "Andrew", "Kevin", "Brian", "Larry",
    "Fred", "Ed", "Ted", "Ray", "Roy", "Carl", "Dave", "Don", "Ken", "Ron", "Tony", "Jerry", "Harry", "Walter",
    "Arthur", "Albert", "Simon", "Victor", "Nick", "Luke", "Matt", "Greg", "Jeff", "Scott", "Bruce", "Gary", "Kim",
    "Ian", "Neil", "Ross", "Dean", "Joan", "Mike", "Pat", "Sue", "Lee", "Jean", "Ada", "Ida", "Otto", "Emil", "Kurt",
    "Lucy", "Julia", "Maria", "Marie", "Sophie", "Clara", "Eva", "Paul", "Molly", "Dorothy", "Frances", "Joyce",
    "Judy", "Megan", "Rachel", "Agnes", "Bernard", "Cecil", "Douglas", "Gilbert", "Howard", "Leonard", "Lloyd",
    "Morris", "Philip", "Roger", "Wayne",
) if name not in _MEASURED]

PLACES = ["store", "garden", "school", "station", "office", "park", "market", "house", "library", "beach", "museum",
          "cafe", "church", "hospital", "restaurant", "bakery", "river", "farm", "bank", "theater", "lake", "zoo"]
OBJECTS = ["drink", "book", "ring", "letter", "bag", "key", "ball", "flower", "basket", "cup", "hat", "map", "note",
           "box", "gift", "phone", "photo", "ticket", "coin", "pen", "apple", "cake", "towel", "lamp"]
# Verbs of giving, past tense -> base form ("S wanted to give ...").
GIVING = {"gave": "give", "handed": "hand", "showed": "show", "sent": "send", "threw": "throw", "lent": "lend",
          "brought": "bring", "sold": "sell", "returned": "return", "offered": "offer", "left": "leave"}
SAYING = ["said goodbye to", "talked to", "spoke to", "waved to", "smiled at", "shouted at", "wrote to",
          "complained to", "replied to", "listened to", "nodded to", "turned to", "looked at", "pointed at"]
OTHERS = ["driver", "waiter", "doctor", "neighbor", "child", "dog", "manager", "guard", "nurse", "baker", "farmer"]
# Opening clauses that bring in both names: {A}, {B}, {place} and a little filler.
TOGETHER = ["went to the {place}", "arrived at the {place}", "got to the {place}", "left the {place}",
            "had lunch at the {place}", "were talking at the {place}", "met at the {place}", "walked to the {place}",
            "were waiting at the {place}", "worked together at the {place}", "came back from the {place}",
            "played a game at the {place}", "spent the day at the {place}", "were at the {place}"]
FILLER = ["", "", "", " for a while", " on a cold day", " after a long and busy day", " with their friends",
          " and talked for a long time about the weather", " in the afternoon", " last week", " again"]
OPENINGS = [
    "When {A} and {B} {together}{filler}, {S} ",
    "After {A} and {B} {together}{filler}, {S} ",
    "Because {A} and {B} {together}{filler}, {S} ",
    "{A} and {B} {together}{filler}. {S} ",
    "{A} and {B} {together}{filler}. Then {S} ",
    "{A} and {B} {together}{filler}, and then {S} ",
    "{A} and {B} {together}{filler}. Later, {S} ",
    "Yesterday {A} and {B} {together}{filler}, where {S} ",
    "{A} met {B} at the {place}{filler}, and {S} ",
    "{A} saw {B} at the {place}{filler}. {S} ",
    "At the {place}, {A} and {B} were talking{filler}. {S} ",
    "Then, {A} and {B} had a long argument{filler}, and afterwards {S} ",
    "{A} and {B} were at the {place}. {S} wanted to ",
]


def _giving_verb(rng: np.random.Generator, base_form: bool) -> str:
    verb = str(rng.choice(list(GIVING)))
    return GIVING[verb] if base_form else verb


def ioi_sentence(rng: np.random.Generator) -> str:
    """One sentence with its answer: two training names, the subject repeated, the other name (or a person) last."""
    io, subject = rng.choice(TRAIN_NAMES, size=2, replace=False)
    first, second = (io, subject) if rng.random() < 0.5 else (subject, io)
    place, thing = rng.choice(PLACES), rng.choice(OBJECTS)
    if rng.random() < 0.15:  # the measured shapes themselves (with training names and parts)
        template = str(rng.choice(IOI_TEMPLATES))
        return template.format(A=first, B=second, S=subject, place=place, object=thing) + f" {io}."
    opening = str(rng.choice(OPENINGS))
    text = opening.format(A=first, B=second, S=subject, place=place, together=str(rng.choice(TOGETHER)).format(place=place),
                          filler=rng.choice(FILLER))
    base_form = opening.endswith("wanted to ")
    answer = f"the {rng.choice(OTHERS)}" if rng.random() < 0.12 else io
    kind = rng.random()
    if kind < 0.55:
        return text + f"{_giving_verb(rng, base_form)} {rng.choice(['a', 'the'])} {thing} to {answer}."
    if kind < 0.75:
        return text + f"{_giving_verb(rng, base_form)} {answer} {rng.choice(['a', 'the'])} {thing}."
    if base_form:  # "S wanted to" takes a giving verb only; a saying verb drops it
        text = text[: -len("wanted to ")]
    return text + f"{rng.choice(SAYING)} {answer}."


def ioi_text(rng: np.random.Generator, n_chars: int) -> str:
    """Sentences one after another until the text is at least `n_chars` long."""
    text = ""
    while len(text) < n_chars:
        text += ioi_sentence(rng) + ("\n" if rng.random() < 0.3 else " ")
    return text


def vocabulary() -> set[str]:
    """Every word this generator can write (names aside): a sentence with any other word is not one of its own."""
    parts = [*IOI_TEMPLATES, *PLACES, *OBJECTS, *GIVING, *GIVING.values(), *SAYING, *OTHERS, *TOGETHER, *FILLER, *OPENINGS,
             "a the to"]
    words = set()
    for part in parts:
        words.update(re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", part)))
    return words
