"""Clean / corrupt prompt pairs for patching, and checks on the corruption.

A pair must have the same number of tokens (patching compares position with position), differ only
where the corruption is, and the corruption should not bring in a token the model treats specially:
the seeds replaced `param` with `arg` and the analysis went wrong because the model attends to
`param` in its own way. So:

- `ioi_pair` / `docstring_pair`: ready-made pairs (indirect-object identification; docstring
  argument names) with the answer and the wrong answer for a logit difference, built only from
  names that are one token in this model's tokenizer, so lengths match.
- `differing_positions(model, clean, corrupt)`: where two prompts differ (an error names the first
  difference when the lengths do not match).
- `suggest_replacements(model, prompt, position)`: single tokens that could replace the one at
  `position` (same leading space and capitalisation, nearest in the embedding), so the length stays.
- `special_token_warnings(model, prompt, positions)`: a warning for each token whose embedding norm
  is an outlier in the vocabulary or which draws outlying attention in this prompt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import as_tokens
from interp_widgets.compute.patching.activation import token_pair
from interp_widgets.compute.patching.task_accuracy import DOCSTRING_NAMES, IOI_NAMES, IOI_OBJECTS, IOI_PLACES, IOI_TEMPLATES
from interp_widgets.errors import InterpWidgetsError

COMMON_NAMES = IOI_NAMES + ["Paul", "Max", "Ed", "Jean", "Anne", "Jack", "Bob", "Sam", "Tim", "Dan", "Ben", "Eve", "Kim", "Joe"]


@dataclass(frozen=True)
class PromptPair:
    """A clean prompt, its corruption, and the answers a logit difference compares (clean's answer first)."""

    clean: str
    corrupt: str
    answer: str
    wrong: str

    @property
    def metric(self) -> tuple[str, str]:
        """`(answer, wrong)`, as `patching.patch` takes a logit difference."""
        return (self.answer, self.wrong)


def one_token_words(model: Any, words: Sequence[str], leading_space: bool = True) -> list[str]:
    """The words that are a single token (with a leading space, as they appear mid-sentence)."""
    prefix = " " if leading_space else ""
    return [w for w in words if len(model.tokenizer(prefix + w, add_special_tokens=False)["input_ids"]) == 1]


def ioi_pair(model: Any, seed: int = 0, template: int | None = None, names: Sequence[str] | None = None,
             templates: Sequence[str] = IOI_TEMPLATES) -> PromptPair:
    """"When A and B went to the store, B gave a drink to" (answer A) vs the same with A as the giver (answer B).

    `templates` are the sentence shapes to draw from (`template` picks one by index):
    `circuits.IOI_HELDOUT_TEMPLATES` gives a pair in a shape the embedded models never trained on.
    """
    usable = one_token_words(model, names or COMMON_NAMES)
    if len(usable) < 2:
        raise InterpWidgetsError("fewer than two of the names are one token in this tokenizer: pass names=[...] that are.")
    rng = random.Random(seed)
    io, subject = rng.sample(usable, 2)
    text = templates[rng.randrange(len(templates)) if template is None else template]
    fill = dict(A=io, B=subject, place=rng.choice(IOI_PLACES), object=rng.choice(IOI_OBJECTS))
    return PromptPair(text.format(S=subject, **fill), text.format(S=io, **fill), " " + io, " " + subject)


def docstring_pair(model: Any, seed: int = 0) -> PromptPair:
    """A docstring prompt whose next `:param` is the third argument (answer), against the same prompt
    with that argument renamed in the signature (the answer must come from the signature)."""
    usable = one_token_words(model, DOCSTRING_NAMES)
    if len(usable) < 5:
        raise InterpWidgetsError("this tokenizer has too few one-token argument names for the docstring task.")
    rng = random.Random(seed)
    a, b, c, d, other = rng.sample(usable, 5)
    body = (f'    """Load the given file.\n\n    :param {a}: the input\n    :param {b}: the output\n    :param')
    clean = f"def load(self, {a}, {b}, {c}, {d}):\n{body}"
    corrupt = f"def load(self, {a}, {b}, {other}, {d}):\n{body}"
    return PromptPair(clean, corrupt, " " + c, " " + other)


def differing_positions(model: Any, clean: str | Tensor, corrupt: str | Tensor) -> list[int]:
    """Positions where the two prompts' tokens differ (an error says where when their lengths differ)."""
    clean_tokens, corrupt_tokens = token_pair(model, clean, corrupt)
    return (clean_tokens[0] != corrupt_tokens[0]).nonzero()[:, 0].tolist()


def suggest_replacements(model: Any, prompt: str | Tensor, position: int, k: int = 10) -> list[str]:
    """Up to k single tokens to put at `position` instead: same leading space and capitalisation as the
    original, nearest to it in the embedding (cosine), the original excluded. The length stays."""
    tokens = as_tokens(model, prompt)
    if not 1 <= position < tokens.shape[1]:
        raise InterpWidgetsError(f"position {position} is outside the prompt: choose 1 to {tokens.shape[1] - 1} (0 is BOS).")
    original = int(tokens[0, position])
    text = model.tokenizer.decode([original])
    embedding = model.W_E.detach().float()
    similarity = torch.nn.functional.cosine_similarity(embedding, embedding[original][None], dim=-1)
    out: list[str] = []
    for candidate in similarity.argsort(descending=True).tolist():
        if candidate == original:
            continue
        word = model.tokenizer.decode([candidate])
        if _shape(word) == _shape(text) and word.strip().isalpha():
            out.append(word)
        if len(out) == k:
            break
    return out


def _shape(word: str) -> tuple[bool, bool]:
    stripped = word.lstrip(" ")
    return word.startswith(" "), stripped[:1].isupper()


def special_token_warnings(model: Any, prompt: str | Tensor, positions: Sequence[int], z: float = 3.5) -> list[str]:
    """Warnings for tokens at `positions` that the model may treat specially: an outlier embedding norm
    (robust z-score over the vocabulary) or outlying attention received in this prompt (over the
    prompt's other tokens, for any head)."""
    tokens = as_tokens(model, prompt)
    norms = model.W_E.detach().float().norm(dim=-1)
    median, spread = norms.median(), (norms - norms.median()).abs().median() * 1.4826 + 1e-9
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(model.cfg.n_layers)]
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in names)
    # attention each key position receives, averaged over the later queries: [layer * head, key]
    received = torch.stack([_received(cache[name][0]) for name in names]).flatten(0, 1)
    warnings = []
    for position in positions:
        word = model.tokenizer.decode([int(tokens[0, position])])
        score = float((norms[int(tokens[0, position])] - median) / spread)
        if abs(score) > z:
            warnings.append(f"{word!r} at {position}: its embedding norm is an outlier in the vocabulary (robust z = {score:.1f}); "
                            "the model may treat it specially: prefer another replacement.")
        others = received[:, 1:-1]
        if others.shape[1] > 2 and 0 < position < tokens.shape[1] - 1:
            centre = others.median(dim=1).values
            mad = (others - centre[:, None]).abs().median(dim=1).values * 1.4826 + 1e-3
            head_scores = (received[:, position] - centre) / mad
            head = int(head_scores.argmax())
            if float(head_scores[head]) > 2 * z:
                layer, index = divmod(head, model.cfg.n_heads)
                warnings.append(f"{word!r} at {position}: head {layer}.{index} attends to it far more than to the prompt's other "
                                f"tokens (robust z = {float(head_scores[head]):.1f}); the model may treat it specially.")
    return warnings


def _received(pattern: Tensor) -> Tensor:
    """`[head, key]` mean attention each key gets from the queries after it, from `pattern [head, query, key]`."""
    n = pattern.shape[-1]
    later = torch.arange(n)[:, None] > torch.arange(n)[None, :]  # query after key
    total = (pattern * later).sum(dim=1)
    count = later.sum(dim=0).clamp(min=1)
    return total / count
