"""Synthetic indirect-object sentences for the training mix (Wang et al.'s IOI task).

"When Mary and John went to the store, John gave a drink to Mary": the name to predict is the one
of the pair that is not repeated. Real corpora have few such sentences, and a small model learns
the task only if it sees some. These use the measurement's sentence shapes
(`interp_widgets.compute.circuits.IOI_TEMPLATES`) and a few more, but never its names
(`IOI_NAMES`): the accuracy in the model card is measured on names the model never saw in this
role, so it reads the rule (copy the name that occurred once), not memorised pairs.
"""

from __future__ import annotations

import numpy as np

from interp_widgets.compute.circuits import IOI_NAMES, IOI_OBJECTS, IOI_PLACES, IOI_TEMPLATES

TRAIN_NAMES = [name for name in (
    "Michael", "William", "Richard", "Charles", "Frank", "Jack", "Joe", "Bob", "Bill", "Jim", "Sam", "Max", "Alex",
    "Ben", "Dan", "Tim", "Ann", "Jane", "Linda", "Karen", "Nancy", "Betty", "Ruth", "Carol", "Amy", "Eve", "Rose",
    "Grace", "Ellen", "Hans", "Karl", "Fritz", "Adam", "Eric", "Steve", "Chris", "Andrew", "Kevin", "Brian", "Larry",
    "Fred", "Ed", "Ted", "Ray", "Roy", "Carl", "Dave", "Don", "Ken", "Ron", "Tony", "Jerry", "Harry", "Walter",
    "Arthur", "Albert", "Simon", "Victor", "Nick", "Luke", "Matt", "Greg", "Jeff", "Scott", "Bruce", "Gary", "Kim",
    "Ian", "Neil", "Ross", "Dean", "Joan", "Mike", "Pat", "Sue", "Lee", "Jean", "Ada", "Ida", "Otto", "Emil", "Kurt",
    "Lucy", "Julia", "Maria", "Marie", "Sophie", "Clara", "Eva", "Paul",
) if name not in IOI_NAMES]
TEMPLATES = IOI_TEMPLATES + [
    "Then, {A} and {B} had a long argument, and afterwards {S} said to",
    "{A} and {B} were at the {place}. {S} wanted to send a {object} to",
    "Yesterday {A} and {B} walked to the {place}, where {S} showed the {object} to",
]


def ioi_sentence(rng: np.random.Generator) -> str:
    """One sentence with its answer: two training names, the subject repeated, the other name last."""
    io, subject = rng.choice(TRAIN_NAMES, size=2, replace=False)
    first, second = (io, subject) if rng.random() < 0.5 else (subject, io)
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    text = template.format(A=first, B=second, S=subject, place=rng.choice(IOI_PLACES), object=rng.choice(IOI_OBJECTS))
    return f"{text} {io}."


def ioi_text(rng: np.random.Generator, n_chars: int) -> str:
    """Sentences one after another until the text is at least `n_chars` long."""
    text = ""
    while len(text) < n_chars:
        text += ioi_sentence(rng) + ("\n" if rng.random() < 0.3 else " ")
    return text
