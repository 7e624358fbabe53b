"""An activation index: every nonzero SAE code over a token dataset, grouped by feature.

One pass of the model, stopping after the SAE's block, over a dataset (token ids or texts; the
embedded corpus's held-out split is `interp_widgets.models.held_out_index`), encodes every token with the SAE and keeps the nonzero codes in
compressed sparse columns: for feature f, `positions[indptr[f]:indptr[f+1]]` (flat token
positions, ascending) and `values[...]`. Any feature's dashboard, histogram, top contexts, and any
search over features then needs no model run: a slice, or one pass over the nonzeros.

Size: 12 bytes per nonzero (int64 position, float32 value) plus 8 per token, about
`n_tokens x L0 x 12` bytes (L0: the SAE's mean number of active features). The embedded 4x SAE
(L0 65) over the 313 k held-out tokens is about 245 MB; a 24 GB machine holds about 2 billion
nonzeros, e.g. 30 M tokens at L0 65. Past that, `save` writes the arrays as `.npy` files and
`load(mmap=True)` maps them from disk (copy-on-write: nothing is read until used). BOS positions are left out by default (their
activations are outliers that say nothing about the text).

Shapes: tokens `[n_sequences, context]`; indptr `[d_sae + 1]`; positions, values `[nnz]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import activations_at, pack_texts, resolve_hook_name
from interp_widgets.compute.core.readouts import sae_hook_name, sae_shape
from interp_widgets.errors import InterpWidgetsError


@dataclass
class ActivationIndex:
    """Nonzero SAE codes by feature over `tokens` (see the module docstring)."""

    tokens: Tensor
    indptr: Tensor
    positions: Tensor
    values: Tensor
    hook: str
    include_bos: bool = False

    @property
    def d_sae(self) -> int:
        return self.indptr.numel() - 1

    @property
    def context(self) -> int:
        return self.tokens.shape[1]

    @property
    def n_tokens(self) -> int:
        """Tokens the index covers (BOS positions left out unless `include_bos`)."""
        n_seq, context = self.tokens.shape
        return n_seq * (context if self.include_bos else context - 1)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.tokens, self.indptr, self.positions, self.values))

    def check_feature(self, feature: int) -> int:
        if not isinstance(feature, (int, np.integer)) or not 0 <= int(feature) < self.d_sae:
            raise InterpWidgetsError(f"feature index {feature} is out of range: the SAE has {self.d_sae} features (0 to {self.d_sae - 1}).")
        return int(feature)

    def feature(self, feature: int) -> tuple[Tensor, Tensor]:
        """`(positions, values)` of one feature's nonzero codes, positions flat (`sequence * context + position`)."""
        f = self.check_feature(feature)
        start, end = int(self.indptr[f]), int(self.indptr[f + 1])
        return self.positions[start:end], self.values[start:end]

    def dense(self, feature: int) -> Tensor:
        """One feature's code at every token, `[n_sequences, context]` (zeros where it is off)."""
        positions, values = self.feature(feature)
        out = torch.zeros(self.tokens.numel())
        out[positions] = values.float()
        return out.reshape(self.tokens.shape)

    def feature_ids(self) -> Tensor:
        """`[nnz]` the feature of every stored code."""
        return torch.repeat_interleave(torch.arange(self.d_sae), self.indptr.diff())

    def save(self, folder: str | Path) -> Path:
        """Write the arrays as .npy files (for `load(..., mmap=True)`) and the metadata as JSON."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("tokens", "indptr", "positions", "values"):
            np.save(folder / f"{name}.npy", getattr(self, name).numpy())
        (folder / "index.json").write_text(json.dumps({"hook": self.hook, "include_bos": self.include_bos}))
        return folder

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> "ActivationIndex":
        folder = Path(folder)
        meta = json.loads((folder / "index.json").read_text())
        arrays = {name: torch.from_numpy(np.load(folder / f"{name}.npy", mmap_mode="c" if mmap else None))
                  for name in ("tokens", "indptr", "positions", "values")}
        return cls(**arrays, hook=meta["hook"], include_bos=meta["include_bos"])


def dataset_tokens(model: Any, texts: Sequence[str] | None = None, tokens: Tensor | None = None, context: int = 128,
                   max_tokens: int | None = None) -> Tensor:
    """`[n_sequences, context]`: the given token tensor, or texts packed with BOS.

    Whichever the source, only its first `max_tokens` are kept (whole sequences, at least one; None: all).
    """
    if max_tokens is not None and max_tokens < 1:
        raise InterpWidgetsError(f"max_tokens must be a positive number of tokens, or None for all of them; got {max_tokens}.")
    if tokens is not None:
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        if tokens.ndim != 2:
            raise InterpWidgetsError(f"tokens must have shape [n_sequences, context], got {list(tokens.shape)}.")
        return tokens[: None if max_tokens is None else max(1, max_tokens // tokens.shape[1])]
    if texts is not None:
        return pack_texts(model, list(texts), context)[: None if max_tokens is None else max(1, max_tokens // context)]
    raise InterpWidgetsError("build_index needs data: pass tokens=[n_sequences, context] token ids or texts=[...]; "
                             "for the embedded corpus's held-out split use interp_widgets.models.held_out_index(model, sae).")


def build_index(model: Any, sae: Any, tokens: Tensor | None = None, texts: Sequence[str] | None = None, hook: str | None = None,
                context: int = 128, max_tokens: int | None = 65_536, batch: int = 16, include_bos: bool = False,
                progress: Callable[[int, int], None] | bool = True) -> ActivationIndex:
    """Encode every token of the dataset with `sae` at its hook and index the nonzero codes by feature.

    Data: `tokens [n, context]` or `texts` (`interp_widgets.models.held_out_index` indexes the embedded
    corpus's held-out split); of either, the first `max_tokens` in whole sequences (None: all; the default keeps 65,536). `progress`: True shows a progress bar (tqdm), False none,
    or a function `progress(done, total)` called after each batch (what the widgets show).
    """
    hook = hook or sae_hook_name(sae)
    if hook is None:
        raise InterpWidgetsError("pass hook=..., the hook the SAE reads (e.g. 'blocks.0.hook_resid_post').")
    hook = resolve_hook_name(model, hook)
    d_in, d_sae = sae_shape(sae)
    data = dataset_tokens(model, texts, tokens, context, max_tokens)
    if data.shape[1] > model.cfg.n_ctx:
        raise InterpWidgetsError(f"sequences of {data.shape[1]} tokens are longer than the model's context ({model.cfg.n_ctx}).")
    n_seq, length = data.shape
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_seq, desc=f"indexing {n_seq} sequences", unit="seq", leave=False)
        progress = lambda done, total: bar.update(done - bar.n)  # noqa: E731
    runs: list[tuple[int, Tensor, Tensor, Tensor, Tensor]] = []  # per batch, ordered by feature (see _by_feature)
    slabs = _Slabs()
    weight = sae.W_enc
    with torch.inference_mode():
        for start in range(0, n_seq, batch):
            chunk = data[start : start + batch]
            acts = activations_at(model, chunk, hook)
            if acts.shape[-1] != d_in:
                raise InterpWidgetsError(f"the SAE reads vectors of width {d_in} but hook {hook!r} has width {acts.shape[-1]}: "
                                         "use the SAE trained on this hook and model.")
            if not include_bos:
                acts = acts[:, 1:]
            codes = sae.encode(acts.to(weight.device, weight.dtype)).float().cpu()  # [b, pos, d_sae]
            seq, pos, feature = codes.nonzero(as_tuple=True)  # row-major: positions ascend
            order = torch.argsort(feature, stable=True)  # by feature, positions still ascending within one
            offset = 0 if include_bos else 1
            present, counts = torch.unique_consecutive(feature[order], return_counts=True)
            local = (seq * length + pos + offset)[order].to(torch.int32)  # flat position within the batch
            runs.append((start * length, present, counts, slabs.keep(local), slabs.keep(codes[seq, pos, feature][order])))
            if callable(progress):
                progress(min(start + batch, n_seq), n_seq)
    if bar is not None:
        bar.close()
    del slabs  # the runs hold their blocks now; each block goes once its last run is placed
    indptr, positions, values = _by_feature(runs, d_sae)
    return ActivationIndex(data, indptr, positions, values, hook, include_bos)


class _Slabs:
    """Storage for the kept runs in large blocks, each run a view into one.

    Thousands of batch-sized kept tensors, allocated between the batches' short-lived ones, fragment
    the heap: the process kept ~4x the index's size resident (measured: 4.0 GB for a 0.94 GB index).
    Blocks above the allocator's mmap threshold (32 MB) are mapped on their own and unmapped when
    their last run is placed, so memory is given back as the index fills.
    """

    ELEMENTS = 1 << 24  # 64 MB of 4-byte values a block

    def __init__(self) -> None:
        self.blocks: dict[torch.dtype, tuple[Tensor, int]] = {}

    def keep(self, values: Tensor) -> Tensor:
        block, used = self.blocks.get(values.dtype, (None, 0))
        if block is None or used + values.numel() > block.numel():
            block, used = torch.empty(max(self.ELEMENTS, values.numel()), dtype=values.dtype), 0
        kept = block[used : used + values.numel()]
        kept.copy_(values)
        self.blocks[values.dtype] = (block, used + values.numel())
        return kept


def _by_feature(runs: list[tuple[int, Tensor, Tensor, Tensor, Tensor]], d_sae: int) -> tuple[Tensor, Tensor, Tensor]:
    """Compressed sparse columns from per-batch runs, by a counting sort that keeps batch order.

    Each run is one batch's codes ordered by feature: the batch's first flat position, the features
    present `[m]`, how many codes each has `[m]`, and the codes' flat positions within the batch
    `[n_b]` (int32) and values `[n_b]`. Every feature's codes go to
    its own cursor, batch after batch, so positions stay ascending within a feature. Each batch is
    freed once placed, so peak memory stays near the index's own size plus the runs (8 bytes a code);
    a global argsort over (feature, position) took about six times the index.
    Returns indptr `[d_sae + 1]`, positions `[nnz]` (int64), values `[nnz]` (float32).
    """
    totals = torch.zeros(d_sae, dtype=torch.long)
    for _, present, counts, _, _ in runs:
        totals.index_add_(0, present, counts)
    indptr = torch.zeros(d_sae + 1, dtype=torch.long)
    indptr[1:] = totals.cumsum(0)
    cursor = indptr[:-1].clone()
    positions = torch.empty(int(indptr[-1]), dtype=torch.long)
    values = torch.empty(int(indptr[-1]), dtype=torch.float32)
    runs.reverse()  # placed first to last, each freed once placed (with its block, after the block's last run)
    while runs:
        base, present, counts, local, value = runs.pop()
        run_start = counts.cumsum(0) - counts  # where each present feature's codes begin in this batch
        rank = torch.arange(local.numel()) - torch.repeat_interleave(run_start, counts)
        destination = torch.repeat_interleave(cursor[present], counts) + rank
        positions[destination] = local.long() + base
        values[destination] = value
        cursor[present] += counts
    return indptr, positions, values
