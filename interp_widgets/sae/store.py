"""Activations at one hook point, over a token dataset, in shuffled training batches.

The model runs only up to the block that owns the hook, a batch of sequences at a time. Two ways
to feed a trainer:

- streaming: activations go through a shuffle buffer (fill, shuffle, hand out half, refill), so
  consecutive batches mix many sequences without holding the dataset in memory;
- cached: one pass of the model writes every activation into a memory-mapped file on disk;
  every epoch, and every SAE trained from it (1x/2x/4x/8x dictionaries, say), reads shuffled
  batches back without running the model again.

The first position of each sequence (BOS) is left out by default: its activation is an outlier
with a norm far above the rest, and an SAE would spend features on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import activations_at, model_device, resolve_hook_name
from interp_widgets.errors import InterpWidgetsError


class ActivationStore:
    """Shuffled batches `[batch_size, d]` of the activations at `hook_name` over `tokens [n_seq, ctx]`."""

    def __init__(
        self,
        model: Any,
        hook_name: str,
        tokens: Tensor,
        batch_size: int = 4096,
        model_batch_size: int = 16,
        buffer_batches: int = 16,
        cache_path: str | Path | None = None,
        exclude_bos: bool = True,
        seed: int = 0,
        cache_dtype: str = "float32",
    ) -> None:
        if not isinstance(tokens, Tensor) or tokens.ndim != 2:
            raise InterpWidgetsError("tokens must be a tensor [n_seq, ctx] (pack_texts builds one from texts).")
        if tokens.shape[0] == 0 or tokens.shape[1] <= int(exclude_bos):
            raise InterpWidgetsError("the token dataset is empty: give at least one sequence of 2 or more tokens.")
        if tokens.shape[1] > model.cfg.n_ctx:
            raise InterpWidgetsError(f"sequences of {tokens.shape[1]} tokens exceed the model's context of {model.cfg.n_ctx}.")
        self.model = model
        self.hook_name = resolve_hook_name(model, hook_name)
        self.tokens = tokens
        self.batch_size = batch_size
        self.model_batch_size = model_batch_size
        self.buffer_size = max(batch_size * buffer_batches, batch_size * 2)
        self.exclude_bos = exclude_bos
        self.seed = seed
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self.cache_dtype = cache_dtype
        self._cache: np.memmap | None = None

    # ---- facts ------------------------------------------------------------------------------

    @property
    def n_activations(self) -> int:
        """Activations in one pass over the dataset."""
        return self.tokens.shape[0] * (self.tokens.shape[1] - int(self.exclude_bos))

    @property
    def d_in(self) -> int:
        """Width of the activations (from the cache when there is one: no extra forward pass)."""
        if self.cache_path is not None:
            if self._cache is None:
                self.build_cache()
            return int(self._cache.shape[1])  # type: ignore[union-attr]
        return int(self.sample(1).shape[-1])

    def sample(self, n_sequences: int = 4) -> Tensor:
        """Activations `[n, d]` of the first `n_sequences` sequences (no shuffling; for checks and metrics)."""
        with torch.inference_mode():
            return torch.cat(list(self._model_chunks(self.tokens[:n_sequences])))

    # ---- running the model ------------------------------------------------------------------

    def _model_chunks(self, tokens: Tensor) -> Iterator[Tensor]:
        """Activations `[n, d]` for successive batches of sequences, BOS dropped, checked finite."""
        device = model_device(self.model)
        start = int(self.exclude_bos)
        for first in range(0, tokens.shape[0], self.model_batch_size):
            batch = tokens[first : first + self.model_batch_size].to(device)
            activation = activations_at(self.model, batch, self.hook_name)
            if activation.ndim != 3:
                raise InterpWidgetsError(
                    f"hook {self.hook_name!r} gives activations of shape {list(activation.shape)}; an SAE "
                    "needs one vector per token [batch, pos, d]."
                )
            chunk = activation[:, start:].reshape(-1, activation.shape[-1]).float()
            if not torch.isfinite(chunk).all():
                raise InterpWidgetsError(
                    f"the activations at {self.hook_name!r} contain NaN or infinity (sequences {first} to "
                    f"{first + batch.shape[0] - 1}): check the model's weights and dtype."
                )
            yield chunk

    # ---- the on-disk cache ------------------------------------------------------------------

    def build_cache(self) -> Path:
        """Run the model once over the dataset and write every activation to the memory-mapped cache."""
        if self.cache_path is None:
            raise InterpWidgetsError("this store has no cache_path: pass one to cache activations on disk.")
        meta_path = self.cache_path.with_suffix(".json")
        meta = {"model_name": str(getattr(self.model.cfg, "model_name", "")), "hook_name": self.hook_name,
                "n": self.n_activations, "dtype": self.cache_dtype, "tokens_sha": _tensor_digest(self.tokens),
                "exclude_bos": self.exclude_bos}
        stored = json.loads(meta_path.read_text()) if meta_path.exists() and self.cache_path.exists() else {}
        if all(stored.get(key) == value for key, value in meta.items()):  # same model, hook, tokens, layout
            meta = stored
        else:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            writer: np.memmap | None = None
            row = 0
            with torch.inference_mode():
                for chunk in self._model_chunks(self.tokens):
                    if writer is None:
                        meta["d"] = chunk.shape[-1]
                        writer = np.memmap(self.cache_path, dtype=self.cache_dtype, mode="w+", shape=(self.n_activations, chunk.shape[-1]))
                    writer[row : row + chunk.shape[0]] = chunk.cpu().numpy().astype(self.cache_dtype)
                    row += chunk.shape[0]
            assert writer is not None and row == self.n_activations
            writer.flush()
            meta_path.write_text(json.dumps(meta))
        self._cache = np.memmap(self.cache_path, dtype=meta["dtype"], mode="r", shape=(meta["n"], meta["d"]))
        return self.cache_path

    # ---- batches ----------------------------------------------------------------------------

    def batches(self, start: int = 0) -> Iterator[Tensor]:
        """Endless shuffled batches `[batch_size, d]` (float32); `start` skips that many batches.

        The order depends only on the seed, so training resumes exactly from a checkpoint.
        """
        if self.cache_path is not None:
            if self._cache is None:
                self.build_cache()
            yield from self._cached_batches(start)
        else:
            yield from self._streamed_batches(start)

    def _cached_batches(self, start: int) -> Iterator[Tensor]:
        assert self._cache is not None
        n = self._cache.shape[0]
        per_epoch = n // self.batch_size
        if per_epoch == 0:
            raise InterpWidgetsError(f"the cache holds {n} activations, fewer than one batch of {self.batch_size}.")
        epoch, index = divmod(start, per_epoch)
        while True:
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
            for i in range(index, per_epoch):
                rows = np.sort(order[i * self.batch_size : (i + 1) * self.batch_size])
                yield torch.from_numpy(np.asarray(self._cache[rows], dtype=np.float32))
            epoch, index = epoch + 1, 0

    def _streamed_batches(self, start: int) -> Iterator[Tensor]:
        generator = torch.Generator().manual_seed(self.seed)
        produced = 0
        epoch = 0
        buffer = torch.empty(0)
        while True:
            order = torch.randperm(self.tokens.shape[0], generator=generator)
            for chunk in self._model_chunks(self.tokens[order]):
                buffer = torch.cat([buffer, chunk]) if buffer.numel() else chunk
                if buffer.shape[0] < self.buffer_size:
                    continue
                buffer = buffer[torch.randperm(buffer.shape[0], generator=generator)]
                half = buffer.shape[0] // 2
                out, buffer = buffer[:half], buffer[half:]
                for i in range(0, half - self.batch_size + 1, self.batch_size):
                    if produced >= start:
                        yield out[i : i + self.batch_size]
                    produced += 1
            epoch += 1
            if epoch == 1 and produced == 0 and buffer.shape[0] < self.batch_size:
                raise InterpWidgetsError(
                    f"the dataset gives {self.n_activations} activations, fewer than one batch of {self.batch_size}."
                )


def _tensor_digest(tensor: Tensor) -> str:
    import hashlib

    return hashlib.sha256(tensor.cpu().numpy().tobytes()).hexdigest()
