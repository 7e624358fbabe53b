"""A ReLU SAE's training gradients written out by hand, into buffers reused from step to step.

For `pre = (x - b_dec) @ W_enc + b_enc`, `f = relu(pre)`, `x_hat = f @ W_dec + b_dec` and the
trainer's loss `|x_hat - x|^2 * nmse_weight + sum(f) * l1_weight` (summed over the batch; the
weights carry the 1/batch and the normalisers), the chain rule gives five matrix products and a
few cheap passes:

    g     = 2 * nmse_weight * (x_hat - x)                 [batch, d_in]   d loss / d x_hat
    dW_dec = f^T @ g                                      [d_sae, d_in]
    df    = g @ W_dec^T + l1_weight                       [batch, d_sae]  (ReLU: f >= 0, so d|f|/df = 1)
    dpre  = df where f > 0, else 0                        [batch, d_sae]
    dW_enc = (x - b_dec)^T @ dpre,  db_enc = sum(dpre),  db_dec = sum(g) - db_enc @ W_enc^T

Autograd computes the same numbers, but on a CPU most of its non-matmul time is spent faulting in
fresh pages for its batch-by-feature temporaries (32 MB each for 4,096 x 2,048 floats): a new
tensor of that size costs ~13 ms, the same pass over a reused buffer ~1 ms. Here ReLU and its
backward run in place and the gradients are written straight into `.grad`.

On a CPU the five products go to oneDNN's fp32 matmul (torch's `mkldnn._linear_pointwise`, the
kernel torch.compile uses), with the biases, the L1 constant and the ReLU fused in. It is the same
fp32 arithmetic, summed in another order (results agree with torch.mm to ~1e-6), and about twice
as fast as torch.mm's MKL sgemm on this project's AVX-512 AMD machine. Without it (another device,
or a torch built without oneDNN) torch.mm writes the two `[batch, d_sae]` tensors into a workspace
kept between steps.
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp_widgets.compute.core.linear import linear, takes_onednn
from interp_widgets.sae.model import SparseAutoencoder


class Workspace:
    """Two `[batch, d_sae]` float buffers shared by the SAEs of one training run (grown when needed)."""

    def __init__(self) -> None:
        self._flat = torch.empty(0)

    def buffers(self, rows: int, columns: int, like: Tensor) -> tuple[Tensor, Tensor]:
        size = rows * columns
        if self._flat.numel() < 2 * size or self._flat.dtype != like.dtype or self._flat.device != like.device:
            self._flat = torch.empty(2 * size, dtype=like.dtype, device=like.device)
        return self._flat[:size].view(rows, columns), self._flat[size : 2 * size].view(rows, columns)


def uses_hand_written_step(sae: SparseAutoencoder, x: Tensor, autocast: bool) -> bool:
    """ReLU SAEs in the input's own dtype, without autocast (which changes the maths' precision)."""
    return sae.architecture == "standard" and not autocast and all(p.dtype == x.dtype for p in (sae.W_enc, sae.W_dec))


def product(a: Tensor, b: Tensor, bias: Tensor | None = None, relu: bool = False, out: Tensor | None = None) -> Tensor:
    """`a @ b (+ bias)`, then ReLU if asked: oneDNN's fp32 kernel on a CPU, else torch's (into `out` when given)."""
    if takes_onednn(a, b, bias):
        return linear(a, b.T, bias, relu=relu)
    result = torch.mm(a, b, out=out) if bias is None else torch.addmm(bias, a, b, out=out)
    return result.relu_() if relu else result


def _grad_buffer(parameter: Tensor) -> Tensor | None:
    """The parameter's `.grad` when it can be written into (torch.mm's `out`), else None (a new tensor is made)."""
    return parameter.grad if parameter.grad is not None and parameter.grad.shape == parameter.shape else None


@torch.no_grad()
def relu_sae_gradients_(sae: SparseAutoencoder, x: Tensor, nmse_weight: float, l1_weight: float, workspace: Workspace) -> tuple[Tensor, Tensor]:
    """Set every parameter's `.grad` to the loss' gradient; return `(features, x_hat - x)`.

    `features [batch, d_sae]` may be a view of the workspace: valid until the next call.
    """
    W_enc, W_dec, b_enc, b_dec = sae.W_enc, sae.W_dec, sae.b_enc, sae.b_dec
    features_buffer, grad_buffer = workspace.buffers(x.shape[0], sae.d_sae, x)
    x_in = x - b_dec if sae.cfg.apply_b_dec_to_input else x  # [batch, d_in]
    features = product(x_in, W_enc, b_enc, relu=True, out=features_buffer)  # [batch, d_sae]
    residual = product(features, W_dec, b_dec).sub_(x)  # x_hat - x, [batch, d_in]
    grad_out = residual * (2 * nmse_weight)  # [batch, d_in]
    W_dec.grad = product(grad_out.T, features).T.contiguous()  # [d_sae, d_in]; f^T as the right factor: no 32 MB transpose
    l1_grad = torch.full((sae.d_sae,), l1_weight, dtype=x.dtype, device=x.device)
    grad_pre = product(grad_out, W_dec.T, l1_grad, out=grad_buffer)  # [batch, d_sae], d loss / d features ...
    torch.ops.aten.threshold_backward.grad_input(grad_pre, features, 0, grad_input=grad_pre)  # ... zeroed where f == 0
    W_enc.grad = product(x_in.T, grad_pre, out=_grad_buffer(W_enc))  # [d_in, d_sae]
    b_enc.grad = grad_pre.sum(0)
    b_dec.grad = grad_out.sum(0)
    if sae.cfg.apply_b_dec_to_input:
        b_dec.grad.sub_(W_enc @ b_enc.grad)  # through x - b_dec: a vector-matrix product
    return features, residual
