"""Sparse autoencoders: an activation `x [.., d_in]` as a sparse sum of learned directions.

    f = act(pre),  pre = (x - b_dec) @ W_enc + b_enc        [.., d_sae]   feature activations
    x_hat = f @ W_dec + b_dec                               [.., d_in]    reconstruction

- `ReluSAE` (SAELens "standard"): act = ReLU, trained with an L1 penalty on f (the setup of the
  seed authors' Pythia-70M dictionaries);
- `TopKSAE` ("topk"): keep the k largest pre-activations (after ReLU), zero the rest: L0 is k by
  construction and no L1 coefficient needs tuning;
- `JumpReluSAE` ("jumprelu"): f = pre where pre > threshold, else 0 (loaded, not trained here).

Weights use SAELens' layout (`W_enc [d_in, d_sae]`, `W_dec [d_sae, d_in]`), and each SAE records
the hook it reads and its input width, so SAELens' `SAE` and ours are interchangeable in this
package. Decoder rows are kept at unit norm during training, so a feature's activation is its
coefficient along a unit direction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


@dataclass
class SAEConfig:
    d_in: int
    d_sae: int
    architecture: str
    hook_name: str | None = None
    model_name: str | None = None
    k: int | None = None
    apply_b_dec_to_input: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SparseAutoencoder(nn.Module):
    """Shared parameters, decoding and decoder-norm maintenance; subclasses define `encode`."""

    architecture: ClassVar[str] = ""

    def __init__(
        self,
        d_in: int,
        d_sae: int,
        hook_name: str | None = None,
        model_name: str | None = None,
        apply_b_dec_to_input: bool = True,
        seed: int | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        k: int | None = None,
    ) -> None:
        super().__init__()
        if d_in < 1 or d_sae < 1:
            raise ValueError(f"d_in and d_sae must be positive, got d_in={d_in}, d_sae={d_sae}.")
        self.cfg = SAEConfig(d_in, d_sae, self.architecture, hook_name, model_name, k, apply_b_dec_to_input)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        directions = torch.randn(d_sae, d_in, generator=generator, dtype=torch.float32)
        directions /= directions.norm(dim=-1, keepdim=True)
        # Encoder initialised as the decoder's transpose: a common start that trains faster.
        self.W_dec = nn.Parameter(directions.to(device=device, dtype=dtype))
        self.W_enc = nn.Parameter(directions.T.clone().to(device=device, dtype=dtype))
        self.b_enc = nn.Parameter(torch.zeros(d_sae, device=device, dtype=dtype))
        self.b_dec = nn.Parameter(torch.zeros(d_in, device=device, dtype=dtype))

    # ---- shape facts --------------------------------------------------------------------

    @property
    def d_in(self) -> int:
        return self.cfg.d_in

    @property
    def d_sae(self) -> int:
        return self.cfg.d_sae

    @property
    def hook_name(self) -> str | None:
        return self.cfg.hook_name

    def extra_repr(self) -> str:
        k = f", k={self.cfg.k}" if self.cfg.k is not None else ""
        return f"d_in={self.d_in}, d_sae={self.d_sae}{k}, hook_name={self.hook_name!r}"

    # ---- maths --------------------------------------------------------------------------

    def pre_activations(self, x: Tensor) -> Tensor:
        """`[.., d_in] -> [.., d_sae]`, before the activation function."""
        if self.cfg.apply_b_dec_to_input:
            x = x - self.b_dec
        return x @ self.W_enc + self.b_enc

    def activate(self, pre: Tensor) -> Tensor:
        """The activation function: pre-activations -> feature activations, `[.., d_sae]`."""
        raise NotImplementedError

    def encode(self, x: Tensor) -> Tensor:
        """Feature activations `[.., d_sae]`."""
        return self.activate(self.pre_activations(x))

    def decode(self, features: Tensor) -> Tensor:
        """Reconstruction `[.., d_in]` from feature activations `[.., d_sae]`."""
        return features @ self.W_dec + self.b_dec

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    # ---- decoder-norm constraint ----------------------------------------------------------

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        """Scale every decoder row to unit norm."""
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_decoder_grad_(self) -> None:
        """Drop the part of W_dec's gradient along each row, so a step cannot grow the norm."""
        if self.W_dec.grad is None:
            return
        rows = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        parallel = (self.W_dec.grad * rows).sum(dim=-1, keepdim=True)
        self.W_dec.grad.sub_(parallel * rows)


class ReluSAE(SparseAutoencoder):
    """ReLU SAE, trained with an L1 penalty on the feature activations."""

    architecture = "standard"

    def activate(self, pre: Tensor) -> Tensor:
        return torch.relu(pre)


class TopKSAE(SparseAutoencoder):
    """Keeps the k largest (ReLU'd) pre-activations of each input."""

    architecture = "topk"

    def __init__(self, d_in: int, d_sae: int, k: int, **kwargs: Any) -> None:
        if not 0 < k <= d_sae:
            raise ValueError(f"k must be between 1 and d_sae={d_sae}, got {k}.")
        super().__init__(d_in, d_sae, k=k, **kwargs)

    @property
    def k(self) -> int:
        return int(self.cfg.k)  # type: ignore[arg-type]

    def activate(self, pre: Tensor) -> Tensor:
        values, indices = pre.topk(self.k, dim=-1, sorted=False)
        return torch.zeros_like(pre).scatter_(-1, indices, torch.relu(values))


class JumpReluSAE(SparseAutoencoder):
    """f = pre * (pre > threshold): loaded from SAELens files, not trained here."""

    architecture = "jumprelu"

    def __init__(self, d_in: int, d_sae: int, **kwargs: Any) -> None:
        super().__init__(d_in, d_sae, **kwargs)
        self.threshold = nn.Parameter(torch.zeros(d_sae, device=self.W_enc.device, dtype=self.W_enc.dtype))

    def activate(self, pre: Tensor) -> Tensor:
        return pre * (pre > self.threshold)


ARCHITECTURES: dict[str, type[SparseAutoencoder]] = {
    cls.architecture: cls for cls in (ReluSAE, TopKSAE, JumpReluSAE)
}
