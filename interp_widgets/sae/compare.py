"""Comparing dictionaries by their decoder directions (max cosine similarity, MCS).

For each feature of dictionary A, MCS is the largest cosine similarity between its decoder
direction and any decoder direction of dictionary B: near 1 when B learned the same feature, low
when the feature is new. The mean over A's features (MMCS) summarises how much of A is in B; the
histogram shows whether A splits into "shared" and "new" features — the comparison the Pythia-70M
dictionary authors used for their 1x/2x/4x/8x sizes. Draw it with
`iw.HistogramView.from_comparison(compare_dictionaries(a, b))`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from interp_widgets.compute.core.similarity import max_cosine_similarity
from interp_widgets.errors import InterpWidgetsError


def decoder_directions(sae: Any) -> Tensor:
    """Unit decoder directions `[d_sae, d_in]` of our SAE, SAELens' SAE, or a raw matrix."""
    weight = sae if isinstance(sae, Tensor) else getattr(sae, "W_dec", None)
    if weight is None or weight.ndim != 2:
        raise InterpWidgetsError(f"{type(sae).__name__} has no decoder matrix W_dec [d_sae, d_in].")
    weight = weight.detach().float()
    return weight / weight.norm(dim=-1, keepdim=True).clamp_min(1e-8)


@torch.inference_mode()
def decoder_max_cosine_similarity(a: Any, b: Any, chunk: int = 4096) -> Tensor:
    """MCS of every decoder direction of SAE `a` against all of SAE `b`'s: `[d_sae_a]`, in [-1, 1]."""
    directions_a, directions_b = decoder_directions(a), decoder_directions(b)
    if directions_a.shape[1] != directions_b.shape[1]:
        raise InterpWidgetsError(
            f"the dictionaries read different widths ({directions_a.shape[1]} and {directions_b.shape[1]}): "
            "compare SAEs trained on the same hook."
        )
    return max_cosine_similarity(directions_a, directions_b, chunk)


@dataclass
class DictionaryComparison:
    """MCS per feature of A against B, its mean, and a histogram of it."""

    mcs: Tensor
    bins: int = 40

    @property
    def mmcs(self) -> float:
        return float(self.mcs.mean())

    def histogram(self) -> tuple[Tensor, Tensor]:
        """`(counts [bins], edges [bins + 1])` from min(0, lowest MCS) to 1."""
        low = min(0.0, float(self.mcs.min()))
        edges = torch.linspace(low, 1.0, self.bins + 1)
        counts = torch.histc(self.mcs.float().cpu(), bins=self.bins, min=low, max=1.0)
        return counts, edges


def compare_dictionaries(a: Any, b: Any, bins: int = 40) -> DictionaryComparison:
    """MCS of each feature of `a` against `b` (ours or SAELens SAEs, or W_dec matrices)."""
    return DictionaryComparison(decoder_max_cosine_similarity(a, b), bins=bins)
