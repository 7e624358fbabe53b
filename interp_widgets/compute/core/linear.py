"""Linear layers on oneDNN's fp32 kernel, where torch's default BLAS path is the slower one.

An fp32 `F.linear` on a CPU goes to torch's BLAS (MKL's sgemm in the official wheels), which on AMD
CPUs runs a slower code path than on Intel ones. oneDNN's JIT kernels (what torch.compile emits:
`torch.ops.mkldnn._linear_pointwise`) compute the same fp32 products about 2x faster there
(measured on this project's AVX-512 AMD machine for `[n, 768] x [768, 3072]`, n >= 8; a single row
is slower, as the weight is reordered on every call). It is the same arithmetic summed in another
order: results agree with `F.linear` to ~1e-6 relative.

`linear` takes that kernel only for CPU fp32 inputs of at least `MIN_ROWS` rows with no gradient to
record (the op has no backward), and only if the op exists and agrees with torch on a check run
once (`takes_onednn`); it falls back to `F.linear` everywhere else. `IW_ONEDNN=0` in the environment turns it off.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

MIN_ROWS = 8


@functools.cache
def onednn_matmul_works() -> bool:
    """Whether this torch has oneDNN's fused linear and it gives torch's products (checked once, on transposed views)."""
    if os.environ.get("IW_ONEDNN", "1") == "0":
        return False
    try:
        generator = torch.Generator().manual_seed(0)
        a, b, bias = (torch.randn(shape, generator=generator) for shape in ((16, 24), (16, 40), (40,)))
        fused = torch.ops.mkldnn._linear_pointwise(a.T, b.T, bias, "relu", [], "")  # relu(a.T @ b + bias)
        return bool(torch.allclose(fused, torch.relu(a.T @ b + bias), atol=1e-4))
    except Exception:  # a private op that torch may rename or drop: fall back to torch's
        return False


def takes_onednn(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> bool:
    """Whether oneDNN's kernel may multiply these: CPU fp32, no gradient to record, the op checked."""
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias))
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32 and not needs_grad
            and onednn_matmul_works())


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, relu: bool = False) -> Tensor:
    """`x @ weight.T + bias` (then ReLU if asked) for `x [..., in]`, `weight [out, in]`: `F.linear`, on oneDNN
    where that is faster (at least `MIN_ROWS` rows)."""
    if x.numel() >= MIN_ROWS * x.shape[-1] and takes_onednn(x, weight, bias):
        flat = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.shape[-1]), weight, bias, "relu" if relu else "none", [], "")
        return flat.reshape(*x.shape[:-1], weight.shape[0])
    out = F.linear(x, weight, bias)
    return out.relu_() if relu else out


class FastLinear:
    """An `nn.Linear`'s forward through `linear`, on the module's own weight and bias (edits in place show)."""

    def __init__(self, module: Any) -> None:
        self.module = module

    @property
    def weight(self) -> Tensor:
        return self.module.weight

    @property
    def bias(self) -> Tensor | None:
        return self.module.bias

    def __call__(self, x: Tensor) -> Tensor:
        return linear(x, self.module.weight, self.module.bias)
