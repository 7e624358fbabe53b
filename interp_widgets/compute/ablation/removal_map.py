"""A token-removal map computed in slices: the readout everywhere, the leave-one-out map, then pairs.

One prompt, one readout at one hook: the readout at every position, then the leave-one-out map at
the target (`ablation.leave_one_out`) filled in `slice_size` removed tokens at a time, then the
pairs among the top-k single tokens (`ablation.pairwise_removal`). `removal_map_in_slices` is a generator: it
yields the picture after each slice (pairs still None), so a caller can show a long map filling in,
and its last item is complete. Between slices it reports `progress(done, total, what)` and asks
`should_stop()`; when that answers True it raises `Superseded` (a newer request replaced this one).

Shapes: activations `[pos]`; the map's values `[pos]` (NaN at BOS, from the target on, and where a
slice has not run yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from torch import Tensor

from interp_widgets.compute.ablation.removal import LeaveOneOut, PairRemoval, leave_one_out, pairwise_removal, readout_values
from interp_widgets.compute.core.hooks import as_tokens
from interp_widgets.errors import Superseded

MAP_SLICE = 32  # removed tokens per slice


@dataclass(frozen=True)
class RemovalMap:
    """One step of the map: the readout everywhere, the map at the target (maybe partial), the pairs."""

    activations: Tensor  # [pos]
    single: LeaveOneOut
    pairs: PairRemoval | None  # None until the map is complete (and when the target is too early for pairs)
    done: int  # removed tokens computed so far
    total: int  # removed tokens in the whole map

    @property
    def complete(self) -> bool:
        return self.done == self.total


def removal_map_in_slices(model: Any, prompt: str | Tensor, hook: str, readout: Any, target: int | None = None, mode: str = "delete",
            replacement: str | int | None = None, top_k: int = 5, slice_size: int = MAP_SLICE,
            progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None) -> Iterator[RemovalMap]:
    """Yield the exploration after each slice of the map; the last one is complete and has the pairs.

    `target=None`: where the readout is largest. `replacement` is used in `mode="replace"` only.
    """
    stop = should_stop or (lambda: False)
    tokens = as_tokens(model, prompt)
    activations = readout_values(model, tokens, hook, readout)
    empty = leave_one_out(model, tokens, hook, readout, target, mode, replacement, positions=[])  # target, clean value, checks
    values = empty.values.clone()
    todo = list(range(1, empty.target))
    for start in range(0, len(todo), slice_size):
        if stop():
            raise Superseded()
        part = todo[start : start + slice_size]
        values[part] = leave_one_out(model, tokens, hook, readout, empty.target, mode, replacement, stop=stop, positions=part).values[part]
        done = start + len(part)
        if progress is not None:
            progress(done, len(todo), "computing the map")
        single = LeaveOneOut(empty.tokens, empty.target, empty.clean, values.clone(), mode, empty.target_chosen)
        if done < len(todo):
            yield RemovalMap(activations, single, None, done, len(todo))
    if stop():
        raise Superseded()
    single = LeaveOneOut(empty.tokens, empty.target, empty.clean, values, mode, empty.target_chosen)
    pairs = None
    if single.target >= 3:
        pairs = pairwise_removal(model, tokens, hook, readout, single.target, top_k, mode, replacement, single=single)
    yield RemovalMap(activations, single, pairs, len(todo), len(todo))


def last(steps: Iterator[RemovalMap]) -> RemovalMap:
    """The complete exploration (run every slice)."""
    result = None
    for result in steps:
        pass
    assert result is not None
    return result


def pairs_as_arrays(pairs: PairRemoval | None) -> dict[str, Any]:
    """The pairs panel's data: positions and `[k]`, `[k, k]` drops and interactions (NaN as 0: the diagonal)."""
    if pairs is None:
        return {}
    return {"positions": pairs.positions, "single": pairs.single, "joint": pairs.joint.nan_to_num(0.0),
            "interaction": pairs.interaction.nan_to_num(0.0)}
