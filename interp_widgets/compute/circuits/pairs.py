"""Batches of clean / corrupt prompt pairs, and metrics: one number per pair from the logits.

A pair is two prompts of the same length (positions are compared one to one) and, for a logit
difference, the clean answer and the wrong (corrupt) answer. Pairs of different lengths share a
batch by right padding: `last[b]` is pair b's last real token, where the built-in metrics read,
and a causal model's padded positions change nothing before them.

A metric is any function `metric(logits [N, pos, vocab], pairs) -> [N]`, one number per row, where
the rows are the batch's pairs (repeated when one forward pass runs several patches: `pairs`
is then repeated to match). Built in: `"logit_difference"` (answer minus wrong at `last`),
`"probability"` (of the answer), `"kl"` (KL(clean || run) of the next-token distribution at
`last`: 0 for the clean run, so the important edges have negative scores).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import model_device, one_token_id
from interp_widgets.compute.patching.activation import token_pair
from interp_widgets.errors import InterpWidgetsError

Metric = Callable[[Tensor, "PairBatch"], Tensor]


@dataclass(frozen=True)
class PairBatch:
    """Clean and corrupt tokens `[B, pos]`, each pair's last real position `[B]`, answers `[B]`."""

    clean: Tensor
    corrupt: Tensor
    last: Tensor
    answer: Tensor | None = None
    wrong: Tensor | None = None
    clean_log_probs: Tensor | None = None  # [B, vocab] at `last`, filled in by the clean run (for "kl")

    @property
    def size(self) -> int:
        return int(self.clean.shape[0])

    def repeat(self, times: int) -> "PairBatch":
        """The batch `times` over, pair-major inside each copy (rows c * B + b)."""
        def rep(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.repeat(times, *([1] * (t.ndim - 1)))
        return PairBatch(rep(self.clean), rep(self.corrupt), rep(self.last), rep(self.answer), rep(self.wrong), rep(self.clean_log_probs))

    def with_clean_logits(self, logits: Tensor) -> "PairBatch":
        rows = torch.arange(self.size, device=logits.device)
        return replace(self, clean_log_probs=logits[rows, self.last].float().log_softmax(-1).detach())


def _field(pair: Any, name: str) -> Any:
    return pair[name] if isinstance(pair, dict) else getattr(pair, name, None)


def pair_batch(model: Any, pairs: Any) -> PairBatch:
    """A `PairBatch` from a `PromptPair` (`compute.patching.tasks.ioi_pair` / `docstring_pair`), a
    list of them, `(clean, corrupt, answer, wrong)` tuples, or a `PairBatch` (returned as it is)."""
    if isinstance(pairs, PairBatch):
        return pairs
    if not isinstance(pairs, (list, tuple)) or (pairs and isinstance(pairs[0], str)):
        pairs = [pairs]
    if not pairs:
        raise InterpWidgetsError("no prompt pairs given: pass a PromptPair (e.g. compute.patching.tasks.ioi_pair(model)) or a list of them.")
    rows, answers, wrongs = [], [], []
    for pair in pairs:
        if isinstance(pair, (tuple, list)):
            if len(pair) not in (2, 4):
                raise InterpWidgetsError(f"a pair is (clean, corrupt) or (clean, corrupt, answer, wrong), got {len(pair)} items.")
            clean, corrupt, answer, wrong = (*pair, None, None)[:4]
        else:
            clean, corrupt, answer, wrong = (_field(pair, n) for n in ("clean", "corrupt", "answer", "wrong"))
        rows.append(token_pair(model, clean, corrupt))
        answers.append(answer)
        wrongs.append(wrong)
    device = model_device(model)
    lengths = [int(c.shape[1]) for c, _ in rows]
    pad = getattr(model.tokenizer, "pad_token_id", None) if getattr(model, "tokenizer", None) else None
    pad = 0 if pad is None else int(pad)
    clean = torch.full((len(rows), max(lengths)), pad, dtype=torch.long)
    corrupt = clean.clone()
    for b, (c, k) in enumerate(rows):
        clean[b, : c.shape[1]], corrupt[b, : k.shape[1]] = c[0].cpu(), k[0].cpu()
    def ids(values: list[Any], role: str) -> Tensor | None:
        if all(v is None for v in values):
            return None
        if any(v is None for v in values):
            raise InterpWidgetsError(f"some pairs name a {role} and some do not: give every pair one, or none.")
        return torch.tensor([one_token_id(model, v, role) for v in values], device=device)
    return PairBatch(clean.to(device), corrupt.to(device), torch.tensor(lengths, device=device) - 1,
                     ids(answers, "answer"), ids(wrongs, "wrong answer"))


def _last(logits: Tensor, pairs: PairBatch) -> Tensor:
    return logits[torch.arange(logits.shape[0], device=logits.device), pairs.last]


def _need(pairs: PairBatch, what: str, metric: str) -> Tensor:
    value = getattr(pairs, what)
    if value is None:
        raise InterpWidgetsError(f'the metric "{metric}" needs each pair\'s {what}: build the pairs with answers (PromptPair.answer / wrong).')
    return value


def logit_difference(logits: Tensor, pairs: PairBatch) -> Tensor:
    """Logit of the answer minus logit of the wrong answer at each pair's last position: `[N]`."""
    last = _last(logits, pairs).float()
    rows = torch.arange(last.shape[0], device=last.device)
    return last[rows, _need(pairs, "answer", "logit_difference")] - last[rows, _need(pairs, "wrong", "logit_difference")]


def probability(logits: Tensor, pairs: PairBatch) -> Tensor:
    """Probability of the answer at each pair's last position: `[N]`."""
    last = _last(logits, pairs).float().softmax(-1)
    return last[torch.arange(last.shape[0], device=last.device), _need(pairs, "answer", "probability")]


def kl_divergence(logits: Tensor, pairs: PairBatch) -> Tensor:
    """KL(clean || this run) of the next-token distribution at each pair's last position: `[N]`."""
    reference = pairs.clean_log_probs
    if reference is None:
        raise InterpWidgetsError('the metric "kl" compares with the clean run: call it through the circuit functions, which fill it in.')
    log_probs = _last(logits, pairs).float().log_softmax(-1)
    return (reference.exp() * (reference - log_probs)).sum(-1)


METRICS: dict[str, Metric] = {"logit_difference": logit_difference, "logit_diff": logit_difference, "probability": probability,
                              "prob": probability, "kl": kl_divergence}


def resolve_metric(metric: str | Metric) -> Metric:
    if callable(metric):
        return metric
    if metric not in METRICS:
        raise InterpWidgetsError(f"unknown metric {metric!r}: use one of {sorted(METRICS)} or a function (logits, pairs) -> [rows].")
    return METRICS[metric]


def evaluate(metric: Metric, logits: Tensor, pairs: PairBatch) -> Tensor:
    """`metric(logits, pairs)` checked to give one finite number per row: `[N]`."""
    value = metric(logits, pairs)
    if not isinstance(value, Tensor) or value.shape != (logits.shape[0],):
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise InterpWidgetsError(f"the metric must return one number per row, a tensor of shape ({logits.shape[0]},); it returned {shape}.")
    return value


def mean_over_pairs(values: Tensor, n_pairs: int) -> Tensor:
    """`[C * B]` row values -> `[C]` means over each copy's B pairs."""
    return values.view(-1, n_pairs).mean(-1)
