"""An activation index over a token stream of any length: on-disk shards, memory bounded by one shard.

`build_index` holds every nonzero code of its dataset in memory (12 bytes each: 316 k tokens at
L0 65 are 250 MB of index and a few times that at the peak). `build_sharded_index` reads the
tokens as a stream (any iterable of `[n, context]` batches, e.g. `stream_sequences` over a token
id iterator), cuts it into shards of `shard_tokens`, indexes each shard with `build_index` and
writes it to disk (`ActivationIndex.save`), so the process holds one shard at a time: its peak
memory does not grow with the stream's length.

While the shards are written, three per-feature summaries are kept in memory, each `[d_sae]` or
`[d_sae, top_k]` whatever the stream's length: the number of firings, the maximum, and the top
`top_k` codes with their flat positions. The top-k are merged exactly: each shard's candidates
(its own top-k per feature) are pooled with the running ones and the best `top_k` kept, ordered
by value, ties by earlier position — the order `feature_dashboard` uses, so the merged lists
equal those of one in-memory index over the same tokens. A feature's full list of codes
(`ShardedIndex.feature`) is gathered from the memory-mapped shards on demand.

Flat positions count across shards: `sequence * context + position`, sequences numbered in stream order.
Shapes: summaries `[d_sae]`; top values and positions `[d_sae, top_k]` (padding: value -inf, position -1).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

from interp_widgets.compute.features.index import ActivationIndex, build_index
from interp_widgets.errors import InterpWidgetsError

PAD_POSITION = -1


def stream_sequences(token_ids: Iterable[int | Tensor], context: int, bos: int, batch: int = 64) -> Iterator[Tensor]:
    """Cut a stream of token ids (ints or 1-D tensors, any length) into `[<= batch, context]` windows, each led by BOS.

    Each window holds `context - 1` stream tokens (none padded); a final partial window is dropped.
    """
    if context < 2:
        raise InterpWidgetsError(f"context must be at least 2 (BOS and one token), got {context}.")
    body = context - 1
    pending: list[Tensor] = []
    held = 0
    for piece in token_ids:
        piece = torch.as_tensor(piece, dtype=torch.long).reshape(-1)
        pending.append(piece)
        held += piece.numel()
        while held >= body * batch:
            flat = torch.cat(pending)
            windows, rest = flat[: body * batch].reshape(batch, body), flat[body * batch :]
            pending, held = [rest], rest.numel()
            yield torch.cat([torch.full((batch, 1), bos), windows], dim=1)
    flat = torch.cat(pending) if pending else torch.zeros(0, dtype=torch.long)
    n = flat.numel() // body
    if n:
        yield torch.cat([torch.full((n, 1), bos), flat[: n * body].reshape(n, body)], dim=1)


def merge_top(values: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the `k` best of `values [rows, m]` (largest first, ties: smaller position first) with their positions."""
    rows, m = values.shape
    row = np.repeat(np.arange(rows), m)
    flat = np.lexsort((positions.reshape(-1), -values.reshape(-1), row)).reshape(rows, m)[:, :k]  # flat indices, row by row
    return values.reshape(-1)[flat], positions.reshape(-1)[flat]


def shard_top(index: ActivationIndex, k: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """One shard's top-k codes per feature, `[d_sae, k]` values and global flat positions (shard's own + `offset`)."""
    d_sae = index.d_sae
    values = index.values.numpy().astype(np.float32)
    positions = index.positions.numpy() + offset
    features = np.repeat(np.arange(d_sae), np.diff(index.indptr.numpy()))
    order = np.lexsort((positions, -values, features))  # by feature, then value descending, then position
    rank = np.arange(order.size) - index.indptr.numpy()[features[order]]
    keep = order[rank < k]
    top_values = np.full((d_sae, k), -np.inf, dtype=np.float32)
    top_positions = np.full((d_sae, k), PAD_POSITION, dtype=np.int64)
    top_values[features[keep], rank[rank < k]] = values[keep]
    top_positions[features[keep], rank[rank < k]] = positions[keep]
    return top_values, top_positions


@dataclass
class ShardedIndex:
    """Shards of an activation index on disk (`folder/shard_00000/`, ...) and their merged per-feature summaries."""

    folder: Path
    context: int
    hook: str
    include_bos: bool
    shard_sequences: list[int]  # sequences in each shard, in stream order
    counts: Tensor  # [d_sae] firings over the whole stream
    max: Tensor  # [d_sae] largest code (0 where a feature never fires)
    top_values: Tensor  # [d_sae, top_k] largest codes, descending (-inf padding)
    top_positions: Tensor  # [d_sae, top_k] their global flat positions (-1 padding)

    @property
    def d_sae(self) -> int:
        return self.counts.numel()

    @property
    def n_sequences(self) -> int:
        return sum(self.shard_sequences)

    @property
    def n_tokens(self) -> int:
        return self.n_sequences * (self.context if self.include_bos else self.context - 1)

    def shard(self, i: int) -> ActivationIndex:
        """Shard `i`, memory-mapped (nothing is read until used)."""
        return ActivationIndex.load(self.folder / f"shard_{i:05d}", mmap=True)

    def top(self, feature: int, k: int | None = None) -> tuple[Tensor, Tensor]:
        """`(values, positions)` of a feature's largest codes over the whole stream (at most top_k; fewer if it fires less)."""
        if not 0 <= int(feature) < self.d_sae:
            raise InterpWidgetsError(f"feature index {feature} is out of range: the SAE has {self.d_sae} features (0 to {self.d_sae - 1}).")
        n = min(int(self.counts[feature]), self.top_values.shape[1] if k is None else k)
        return self.top_values[feature, :n], self.top_positions[feature, :n]

    def feature(self, feature: int) -> tuple[Tensor, Tensor]:
        """Every nonzero code of one feature over the stream: `(positions, values)`, positions ascending (from each shard's map)."""
        positions, values, first = [], [], 0
        for i, n in enumerate(self.shard_sequences):
            p, v = self.shard(i).feature(feature)
            positions.append(p + first * self.context)
            values.append(v.clone())
            first += n
        return torch.cat(positions), torch.cat(values)

    def context_of(self, flat: int, left: int = 12, right: int = 4) -> tuple[list[int], int]:
        """Token ids around a global flat position and the index of that token in them (read from its shard)."""
        sequence, position = divmod(int(flat), self.context)
        for i, n in enumerate(self.shard_sequences):
            if sequence < n:
                tokens = self.shard(i).tokens[sequence]
                low = max(0 if self.include_bos else 1, position - left)
                return tokens[low : min(self.context, position + right + 1)].tolist(), position - low
            sequence -= n
        raise InterpWidgetsError(f"position {flat} is past the index's {self.n_sequences} sequences of {self.context} tokens.")

    @classmethod
    def load(cls, folder: str | Path) -> "ShardedIndex":
        folder = Path(folder)
        meta = json.loads((folder / "sharded_index.json").read_text())
        arrays = {name: torch.from_numpy(np.load(folder / f"{name}.npy")) for name in ("counts", "max", "top_values", "top_positions")}
        return cls(folder, meta["context"], meta["hook"], meta["include_bos"], meta["shard_sequences"], **arrays)

    def save_summaries(self) -> None:
        for name in ("counts", "max", "top_values", "top_positions"):
            np.save(self.folder / f"{name}.npy", getattr(self, name).numpy())
        meta = {"context": self.context, "hook": self.hook, "include_bos": self.include_bos, "shard_sequences": self.shard_sequences}
        (self.folder / "sharded_index.json").write_text(json.dumps(meta))


def _shards(batches: Iterable[Tensor], shard_sequences: int) -> Iterator[Tensor]:
    """Regroup a stream of `[n, context]` batches into `[shard_sequences, context]` shards (the last may be smaller)."""
    pending: list[Tensor] = []
    held = 0
    for batch in batches:
        batch = torch.as_tensor(batch, dtype=torch.long)
        if batch.ndim != 2:
            raise InterpWidgetsError(f"the token stream must yield [n_sequences, context] batches, got shape {list(batch.shape)}.")
        pending.append(batch)
        held += batch.shape[0]
        while held >= shard_sequences:
            flat = torch.cat(pending)
            pending, held = [flat[shard_sequences:]], flat.shape[0] - shard_sequences
            yield flat[:shard_sequences]
    if held:
        yield torch.cat(pending)


def build_sharded_index(model: Any, sae: Any, batches: Iterable[Tensor], folder: str | Path, shard_tokens: int = 1 << 20,
                        top_k: int = 64, hook: str | None = None, batch: int = 16, include_bos: bool = False,
                        progress: Callable[[int], None] | None = None) -> ShardedIndex:
    """Index a token stream shard by shard into `folder` (emptied first), keeping only per-feature summaries in memory.

    `batches`: any iterable of `[n, context]` token ids (one context throughout), e.g. `stream_sequences(ids, context, bos)`.
    `shard_tokens`: tokens per shard (whole sequences); peak memory is about one shard's index plus the model.
    `progress(n_sequences_done)` is called after each shard.
    """
    if top_k < 1:
        raise InterpWidgetsError(f"top_k must be at least 1, got {top_k}.")
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    result: ShardedIndex | None = None
    first = 0
    for i, tokens in enumerate(_shard_stream(batches, shard_tokens)):
        index = build_index(model, sae, tokens=tokens, max_tokens=None, batch=batch, hook=hook, include_bos=include_bos, progress=False)
        index.save(folder / f"shard_{i:05d}")
        if result is None:
            d_sae = index.d_sae
            result = ShardedIndex(folder, tokens.shape[1], index.hook, include_bos, [], torch.zeros(d_sae, dtype=torch.long),
                                  torch.zeros(d_sae), torch.full((d_sae, top_k), -np.inf), torch.full((d_sae, top_k), PAD_POSITION))
        elif tokens.shape[1] != result.context:
            raise InterpWidgetsError(f"every batch of the stream must have the same context: {result.context}, then {tokens.shape[1]}.")
        values, positions = shard_top(index, top_k, offset=first * result.context)
        merged = merge_top(np.concatenate([result.top_values.numpy(), values], axis=1),
                           np.concatenate([result.top_positions.numpy(), positions], axis=1), top_k)
        result.top_values, result.top_positions = torch.from_numpy(merged[0]), torch.from_numpy(merged[1])
        result.counts += index.indptr.diff()
        result.max = torch.maximum(result.max, torch.from_numpy(values[:, 0]).clamp_min(0))
        result.shard_sequences.append(tokens.shape[0])
        first += tokens.shape[0]
        del index
        if progress is not None:
            progress(first)
    if result is None:
        raise InterpWidgetsError("the token stream was empty: nothing to index.")
    result.save_summaries()
    return result


def _shard_stream(batches: Iterable[Tensor], shard_tokens: int) -> Iterator[Tensor]:
    """Shards of at least one sequence and about `shard_tokens` tokens, sized from the first batch's context."""
    iterator = iter(batches)
    head = next(iterator, None)
    if head is None:
        return
    head = torch.as_tensor(head, dtype=torch.long)
    context = head.shape[-1]

    def chained() -> Iterator[Tensor]:
        yield head
        yield from iterator

    yield from _shards(chained(), max(1, shard_tokens // context))
