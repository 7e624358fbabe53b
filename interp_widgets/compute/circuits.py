"""Measuring what a model has learned: attention-head roles, residual norms, the docstring task.

- Previous-token score of a head: its mean attention from each position to the one before, on
  the given text (the user's prompt in the attention view). Query position 1 is left out: its
  previous token is BOS, which many heads attend to by default, so it says nothing about a
  previous-token head; the mean runs over queries 2 to the end.
- Induction score of a head: on a block of seeded random tokens repeated once, `[BOS, A, A]`
  (`repeated_random_tokens`, *not* the user's prompt: induction needs a repeat to show), its mean
  attention from each token of the second copy to the token *after* that token's first
  occurrence (the one to copy next). The loss on the second copy far below the first is the
  behavioural sign of induction.
- Duplicate-token score: on the same repeated random tokens `[BOS, A, A]`, attention from each token of the second copy
  to its own earlier occurrence. Attention-to-BOS score: mean attention to position 0 (a head
  "resting" on BOS does little on that token).
- Residual norm per layer: mean L2 norm of the residual stream before block 0 and after every
  block; in GPT-2-style models it grows roughly exponentially with depth, and the fitted growth
  factor per layer summarises that.
- Docstring task (Heimersheim & Janiak): after `def f(self, a, b, c, d):` and `:param a:` and
  `:param b:` lines, the model should continue `:param` with ` c`; top-1 accuracy among the four
  argument names (chance is 25 %).
- IOI (Wang et al.): "When Mary and John went to the store, John gave a drink to" → " Mary"; the
  accuracy is how often the indirect object's logit beats the subject's (chance 50 %), both name
  orders, names from `IOI_NAMES` only; `IOI_HELDOUT_TEMPLATES` / `IOI_HELDOUT_NAMES` are shapes and
  names the synthetic training text never uses.
- Logit-lens agreement: per layer boundary, the share of positions whose top-1 token through the
  logit lens is already the model's final top-1 (rises to 1 at the last boundary).
- Positional structure of learned absolute position embeddings `W_pos [n_ctx, d_model]`: the
  variance share of the leading principal components (position 0 left out: it is an outlier,
  measured on its own as the "first token" direction), and for each component the share of its
  variance in one Fourier frequency — two components with the same dominant frequency, each
  mostly one sinusoid, trace a circle over position, and with a slow "how late" component a helix.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import torch
from torch import Tensor

from interp_widgets.compute import residual
from interp_widgets.compute.hooks import model_device
from interp_widgets.errors import InterpWidgetsError

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


def attention_patterns(model: Any, tokens: Tensor) -> Tensor:
    """Attention patterns `[n_layers, batch, n_heads, query, key]` for `tokens [batch, pos]`."""
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(model.cfg.n_layers)]
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in names)
    return torch.stack([cache[name].float() for name in names])


def previous_token_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]`: mean attention to the previous position, `[.., heads]`.

    Over queries 2 to the end: query 1's previous position is BOS, where many heads rest by default.
    """
    diagonal = patterns.diagonal(offset=-1, dim1=-2, dim2=-1)  # query q, key q - 1
    return diagonal[..., 1:].mean(dim=(-3, -1))  # the query at 1 has only BOS behind it: left out


def previous_token_scores(model: Any, tokens: Tensor) -> Tensor:
    """Mean attention to the previous position, per head: `[n_layers, n_heads]`."""
    return previous_token_score(attention_patterns(model, tokens))


def repeated_random_tokens(model: Any, n_sequences: int = 8, half: int = 60, seed: int = 0) -> Tensor:
    """`[n, 1 + 2 * half]`: BOS, then a block of random tokens, then the same block again."""
    generator = torch.Generator().manual_seed(seed)
    bos = model.tokenizer.bos_token_id
    block = torch.randint(1, model.cfg.d_vocab, (n_sequences, half), generator=generator)
    block[block == bos] = 1
    return torch.cat([torch.full((n_sequences, 1), bos), block, block], dim=1).to(model_device(model))


def induction_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]` on `[BOS, A, A]`: attention to the token to copy, `[.., heads]`.

    The second copy of token i sits at 1 + half + i; the token after its first copy at 2 + i: a
    constant offset of half - 1 below the diagonal, read for the `half` queries of the second copy.
    """
    half = (patterns.shape[-1] - 1) // 2
    stripe = patterns.diagonal(offset=-(half - 1), dim1=-2, dim2=-1)  # query q, key q - half + 1
    return stripe[..., -half:].mean(dim=(-3, -1))


def duplicate_token_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]` on `[BOS, A, A]`: attention to the earlier copy of the same token, `[.., heads]`."""
    half = (patterns.shape[-1] - 1) // 2
    stripe = patterns.diagonal(offset=-half, dim1=-2, dim2=-1)  # query q, key q - half
    return stripe[..., -half:].mean(dim=(-3, -1))


def bos_score(patterns: Tensor) -> Tensor:
    """From patterns `[.., batch, heads, query, key]`: mean attention to position 0 over queries after it, `[.., heads]`."""
    return patterns[..., 1:, 0].mean(dim=(-3, -1))


# What each of `head_scores`' numbers is measured on, in words a view or a table can show as they are.
HEAD_SCORE_LABELS = {
    "previous_token": "previous-token score on the prompt (queries from position 2: position 1's previous token is BOS)",
    "induction": "induction score on repeated random tokens (seeded; not the prompt)",
    "duplicate_token": "duplicate-token score on repeated random tokens (seeded; not the prompt)",
    "bos": "attention to BOS on the prompt",
}


def head_scores(model: Any, text_tokens: Tensor, n_sequences: int = 4, half: int = 40, seed: int = 0) -> dict[str, Tensor]:
    """Every head's role scores, each `[n_layers, n_heads]`: previous-token and attention-to-BOS on
    `text_tokens [batch, pos]`; induction and duplicate-token on `n_sequences` blocks of `half` seeded
    random tokens repeated once, whatever the text. `HEAD_SCORE_LABELS` says so in words."""
    text = attention_patterns(model, text_tokens)
    repeated = attention_patterns(model, repeated_random_tokens(model, n_sequences, half, seed))
    return {
        "previous_token": previous_token_score(text),
        "induction": induction_score(repeated),
        "duplicate_token": duplicate_token_score(repeated),
        "bos": bos_score(text),
    }


def induction_scores(model: Any, tokens: Tensor) -> Tensor:
    """Per head `[n_layers, n_heads]`, on `repeated_random_tokens`: attention to the token to copy."""
    return induction_score(attention_patterns(model, tokens))


def repeated_sequence_loss(model: Any, tokens: Tensor) -> tuple[float, float]:
    """Mean next-token loss on the first copy and on the second copy of a repeated block."""
    half = (tokens.shape[1] - 1) // 2
    with torch.inference_mode():
        losses = model(tokens, return_type="loss", loss_per_token=True).float()  # [batch, pos - 1]
    return float(losses[:, 1:half].mean()), float(losses[:, half + 1 :].mean())


def residual_norms(model: Any, tokens: Tensor) -> Tensor:
    """Mean residual-stream norm before block 0 and after each block: `[n_layers + 1]` (BOS excluded)."""
    return residual.residual_norms(model, tokens).mean()


def growth_factor(norms: Tensor) -> float:
    """Per-layer factor of an exponential fitted to the norms (least squares on log norm)."""
    return residual.exponential_fit(norms).factor


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


def logit_lens_agreement(model: Any, tokens: Tensor) -> Tensor:
    """`[n_layers + 1]`: per boundary, the share of positions (BOS excluded) whose logit-lens top-1 is the final top-1."""
    agree = []
    for row in tokens:
        _, logits = residual.layer_logits(model, row[None])  # [boundaries, pos, vocab]
        top = logits[:, 1:].argmax(dim=-1)
        agree.append((top == top[-1]).float())
    return torch.cat(agree, dim=1).mean(dim=1)


def position_embeddings(model: Any) -> Tensor:
    """The learned absolute position embeddings `W_pos [n_ctx, d_model]` (transformer-lens 3.9 and 4.x bridges)."""
    kind = getattr(getattr(model, "cfg", None), "positional_embedding_type", "standard")
    w_pos = getattr(getattr(model, "pos_embed", None), "W_pos", None) if kind == "standard" else None
    if not isinstance(w_pos, Tensor):
        found = f"{kind} positions" if kind != "standard" else f"no pos_embed.W_pos ({type(model).__name__})"
        raise InterpWidgetsError(f"this model has {found}, not learned position embeddings W_pos: use a GPT-2-style model "
                                 "such as iw.load_model(\"embedded-6l\"), or pass W_pos [n_ctx, d_model] itself.")
    return w_pos.detach()


def positional_structure(w_pos: Tensor, k: int = 6) -> dict[str, Any]:
    """Principal components of `w_pos [n_ctx, d_model]` (position 0 apart) and how sinusoidal each is.

    Returns the variance share of the first `k` components, the components' values over position
    (`[k, n_ctx - 1]`, for a picture) and position 0's coordinates on them, each component's dominant frequency (cycles over the context)
    and the share of its variance in that frequency, the correlation of each with position (a
    "how late" direction), and the first token's distance from the rest in standard deviations.
    """
    w = w_pos.detach().double()
    k = max(1, min(k, w.shape[0] - 1, w.shape[1]))
    rest = w[1:]
    centred = rest - rest.mean(dim=0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = singular**2 / (singular**2).sum()
    components = centred @ vh[:k].T  # [n_ctx - 1, k]
    spectrum = torch.fft.rfft(components - components.mean(dim=0), dim=0).abs() ** 2  # [freqs, k]
    spectrum[0] = 0
    dominant = spectrum.argmax(dim=0)
    share = spectrum.max(dim=0).values / spectrum.sum(dim=0)
    position = torch.arange(1, w.shape[0], dtype=torch.float64)
    late = [float(torch.corrcoef(torch.stack([components[:, i], position]))[0, 1]) for i in range(k)]
    spread = (rest - rest.mean(dim=0)).norm(dim=1)
    first = float(((w[0] - rest.mean(dim=0)).norm() - spread.mean()) / spread.std())
    return {
        "first_token": ((w[0] - rest.mean(dim=0)) @ vh[:k].T).float(),  # position 0 on the same components, [k]
        "variance_share": variance[:k].tolist(),
        "components": components.T.float(),
        "dominant_frequency": dominant.tolist(),
        "frequency_share": share.tolist(),
        "position_correlation": late,
        "first_token_z": first,
    }
