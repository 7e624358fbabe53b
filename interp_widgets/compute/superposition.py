"""Toy models of superposition (Elhage et al. 2022): many sparse features squeezed into few dimensions.

The model: `n` features, each present with probability `p` (then uniform in [0, 1], else 0), are
projected into `m < n` hidden dimensions and read back through a ReLU,
`x' = ReLU(Wᵀ W x + b)` with `W [m, n]`, trained on the importance-weighted squared error
`Σᵢ Iᵢ (xᵢ − x'ᵢ)²`. Column `W[:, i]` is feature i's direction. Dense features (p near 1) get
`m` orthogonal directions and the rest are dropped; sparse features are stored *in
superposition*: more than `m` directions share the space (five at 72° in two dimensions, an
antipodal pair in one) because two sparse features are rarely active together, so their
interference is rarely paid for.

Every setting (and seed) trains in ONE batched tensor `W [settings, m_max, n_max]`: settings with
fewer features or dimensions are padded with features that never fire and dimensions masked to
zero, and Adam is element-wise, so each setting trains exactly as it would alone on the same data.

Measures (per setting, from `W`):
- norms `‖Wᵢ‖` (1: represented, 0: dropped) and the angles between feature directions;
- superposition of feature i: `Σ_{j≠i} (Ŵᵢ · Wⱼ)²` (0: it has a dimension of its own);
- feature dimensionality `Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ · Wⱼ)²` (1 own dimension, 1/2 antipodal pair, 2/5 pentagon);
- dimensions per feature `m / ‖W‖_F²`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Generator, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.similarity import max_cosine_similarity
from interp_widgets.errors import InterpWidgetsError


@dataclass(frozen=True)
class ToySetting:
    """One toy model: `n_features` into `n_hidden` dimensions.

    `feature_probability`: the chance each feature is nonzero (1 − sparsity). Importance of feature
    i is `importance_decay ** i`, unless `importances` gives all `n_features` of them.
    """

    n_features: int
    n_hidden: int
    feature_probability: float
    importance_decay: float = 1.0
    seed: int = 0
    importances: tuple[float, ...] | None = None

    def importance(self) -> Tensor:
        """`[n_features]` importances."""
        if self.importances is not None:
            return torch.tensor(self.importances, dtype=torch.float32)
        return self.importance_decay ** torch.arange(self.n_features, dtype=torch.float32)

    def check(self) -> None:
        if self.n_features < 1 or self.n_hidden < 1:
            raise InterpWidgetsError(f"a toy model needs at least one feature and one hidden dimension, got n={self.n_features}, "
                                     f"m={self.n_hidden}: pass positive sizes.")
        if not 0 < self.feature_probability <= 1:
            raise InterpWidgetsError(f"feature_probability={self.feature_probability} is not a probability: pass a value in (0, 1] "
                                     "(0.05 is sparse, 1 is dense).")
        if self.importances is not None and len(self.importances) != self.n_features:
            raise InterpWidgetsError(f"importances has {len(self.importances)} values for {self.n_features} features: give one per feature.")


@dataclass
class ToyModels:
    """Trained toy models: `W [settings, m_max, n_max]`, `b [settings, n_max]` (padding is zero),
    `loss [settings]` on a fixed evaluation batch, and snapshots taken during training:
    `steps [T]`, `W_history [T, settings, m_max, n_max]`, `loss_history [T, settings]`."""

    settings: list[ToySetting]
    W: Tensor
    b: Tensor
    loss: Tensor
    steps: list[int] = field(default_factory=list)
    W_history: Tensor | None = None
    loss_history: Tensor | None = None
    stopped: bool = False

    def weights(self, index: int) -> tuple[Tensor, Tensor]:
        """Setting `index`'s own `W [m, n]` and `b [n]`, padding cut away."""
        setting = self.settings[index]
        return self.W[index, : setting.n_hidden, : setting.n_features], self.b[index, : setting.n_features]

    def best_of_seeds(self) -> list[int]:
        """For each distinct setting (seed aside), the index of its seed with the lowest loss, in first-seen order."""
        best: dict[ToySetting, int] = {}
        for index, setting in enumerate(self.settings):
            key = replace(setting, seed=0)
            if key not in best or self.loss[index] < self.loss[best[key]]:
                best[key] = index
        return list(best.values())


def sample_features(probability: Tensor, n_samples: int, generator: torch.Generator) -> Tensor:
    """`x [settings, n_samples, n_max]`: each feature nonzero with its `probability [settings, n_max]`, then uniform in [0, 1]."""
    draw = torch.rand((probability.shape[0], n_samples, probability.shape[1]), generator=generator)
    p = probability[:, None, :]
    return torch.where(draw < p, draw / p.clamp_min(1e-12), torch.zeros(()))  # given draw < p, draw / p is uniform


def reconstruct(W: Tensor, b: Tensor, x: Tensor) -> Tensor:
    """`x' = ReLU(Wᵀ W x + b)` for `W [s, m, n]`, `b [s, n]`, `x [s, batch, n]` → `[s, batch, n]`."""
    hidden = x @ W.transpose(1, 2)  # [s, batch, m]
    return torch.relu(hidden @ W + b[:, None, :])


def weighted_loss(W: Tensor, b: Tensor, x: Tensor, importance: Tensor) -> Tensor:
    """Per setting `[s]`: mean over the batch of `Σᵢ Iᵢ (xᵢ − x'ᵢ)²`, `importance [s, n]`."""
    error = (x - reconstruct(W, b, x)) ** 2
    return (error * importance[:, None, :]).sum(dim=-1).mean(dim=-1)


def _stack_settings(settings: Sequence[ToySetting]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Padded per-setting tensors: importance and probability `[s, n_max]`, masks `[s, m_max, n_max]`, init W."""
    n_max = max(s.n_features for s in settings)
    m_max = max(s.n_hidden for s in settings)
    importance = torch.zeros(len(settings), n_max)
    probability = torch.zeros(len(settings), n_max)
    mask = torch.zeros(len(settings), m_max, n_max)
    init = torch.zeros(len(settings), m_max, n_max)
    for index, setting in enumerate(settings):
        n, m = setting.n_features, setting.n_hidden
        importance[index, :n] = setting.importance()
        probability[index, :n] = setting.feature_probability
        mask[index, :m, :n] = 1
        generator = torch.Generator().manual_seed(setting.seed)
        init[index, :m, :n] = torch.randn(m, n, generator=generator) * math.sqrt(2 / (m + n))  # Xavier normal
    return importance, probability, mask, init


def train_toy_models(
    settings: Sequence[ToySetting],
    steps: int = 2000,
    batch_size: int = 512,
    lr: float = 1e-2,
    snapshot_every: int = 0,
    data_seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_snapshot: Callable[[int, Tensor, Tensor], None] | None = None,
    eval_samples: int = 8192,
    init_scale: float = 1.0,
) -> ToyModels:
    """Train every setting at once with Adam (learning rate cosine-decayed to 0) in one batched tensor.

    `snapshot_every` > 0 keeps `W` and the loss every that many steps (the training trajectory,
    where superposition arrives in sudden phase changes); `on_snapshot(step, W, loss)` sees each.
    `progress(step, steps)` and `should_stop()` are called every 50 steps; a stop returns the models
    as they are, with `stopped=True`. Data come from `data_seed`; initial weights from each setting's
    seed (Xavier normal times `init_scale`: a small start, with a small `lr`, makes the phase
    changes of training slow enough to watch).
    """
    training = training_steps(settings, steps, batch_size, lr, snapshot_every, data_seed, progress, should_stop, eval_samples,
                              init_scale)
    while True:
        try:
            step, W, loss = next(training)
        except StopIteration as finished:
            return finished.value
        if on_snapshot is not None:
            on_snapshot(step, W, loss)


def training_steps(
    settings: Sequence[ToySetting], steps: int = 2000, batch_size: int = 512, lr: float = 1e-2, snapshot_every: int = 0,
    data_seed: int = 0, progress: Callable[[int, int], None] | None = None, should_stop: Callable[[], bool] | None = None,
    eval_samples: int = 8192, init_scale: float = 1.0,
) -> Generator[tuple[int, Tensor, Tensor], None, ToyModels]:
    """`train_toy_models` as a generator: yields `(step, W [s, m_max, n_max], loss [s])` at each
    snapshot and returns the `ToyModels` (a live view draws the snapshots as they come)."""
    settings = list(settings)
    if not settings:
        raise InterpWidgetsError("no toy settings to train: pass a list with at least one ToySetting.")
    if steps < 1 or batch_size < 1:
        raise InterpWidgetsError(f"steps={steps} and batch_size={batch_size} must both be positive.")
    for setting in settings:
        setting.check()
    importance, probability, mask, init = _stack_settings(settings)
    W = (init * init_scale).requires_grad_(True)  # [s, m_max, n_max]
    b = torch.zeros(len(settings), importance.shape[1], requires_grad=True)  # [s, n_max]
    optimizer = torch.optim.Adam([W, b], lr=lr)
    generator = torch.Generator().manual_seed(data_seed)
    history_steps, W_history, loss_history = [], [], []
    stopped = False
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        x = sample_features(probability, batch_size, generator)
        loss = weighted_loss(W * mask, b, x, importance)  # [s]
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # settings are independent: each gets its own gradient
        optimizer.step()
        done = step + 1
        if snapshot_every > 0 and (done % snapshot_every == 0 or done == steps or step == 0):
            history_steps.append(done)
            W_history.append((W.detach() * mask).clone())
            loss_history.append(loss.detach().clone())
            yield done, W_history[-1], loss_history[-1]
        if done % 50 == 0 or done == steps:
            if progress is not None:
                progress(done, steps)
            if should_stop is not None and done < steps and should_stop():
                stopped = True
                break
    with torch.inference_mode():
        final_W = (W.detach() * mask).clone()
        final_b = b.detach() * (importance > 0)
        eval_x = sample_features(probability, eval_samples, torch.Generator().manual_seed(data_seed + 1))
        final_loss = weighted_loss(final_W, final_b, eval_x, importance)
    return ToyModels(
        settings=settings, W=final_W, b=final_b, loss=final_loss, steps=history_steps,
        W_history=torch.stack(W_history) if W_history else None,
        loss_history=torch.stack(loss_history) if loss_history else None, stopped=stopped,
    )


def geometry(W: Tensor) -> dict[str, Tensor]:
    """What one toy model `W [m, n]` learned.

    norms `[n]`; gram `Wᵀ W [n, n]`; angles `[n, n]` in degrees (NaN where a feature has no
    direction); superposition `[n]` = `Σ_{j≠i} (Ŵᵢ · Wⱼ)²`; dimensionality `[n]` =
    `‖Wᵢ‖² / Σⱼ (Ŵᵢ · Wⱼ)²`; dimensions_per_feature (scalar) = `m / ‖W‖_F²`.
    """
    W = W.detach().double()
    norms = W.norm(dim=0)  # [n]
    represented = norms > 1e-3
    unit = W / norms.clamp_min(1e-12)  # [m, n]
    overlaps = unit.T @ W  # [n, n]: Ŵᵢ · Wⱼ
    squared = overlaps**2
    superposition = squared.sum(dim=1) - squared.diagonal()
    dimensionality = torch.where(represented, norms**2 / squared.sum(dim=1).clamp_min(1e-12), torch.zeros_like(norms))
    cosine = (unit.T @ unit).clamp(-1, 1)
    angles = torch.rad2deg(torch.arccos(cosine))
    angles[~represented] = float("nan")
    angles[:, ~represented] = float("nan")
    return {
        "norms": norms.float(),
        "gram": (W.T @ W).float(),
        "angles": angles.float(),
        "superposition": torch.where(represented, superposition, torch.zeros_like(norms)).float(),
        "dimensionality": dimensionality.float(),
        "dimensions_per_feature": torch.tensor(W.shape[0] / max(float(W.pow(2).sum()), 1e-12)),
    }


def dimensions_per_feature(models: ToyModels) -> Tensor:
    """`m / ‖W‖_F²` for every snapshot and setting, `[T, s]`: it falls in steps as features enter superposition."""
    if models.W_history is None:
        raise InterpWidgetsError("these toy models kept no training snapshots: train with snapshot_every > 0.")
    m = torch.tensor([float(s.n_hidden) for s in models.settings])  # [s]
    return m / models.W_history.pow(2).sum(dim=(-2, -1)).clamp_min(1e-12)


PHASES = ("not represented", "own dimension", "superposition")


def classify(W: Tensor, feature: int) -> int:
    """Phase of one feature of `W [m, n]`: 0 not represented (norm < 0.5), 2 in superposition
    (superposition > 0.5), else 1 a dimension of its own; names in `PHASES`."""
    summary = geometry(W)
    if summary["norms"][feature] < 0.5:
        return 0
    return 2 if summary["superposition"][feature] > 0.5 else 1


def phase_diagram(
    probabilities: Sequence[float], relative_importances: Sequence[float], n_features: int = 2, n_hidden: int = 1,
    seeds: int = 2, **train: object,
) -> dict[str, object]:
    """The paper's phase diagram: what happens to the LAST feature as sparsity and its importance vary.

    Every cell is a toy model whose features all have importance 1 except the last, which has the
    cell's relative importance; all features share the cell's probability. All cells and `seeds`
    seeds per cell train in one batch (`train` goes to `train_toy_models`); each cell keeps its
    best seed. Returns `phase [P, R]` (indices into `PHASES`), the last feature's `norm` and
    `superposition [P, R]`, `loss [P, R]` and the trained `models`.
    """
    settings = [
        ToySetting(n_features, n_hidden, float(p), seed=seed, importances=(1.0,) * (n_features - 1) + (float(r),))
        for p in probabilities for r in relative_importances for seed in range(seeds)
    ]
    models = train_toy_models(settings, **train)  # type: ignore[arg-type]
    shape = (len(probabilities), len(relative_importances))
    best = models.best_of_seeds()
    phase, norm, superposition = torch.zeros(shape, dtype=torch.long), torch.zeros(shape), torch.zeros(shape)
    for cell, index in enumerate(best):
        W, _ = models.weights(index)
        summary = geometry(W)
        row, column = divmod(cell, shape[1])
        phase[row, column] = classify(W, n_features - 1)
        norm[row, column] = summary["norms"][-1]
        superposition[row, column] = summary["superposition"][-1]
    return {
        "probabilities": [float(p) for p in probabilities], "relative_importances": [float(r) for r in relative_importances],
        "phase": phase, "norm": norm, "superposition": superposition,
        "loss": models.loss[best].reshape(shape), "best": best, "models": models,
    }


def align_hidden(W_from: Tensor, W_to: Tensor) -> Tensor:
    """`W_from [m, n]` turned by the orthogonal `R [m, m]` that brings it closest to `W_to [m, n]` (Procrustes).

    The loss is unchanged by any rotation or reflection of the hidden space, so two seeds learn
    the same picture in different orientations; aligning first makes their directions comparable.
    """
    U, _, Vh = torch.linalg.svd(W_to.double() @ W_from.double().T)
    return ((U @ Vh) @ W_from.double()).to(W_from.dtype)


def seed_mcs(W_a: Tensor, W_b: Tensor, bins: int = 20, min_norm: float = 0.5) -> dict[str, Tensor]:
    """How alike two seeds' features are: seed B aligned onto seed A, then for each feature A
    represents (norm ≥ `min_norm`) its MCS among B's represented features, and its cosine with B's
    copy of the same feature. Histogram of the MCS over [0, 1] in `bins` bins (`counts`, `edges`).
    A histogram piled at 1 means both seeds found the same directions; a spread means they did not.
    """
    aligned = align_hidden(W_b, W_a)
    kept_a, kept_b = W_a.norm(dim=0) >= min_norm, aligned.norm(dim=0) >= min_norm
    if not kept_a.any() or not kept_b.any():
        raise InterpWidgetsError(f"one of the two models represents no feature with norm >= {min_norm}: train longer or lower min_norm.")
    mcs = max_cosine_similarity(W_a.T[kept_a], aligned.T[kept_b])
    both = kept_a & kept_b
    same = torch.nn.functional.cosine_similarity(W_a.T[both], aligned.T[both], dim=1)
    counts = torch.histc(mcs.clamp(0, 1).float(), bins=bins, min=0, max=1)
    return {"mcs": mcs, "features": kept_a.nonzero().flatten(), "same_feature": same, "counts": counts,
            "edges": torch.linspace(0, 1, bins + 1), "aligned": aligned}
