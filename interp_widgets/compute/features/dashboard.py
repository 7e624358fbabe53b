"""One feature's dashboard, and the whole dictionary's table, from an activation index (no model run).

For a feature (the seed researcher's reading of each Pythia feature):

- top-k activating contexts: the k largest codes, each with a window of text around it;
- "uniform examples": equal-width bins between 0 and the feature's maximum, a fixed number of
  examples drawn (seeded) from each bin, with every bin's count, so weak firings get read too;
- the activation histogram, and the density: the fraction of tokens where it fires;
- the tokens it fires on most: mean code over every occurrence of the token in the data (zeros
  included), with how often it fires on it and how often the token occurs;
- its logit-lens bars (`feature_logit_lens`), when a model is given.

For the dictionary (`FeatureTable`): every feature's density, maximum and top tokens (by total
activation), and searches: which features fire most on a given token (mean code over its
occurrences), and which are most active on a prompt, and where (that one runs the model).

Shapes: index tokens `[n_sequences, context]`; a feature's codes `[n_sequences, context]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import activations_at, as_tokens
from interp_widgets.compute.features.index import ActivationIndex
from interp_widgets.compute.features.logit_lens import FeatureLogitLens, feature_logit_lens
from interp_widgets.errors import InterpWidgetsError


@dataclass(frozen=True)
class Example:
    """A context around one token: `tokens` (ids) and the feature's `values` on them; `center` indexes the token."""

    sequence: int
    position: int
    value: float
    tokens: list[int]
    values: list[float]
    center: int


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    examples: list[Example]


@dataclass(frozen=True)
class Dashboard:
    feature: int
    n_tokens: int
    density: float
    max: float
    top: list[Example]
    bins: list[Bin]
    histogram_edges: Tensor
    histogram_counts: Tensor
    top_tokens: list[tuple[int, float, int, int]]  # (token id, mean code over its occurrences, fires, occurrences)
    logit_lens: FeatureLogitLens | None = None
    notes: list[str] = field(default_factory=list)


def _example(index: ActivationIndex, codes: Tensor, flat: int, left: int, right: int) -> Example:
    sequence, position = divmod(int(flat), index.context)
    low = max(0 if index.include_bos else 1, position - left)
    high = min(index.context, position + right + 1)
    return Example(sequence, position, float(codes[sequence, position]), index.tokens[sequence, low:high].tolist(),
                   codes[sequence, low:high].tolist(), position - low)


def feature_dashboard(index: ActivationIndex, feature: int, model: Any = None, sae: Any = None, k: int = 10, n_bins: int = 10,
                      per_bin: int = 3, seed: int = 0, left: int = 12, right: int = 4, histogram_bins: int = 40,
                      n_top_tokens: int = 10, min_occurrences: int = 3) -> Dashboard:
    """Everything about one feature, from the index; the logit lens needs `model` and `sae`."""
    f = index.check_feature(feature)
    positions, values = index.feature(f)
    codes = index.dense(f)
    n = index.n_tokens
    peak = float(values.max()) if values.numel() else 0.0
    order = torch.argsort(values, descending=True, stable=True)[:k]
    top = [_example(index, codes, int(positions[i]), left, right) for i in order]
    bins = []
    edges = torch.linspace(0.0, peak, n_bins + 1) if peak > 0 else torch.zeros(n_bins + 1)
    generator = torch.Generator().manual_seed(seed)
    which = torch.bucketize(values, edges[1:-1], right=False) if peak > 0 else torch.zeros(0, dtype=torch.long)
    for b in range(n_bins):
        members = (which == b).nonzero()[:, 0]
        picked = members[torch.randperm(members.numel(), generator=generator)[:per_bin]].sort().values
        bins.append(Bin(float(edges[b]), float(edges[b + 1]), int(members.numel()),
                        [_example(index, codes, int(positions[i]), left, right) for i in picked]))
    hist_edges = torch.linspace(0.0, peak, histogram_bins + 1) if peak > 0 else torch.zeros(histogram_bins + 1)
    hist_counts = torch.bincount(torch.bucketize(values, hist_edges[1:-1]), minlength=histogram_bins) if peak > 0 else torch.zeros(histogram_bins, dtype=torch.long)
    top_tokens = _top_tokens(index, codes, n_top_tokens, min_occurrences)
    lens = None
    if model is not None and sae is not None:
        lens = feature_logit_lens(model, (sae, f), k=8)
    notes = [] if values.numel() else ["this feature never fires on the indexed tokens (a dead or very rare feature)."]
    return Dashboard(f, n, values.numel() / n, peak, top, bins, hist_edges, hist_counts, top_tokens, lens, notes)


def _counted(index: ActivationIndex) -> Tensor:
    """Flat token ids that count (BOS positions left out unless the index includes them)."""
    tokens = index.tokens if index.include_bos else index.tokens[:, 1:]
    return tokens.reshape(-1)


def _top_tokens(index: ActivationIndex, codes: Tensor, k: int, min_occurrences: int) -> list[tuple[int, float, int, int]]:
    kept_codes = (codes if index.include_bos else codes[:, 1:]).reshape(-1)
    ids = _counted(index)
    vocab = int(ids.max()) + 1
    occurrences = torch.bincount(ids, minlength=vocab)
    totals = torch.zeros(vocab).index_add_(0, ids, kept_codes)
    fires = torch.bincount(ids[kept_codes > 0], minlength=vocab)
    mean = torch.where(occurrences >= min_occurrences, totals / occurrences.clamp(min=1), torch.zeros(()))
    order = torch.argsort(mean, descending=True, stable=True)[:k]
    return [(int(t), float(mean[t]), int(fires[t]), int(occurrences[t])) for t in order if mean[t] > 0]


# ---- the whole dictionary ------------------------------------------------------------------

@dataclass(frozen=True)
class FeatureTable:
    """Per feature: `density [d_sae]`, `max [d_sae]`, `top_tokens [d_sae, 3]` (ids by total activation, -1 where none)."""

    density: Tensor
    max: Tensor
    top_tokens: Tensor


def feature_table(index: ActivationIndex, n_top: int = 3) -> FeatureTable:
    """Density, maximum and top tokens of every feature, in one pass over the nonzero codes."""
    features = index.feature_ids()
    counts = index.indptr.diff()
    peak = torch.zeros(index.d_sae).scatter_reduce(0, features, index.values.float(), reduce="amax", include_self=True)
    token_ids = index.tokens.reshape(-1)[index.positions]
    vocab = int(index.tokens.max()) + 1
    key = features * vocab + token_ids
    pairs, inverse = torch.unique(key, return_inverse=True)
    sums = torch.zeros(pairs.numel()).index_add_(0, inverse, index.values.float())
    pair_feature, pair_token = pairs // vocab, pairs % vocab
    by_sum = torch.argsort(sums, descending=True, stable=True)
    order = by_sum[torch.argsort(pair_feature[by_sum], stable=True)]  # by feature, then largest sum first
    top = torch.full((index.d_sae, n_top), -1, dtype=torch.long)
    sorted_feature = pair_feature[order]
    first = torch.searchsorted(sorted_feature, torch.arange(index.d_sae))
    rank = torch.arange(order.numel()) - first[sorted_feature]
    keep = rank < n_top
    top[sorted_feature[keep], rank[keep]] = pair_token[order][keep]
    return FeatureTable(counts.float() / index.n_tokens, peak, top)


def features_on_token(index: ActivationIndex, token_id: int, k: int = 20) -> list[tuple[int, float, int]]:
    """Features by their mean code over the token's occurrences: (feature, mean, fires on it)."""
    ids = _counted(index)
    occurrences = int((ids == token_id).sum())
    if occurrences == 0:
        raise InterpWidgetsError("this token does not occur in the indexed data: search for another, or index more text.")
    token_ids = index.tokens.reshape(-1)[index.positions]
    mine = token_ids == token_id
    features = index.feature_ids()[mine]
    totals = torch.zeros(index.d_sae).index_add_(0, features, index.values[mine].float())
    fires = torch.bincount(features, minlength=index.d_sae)
    mean = totals / occurrences
    order = torch.argsort(mean, descending=True, stable=True)[:k]
    return [(int(f), float(mean[f]), int(fires[f])) for f in order if mean[f] > 0]


def features_on_prompt(model: Any, sae: Any, prompt: str, hook: str, k: int = 20) -> list[tuple[int, float, int]]:
    """Features most active anywhere on the prompt (BOS left out): (feature, max code, position of the max)."""
    tokens = as_tokens(model, prompt)
    if tokens.shape[1] < 2:
        raise InterpWidgetsError("the prompt needs at least one token after BOS.")
    with torch.inference_mode():
        codes = sae.encode(activations_at(model, tokens, hook)[0, 1:].to(sae.W_enc.device, sae.W_enc.dtype)).float().cpu()
    best, where = codes.max(dim=0)
    order = torch.argsort(best, descending=True, stable=True)[:k]
    return [(int(f), float(best[f]), int(where[f]) + 1) for f in order if best[f] > 0]
