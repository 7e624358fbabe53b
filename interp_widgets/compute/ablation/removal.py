"""Token ablation: how a readout at one position changes when earlier tokens are removed.

The seed researcher's "ablated text": remove each earlier token in turn and watch a feature's
activation at the target position; red where it drops. Two ways to remove token i:

- `mode="delete"`: run the prompt without it; later tokens shift one position left.
- `mode="replace"`: put another token in its place (`replacement`), positions unchanged.

A causal model's value at the target depends only on the tokens up to the target, so every
variant is cut right after the target. Removing token i changes nothing before i, so each variant
reuses the clean run's prefix and recomputes only from i on, and at the hook's own layer only the
target position (`incremental.PrefixRunner`; exact, checked against the clean run each time it is
prepared). Where that does not apply (another model class, a hook inside a block), the variants
run as plain batched forwards to the hook's block. Each result equals a separate forward pass.
The clean run is kept per (model, hook) for the latest prompt, so clicks on one prompt cost one
variant each. BOS is never removed (a model trained without BOS, e.g. Pythia, has none: its first token can be).

One sign convention throughout (results, views, text forms, notebooks):
drop = clean - ablated, positive where removing the token lowers the readout; and for a pair,
interaction = joint drop - (drop A + drop B). A positive interaction means the pair matters more
than the two alone, as in "(A or B) ... C" (either one keeps the feature on, so each alone drops
little and both together drop much); a negative one means either alone already removes most of
it, as in an AND (A and B both needed: each alone drops it all).

`remove_tokens` removes any set of positions at once (what clicking tokens toggles);
`pairwise_removal` removes every pair among the k most important single tokens and reports each
pair's joint drop and interaction.

The target: by default (`target=None`) the position where the clean readout is largest (at least
position 2), not the last token; `LeaveOneOut.target` and `target_chosen` say which and why.

Shapes: `tokens [1, pos]`; variants `[n_variants, length]`; values `[n_variants]`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import activations_at, as_tokens, one_token_id, resolve_hook_name, starts_with_bos, token_strings
from interp_widgets.compute.core.prefix_runner import PrefixRunner
from interp_widgets.compute.core.readouts import Readout, SAEFeatureReadout, as_readout, sae_hook_name
from interp_widgets.errors import InterpWidgetsError

CHUNK = 64  # variants per forward pass (plain batched path)
_PREPARED: "weakref.WeakKeyDictionary[Any, dict[str, _Prepared]]" = weakref.WeakKeyDictionary()
_VERIFIED: "weakref.WeakKeyDictionary[Any, dict[str, bool]]" = weakref.WeakKeyDictionary()


@dataclass
class _Prepared:
    """The clean run of the latest prompt at one hook: activation `[pos, d]` and a prepared prefix runner (or None)."""

    tokens: tuple[int, ...]
    activation: Tensor
    runner: PrefixRunner | None


@dataclass(frozen=True)
class LeaveOneOut:
    """The readout at `target` with each earlier token removed.

    values         `[pos]` value with token i removed (NaN at BOS, at the target and after it)
    clean          the value on the whole prompt
    target_chosen  True when the target was not given and is where the clean readout is largest
    """

    tokens: list[str]
    target: int
    clean: float
    values: Tensor
    mode: str
    target_chosen: bool = False

    @property
    def drop(self) -> Tensor:
        """`clean - values`, `[pos]`: positive where removing the token lowers the readout."""
        return self.clean - self.values

    def describe_target(self) -> str:
        """The target in words, saying how it was chosen (e.g. "target 7 ' mat' (largest activation)")."""
        how = "where the readout is largest" if self.target_chosen else "given"
        return f"target {self.target} {self.tokens[self.target]!r} ({how})"


@dataclass(frozen=True)
class PairRemoval:
    """Joint removal of pairs among the most important single tokens.

    positions    `[k]` the single tokens considered (largest drop first)
    single       `[k]` each one's drop alone (clean - ablated)
    joint        `[k, k]` the drop when both are removed (NaN on the diagonal)
    interaction  `[k, k]` joint - single_i - single_j: positive = the pair matters more than the two alone (OR)
    """

    positions: list[int]
    single: Tensor
    joint: Tensor
    interaction: Tensor


class _Reader:
    """Runs variants to the hook and applies one readout at a chosen position of each."""

    def __init__(self, model: Any, hook: str, readout: Any) -> None:
        self.model = model
        self.hook = resolve_hook_name(model, hook)
        self.readout: Readout = as_readout(readout)
        if isinstance(self.readout, SAEFeatureReadout):
            trained_on = sae_hook_name(self.readout.sae)
            if trained_on is not None and trained_on != self.hook:
                raise InterpWidgetsError(f"the SAE was trained on {trained_on!r} but the readout is at {self.hook!r}: pass hook={trained_on!r}.")
        self.checked = False

    def prepared(self, tokens: Tensor) -> _Prepared:
        """The clean activation of `tokens [1, pos]` and, where it applies and checks out, a prefix runner."""
        per_hook = _PREPARED.setdefault(self.model, {})
        key = tuple(tokens[0].tolist())
        entry = per_hook.get(self.hook)
        if entry is None or entry.tokens != key:
            runner: PrefixRunner | None = PrefixRunner(self.model, self.hook)
            verified = _VERIFIED.setdefault(self.model, {})
            if runner.reason is not None or verified.get(self.hook) is False:
                runner = None
            if runner is not None and verified.get(self.hook):
                activation = runner.prepare(tokens[0])
            else:  # the model's own forward; the first time, the runner is checked against it
                with torch.inference_mode():
                    activation = self.activations(tokens)[0]
                if runner is not None:
                    ours = runner.prepare(tokens[0])
                    verified[self.hook] = bool(ours.shape == activation.shape and torch.allclose(ours, activation, atol=1e-4, rtol=1e-4))
                    runner = runner if verified[self.hook] else None  # not this architecture after all: plain forwards
            entry = per_hook[self.hook] = _Prepared(key, activation, runner)
        return entry

    def removal_values(self, tokens: Tensor, target: int, removals: Sequence[Sequence[int]], mode: str,
                       replacement: int | None, stop: Callable[[], bool] | None = None) -> Tensor:
        """The readout at `target` for each set of removed positions, `[n]` (NaN where `stop()` cut it short)."""
        runner = self.prepared(tokens).runner
        if runner is not None:
            starts = [min(removed) for removed in removals]
            suffixes = [_suffix(tokens, removed, start, target, mode, replacement) for removed, start in zip(removals, starts)]
            activation = runner.run(torch.tensor(starts, device=tokens.device), suffixes, stop)
            with torch.inference_mode():
                return self.readout.read(activation).float().cpu()
        variants = [_variant(tokens, removed, target, mode, replacement) for removed in removals]
        values = torch.full((len(removals),), float("nan"))
        lengths = torch.tensor([len(v) for v in variants])
        for length in lengths.unique().tolist():  # same length, same read position: one batch
            index = (lengths == length).nonzero()[:, 0]
            values[index] = self.at(torch.stack([variants[i] for i in index.tolist()]).to(tokens.device), length - 1)
        return values

    def activations(self, tokens: Tensor) -> Tensor:
        activation = activations_at(self.model, tokens, self.hook)
        if activation.ndim != 3:
            raise InterpWidgetsError(f"hook {self.hook!r} gives activations of shape {list(activation.shape)}, not [batch, pos, d]: "
                                     "choose a residual-stream, MLP or attention-output hook.")
        if not self.checked:
            self.readout.validate(activation.shape[-1], self.hook)
            self.checked = True
        return activation

    def all_positions(self, tokens: Tensor) -> Tensor:
        """The readout at every position of one prompt, `[pos]`."""
        activation = self.prepared(tokens).activation
        if not self.checked:
            self.readout.validate(activation.shape[-1], self.hook)
            self.checked = True
        with torch.inference_mode():
            return self.readout.read(activation).float().cpu()

    def at(self, variants: Tensor, position: int) -> Tensor:
        """The readout at `position` of each variant `[n, length]`, in chunks: `[n]`."""
        values = []
        with torch.inference_mode():
            for chunk in variants.split(CHUNK):
                activation = self.activations(chunk.to(variants.device))[:, position]
                values.append(self.readout.read(activation).float().cpu())
        return torch.cat(values) if values else torch.zeros(0)


def first_removable(model: Any, tokens: Tensor) -> int:
    """The first position an ablation may remove: 1 after a BOS, 0 where the prompt has none (a model trained without)."""
    return 1 if starts_with_bos(model, tokens) else 0


def _target(model: Any, tokens: Tensor, reader: _Reader, target: int | None) -> tuple[int, Tensor]:
    """The target position (given, or where the clean readout is largest, at least 2) and the clean readout `[pos]`."""
    values = reader.all_positions(tokens)
    n, first = tokens.shape[1], first_removable(model, tokens)
    if n < first + 2:
        raise InterpWidgetsError("the prompt needs at least two tokens after BOS: one to remove and a target after it.")
    if target is None:
        target = first + int(values[first:].argmax())
        target = max(target, first + 1)  # at least one removable token before it
    if target < 0:
        target += n
    if not first + 1 <= target < n:
        raise InterpWidgetsError(f"target position {target} is out of range: choose {first + 1} to {n - 1} (0 is BOS, and at least one "
                                 "token must come before the target).")
    return target, values


REPLACEMENT_CANDIDATES = (" the", " a", " and", ".", ",", " ")


def default_replacement(model: Any) -> str:
    """A replacement token that is one token of this model's vocabulary: the first of
    `REPLACEMENT_CANDIDATES` that is, else the first vocabulary entry that reads back as itself."""
    for text in REPLACEMENT_CANDIDATES:
        if len(model.tokenizer(text, add_special_tokens=False)["input_ids"]) == 1:
            return text
    for token_id in range(model.cfg.d_vocab):
        text = model.tokenizer.decode([token_id])
        if text and model.tokenizer(text, add_special_tokens=False)["input_ids"] == [token_id]:
            return text
    raise InterpWidgetsError("no token of this vocabulary reads back as one token: pass replacement= yourself.")


def _replacement_id(model: Any, replacement: str | int | None) -> int:
    if replacement is None:
        raise InterpWidgetsError('mode="replace" needs a replacement token, e.g. replacement=" the".')
    return one_token_id(model, replacement, "replacement")


def _variant(tokens: Tensor, removed: Iterable[int], target: int, mode: str, replacement: int | None) -> Tensor:
    """The prompt cut after `target` with `removed` positions deleted (or replaced), `[length]`."""
    kept = tokens[0, : target + 1].clone()
    removed = sorted(set(removed))
    if mode == "replace":
        kept[removed] = replacement
        return kept
    mask = torch.ones(target + 1, dtype=torch.bool)
    mask[removed] = False
    return kept[mask]


def _suffix(tokens: Tensor, removed: Sequence[int], start: int, target: int, mode: str, replacement: int | None) -> Tensor:
    """`_variant(...)[start:]`, the part a prefix runner recomputes; a single removal is a slice (no copy)."""
    if len(removed) == 1:
        rest = tokens[0, start + 1 : target + 1]
        return rest if mode == "delete" else torch.cat([torch.tensor([replacement], device=tokens.device), rest])
    return _variant(tokens, removed, target, mode, replacement)[start:]


def _check_mode(mode: str) -> None:
    if mode not in ("delete", "replace"):
        raise InterpWidgetsError(f'mode must be "delete" or "replace", got {mode!r}.')


def leave_one_out(model: Any, prompt_or_tokens: str | Tensor, hook: str, readout: Any, target: int | None = None,
                  mode: str = "delete", replacement: str | int | None = None, stop: Callable[[], bool] | None = None,
                  positions: Sequence[int] | None = None) -> LeaveOneOut:
    """The readout at `target` with each earlier token removed, and the clean value.

    `target=None` picks the position where the clean readout is largest (at least position 2),
    not the last token; the result's `target` and `describe_target()` name it.

    `positions`: remove only these (the others stay NaN), e.g. to fill a long map in slices.
    `stop()`, if given, is asked between batches; when it answers True the remaining values stay NaN
    (a newer request superseded this one).
    """
    _check_mode(mode)
    tokens = as_tokens(model, prompt_or_tokens)
    reader = _Reader(model, hook, readout)
    chosen = target is None
    target, clean_values = _target(model, tokens, reader, target)
    replacement_id = _replacement_id(model, replacement) if mode == "replace" else None
    every = range(first_removable(model, tokens), target)
    positions = list(every) if positions is None else sorted(set(int(p) for p in positions) & set(every))
    values = torch.full((tokens.shape[1],), float("nan"))
    if positions:
        values[positions] = reader.removal_values(tokens, target, [[i] for i in positions], mode, replacement_id, stop)
    str_tokens = token_strings(model, tokens[0])
    return LeaveOneOut(str_tokens, target, float(clean_values[target]), values, mode, target_chosen=chosen)


def remove_tokens(model: Any, prompt_or_tokens: str | Tensor, hook: str, readout: Any, positions: Sequence[int], target: int,
                  mode: str = "delete", replacement: str | int | None = None) -> float:
    """The readout at `target` with every position in `positions` removed at once (BOS and the target cannot be)."""
    _check_mode(mode)
    tokens = as_tokens(model, prompt_or_tokens)
    reader = _Reader(model, hook, readout)
    target, clean = _target(model, tokens, reader, target)
    first = first_removable(model, tokens)
    bad = [p for p in positions if not first <= p < target]
    if bad:
        raise InterpWidgetsError(f"positions {bad} cannot be removed: choose positions {first} to {target - 1} (after BOS, before the target).")
    if not positions:
        return float(clean[target])
    replacement_id = _replacement_id(model, replacement) if mode == "replace" else None
    return float(reader.removal_values(tokens, target, [list(positions)], mode, replacement_id)[0])


def pairwise_removal(model: Any, prompt_or_tokens: str | Tensor, hook: str, readout: Any, target: int | None = None,
                     top_k: int = 5, mode: str = "delete", replacement: str | int | None = None,
                     single: LeaveOneOut | None = None) -> PairRemoval:
    """Remove every pair among the `top_k` tokens whose single removal lowers the readout most.

    `single`: the leave-one-out map of the same prompt, target and mode, if already computed.
    """
    if single is None or single.mode != mode or (target is not None and single.target != target):
        single = leave_one_out(model, prompt_or_tokens, hook, readout, target, mode, replacement)
    tokens = as_tokens(model, prompt_or_tokens)
    first = first_removable(model, tokens)
    drops = single.drop[first : single.target]
    k = min(top_k, drops.numel())
    if k < 2:
        raise InterpWidgetsError("pairs need at least two tokens before the target: choose a later target.")
    order = (first + drops.argsort(descending=True)[:k]).tolist()  # largest drop first
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    replacement_id = _replacement_id(model, replacement) if mode == "replace" else None
    reader = _Reader(model, hook, readout)
    joint_drops = single.clean - reader.removal_values(tokens, single.target, pairs, mode, replacement_id)
    joint = torch.full((k, k), float("nan"))
    index = {position: i for i, position in enumerate(order)}
    for (a, b), value in zip(pairs, joint_drops.tolist()):
        joint[index[a], index[b]] = joint[index[b], index[a]] = value
    alone = single.drop[order]
    return PairRemoval(order, alone, joint, joint - alone[:, None] - alone[None, :])


def readout_values(model: Any, prompt_or_tokens: str | Tensor, hook: str, readout: Any) -> Tensor:
    """The readout at every position of the prompt, `[pos]` (the clean run is kept for the clicks that follow)."""
    return _Reader(model, hook, readout).all_positions(as_tokens(model, prompt_or_tokens))
