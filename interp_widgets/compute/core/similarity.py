"""Max cosine similarity (MCS): how well each direction of one set is matched by any of another.

For rows `a [n_a, d]` and `b [n_b, d]`, MCS of row i is max_j cos(a_i, b_j), in [-1, 1]. Comparing
two dictionaries (two SAEs' decoder rows, two toy models' feature columns) by the histogram of
MCS says whether they found the same directions: piled at 1 they did, spread out they did not.
The mean over a's rows is the MMCS. Computed in blocks of `chunk` rows of `a`, so a wide
dictionary never builds its whole `[n_a, n_b]` similarity matrix at once.
"""

from __future__ import annotations

import torch
from torch import Tensor


def max_cosine_similarity(a: Tensor, b: Tensor, chunk: int = 4096) -> Tensor:
    """For each row of `a [n_a, d]`, its highest cosine similarity with any row of `b [n_b, d]`: `[n_a]`."""
    unit_a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    unit_b = (b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)).to(unit_a.device)
    return torch.cat([(block @ unit_b.T).max(dim=1).values for block in unit_a.split(chunk)])
