# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Superposition and sparsity: a toy model you can train in seconds
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/10_superposition.ipynb)
#
# Checklist topics: **features as directions** and **superposition and sparsity** (Elhage et al. 2022, *Toy Models of Superposition*).
#
# A model has fewer dimensions than there are things it would like to represent. The toy: `n` features, each present with probability `p` (then a value uniform in [0, 1]), are written into `m < n` hidden dimensions by `W [m, n]` and read back by `x' = ReLU(Wᵀ W x + b)`, trained on the importance-weighted squared error. Column `W[:, i]` is feature *i*'s **direction**. The question is how many directions it packs into `m` dimensions, and how that depends on sparsity (`1 − p`) and importance.
#
# Everything here trains in the kernel: every setting and seed in one batched tensor, under a second per setting on one CPU thread. Nothing is downloaded.

# %%
# Install if missing (Colab, a fresh kernel). Locally, the README's set-up has done this.
try:
    import interp_widgets
except ImportError:
    # %pip install -q interp-widgets
try:  # Colab renders custom widgets only with its custom widget manager on
    from google.colab import output
    output.enable_custom_widget_manager()
except ImportError:
    pass

# %%
import json

import torch

from interp_widgets.compute.superposition import (
    PHASES, ToySetting, dimensions_per_feature, geometry, phase_diagram, seed_mcs, train_toy_models,
)
from interp_widgets.widgets.superposition_toy import SuperpositionToy

torch.set_num_threads(1)
numbers = {}  # every number a claim below rests on; tests/notebooks/test_curriculum.py checks the claims against them

# %% [markdown]
# ## 1. Three known answers, best of 8 seeds
#
# - **5 sparse features in 2 dimensions** (p = 0.05, equal importance): the five directions form a regular pentagon, 72° apart, all with the same norm.
# - **2 sparse features in 1 dimension** (p = 0.1): an **antipodal pair**, one feature at +1, the other at −1. Both are stored; they interfere only when both are present, which is rare.
# - **5 dense features in 5 dimensions**, importance 0.9^i: no pressure to share, so `Wᵀ W` is (close to) the identity.
#
# All 24 models (3 settings × 8 seeds) train in one batch; for each setting the seed with the lowest loss is kept.

# %%
settings = [ToySetting(n, m, p, importance_decay=decay, seed=seed)
            for n, m, p, decay in [(5, 2, 0.05, 1.0), (2, 1, 0.1, 1.0), (5, 5, 1.0, 0.9)] for seed in range(8)]
models = train_toy_models(settings, snapshot_every=50)
pentagon, antipodal, dense = (models.weights(i)[0] for i in models.best_of_seeds())

angles = torch.rad2deg(torch.atan2(pentagon[1], pentagon[0])).sort().values
gaps = torch.diff(torch.cat([angles, angles[:1] + 360]))
norms = geometry(pentagon)["norms"]
print("pentagon: gaps between neighbouring directions (degrees):", [round(float(g), 1) for g in gaps])
print("          norms:", [round(float(v), 3) for v in norms], "; dimensionality per feature:",
      [round(float(v), 2) for v in geometry(pentagon)["dimensionality"]])
cosine = float(torch.nn.functional.cosine_similarity(antipodal[:, 0], antipodal[:, 1], dim=0))
print(f"antipodal: W = {antipodal.squeeze(0).tolist()}, cosine between the two features {cosine:+.3f}")
gram = dense.T @ dense
off = float((gram - torch.diag(gram.diagonal())).abs().max())
print(f"dense: largest off-diagonal |WᵀW| {off:.3f}, diagonal {[round(float(v), 3) for v in gram.diagonal()]}")
numbers.update(pentagon_gap_error=float((gaps - 72).abs().max()), pentagon_norm_spread=float(norms.max() / norms.min() - 1),
               antipodal_cosine=cosine, dense_off_diagonal=off, dense_diagonal_error=float((gram.diagonal() - 1).abs().max()))

# %% [markdown]
# The pentagon's **dimensionality** per feature, `‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)²`, is 2/5: five features share two dimensions equally. An antipodal pair gives 1/2, a dimension of one's own 1.

# %% [markdown]
# ## 2. The live toy
#
# The view trains one setting with four seeds in the kernel and redraws as it trains. Move **feature probability** to 1 (dense) and the pentagon collapses: the model no longer packs more than two features' worth of norm into its two dimensions (dimensions per feature `m/‖W‖²` near 1, printed below). Move it back below 0.1 and all five come back in superposition. With `m > 2` the picture is `Wᵀ W` with each feature's norm beside it, coloured by its superposition `Σ_{j≠i} (Ŵᵢ·Wⱼ)²` (blue: a dimension of its own; orange: shared). The **phase diagram** button trains an 8 × 8 grid (next section).

# %%
toy = SuperpositionToy.from_settings(n_features=5, n_hidden=2, feature_probability=0.05, seeds=4, steps=1500)
toy

# %%
toy.set(feature_probability=1.0)  # the same as moving the slider to 1
dense_dims = float(toy.trajectory_dims[-1])
toy.set(feature_probability=0.05)
sparse_dims = float(toy.trajectory_dims[-1])
print(f"dimensions per feature m/‖W‖²: dense {dense_dims:.2f}, sparse {sparse_dims:.2f}")
numbers.update(toy_dense_dims=dense_dims, toy_sparse_dims=sparse_dims)

# %% [markdown]
# Dense features: `m/‖W‖²` near 1 (only as many features kept as there are dimensions). Sparse: about 0.3, all five kept in two dimensions (their norms settle a little above 1, so below the pentagon's 2/5).

# %% [markdown]
# ## 3. The phase diagram
#
# Two features into one dimension; the first has importance 1, the second a relative importance from 0.1 to 10 (columns), both the same probability (rows, dense at the top). What happens to the **second** feature? Not represented (grey), a dimension of its own (blue; the first feature is dropped), or superposition with the first (orange: the antipodal pair). All 64 cells × 2 seeds train in one batch.

# %%
probabilities = torch.logspace(0, -2, 8).tolist()
importances = torch.logspace(-1, 1, 8).tolist()
diagram = phase_diagram(probabilities, importances, seeds=2, steps=1500)
print("rows: probability; columns: relative importance", [round(r, 2) for r in importances])
for p, row in zip(probabilities, diagram["phase"]):
    print(f"p={p:6.3f}  " + " ".join(f"{PHASES[int(v)][:5]:>5}" for v in row))
counts = {name: int((diagram["phase"] == k).sum()) for k, name in enumerate(PHASES)}
print(counts)
numbers.update(phase_dense_low=PHASES[int(diagram["phase"][0, 0])], phase_dense_high=PHASES[int(diagram["phase"][0, -1])],
               phase_sparse_row=[PHASES[int(v)] for v in diagram["phase"][-1]], phase_counts=counts)

# %% [markdown]
# Dense and unimportant: the second feature is dropped. Dense and important: it takes the dimension and the first is dropped. Sparse: both share the dimension as an antipodal pair, whatever their importance. This is the paper's claim in miniature: **sparsity is what makes superposition pay**.

# %% [markdown]
# ## 4. The training trajectory: superposition arrives in a phase change
#
# Superposition is learned, and not smoothly. Start the pentagon setting from small weights with a small learning rate (so the dynamics are slow enough to watch) and follow each feature's **dimensionality** `‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)²` over training: 1 is a dimension of its own, 0.5 an antipodal pair, 0.4 a pentagon's share. Four seeds train at once; we print the seed whose one feature keeps a dimension of its own longest before giving it up.

# %%
slow = train_toy_models([ToySetting(5, 2, 0.05, seed=s) for s in range(4)], steps=3000, lr=1e-3, init_scale=0.02, snapshot_every=100)
dimensionality = torch.stack([torch.stack([geometry(W)["dimensionality"] for W in slow.W_history[:, s]]) for s in range(4)])  # [seed, T, n]
own = dimensionality >= 0.95  # a dimension of its own at that snapshot
longest, pick = 0, (0, 0)
for s in range(4):
    for i in range(5):
        run = best_run = 0
        for flag in own[s, :, i].tolist():
            run = run + 1 if flag else 0
            best_run = max(best_run, run)
        if best_run > longest and dimensionality[s, -1, i] <= 0.6:
            longest, pick = best_run, (s, i)
seed, feature = pick
print(f"seed {seed}, feature {feature}: a dimension of its own for {longest * 100} steps, then {float(dimensionality[seed, -1, feature]):.2f} at the end")
for t in range(0, len(slow.steps), 3):
    print(f"step {slow.steps[t]:5d}: dimensionality per feature {[round(float(v), 2) for v in dimensionality[seed, t]]}")
numbers.update(plateau_steps=longest * 100, plateau_final_dimensionality=float(dimensionality[seed, -1, feature]))

# %% [markdown]
# For a long stretch the chosen feature keeps a dimension of its own while the others crowd into the remaining one; then, within a few hundred steps, it gives the dimension up and all five settle into superposition (dimensionalities between about 0.3 and 0.5, printed above). Plateaus and sudden changes like this, not a smooth slide, are what Elhage et al. saw in training. The loss over the same run:

# %%
print("loss every 300 steps:", [round(float(v), 4) for v in slow.loss_history[::3, seed]])

# %% [markdown]
# A crowded setting for the next section: twenty features with importance 0.9^i into five dimensions, probability 0.03, two seeds.

# %%
trajectory = train_toy_models([ToySetting(20, 5, 0.03, importance_decay=0.9, seed=s) for s in range(2)], lr=3e-3, snapshot_every=100)
dims = dimensions_per_feature(trajectory)[:, 0]
represented = (trajectory.W_history[:, 0].norm(dim=1) > 0.5).sum(dim=-1)  # W_history [T, settings, m, n]
print(f"dimensions per feature {float(dims[0]):.2f} at the start, {float(dims[-1]):.2f} at the end; "
      f"{int(represented[-1])} of 20 features with norm > 0.5 in 5 dimensions")
numbers.update(trajectory_dims_start=float(dims[0]), trajectory_dims_end=float(dims[-1]), trajectory_represented_end=int(represented[-1]))

# %% [markdown]
# ## 5. Do two seeds learn the same features? The MCS histogram
#
# The hidden space can be rotated without changing the loss, so we first align seed B onto seed A (orthogonal Procrustes), then ask, for each feature A represents, how close B's nearest feature direction is (**max cosine similarity**, MCS), and how close B's copy of the *same* feature is. This is the comparison used between SAEs trained with different seeds (notebook 15 makes it between the shipped SAEs of two sizes).

# %%
mcs = seed_mcs(trajectory.weights(0)[0], trajectory.weights(1)[0])
print(f"{len(mcs['mcs'])} features compared; mean MCS {float(mcs['mcs'].mean()):.2f}, "
      f"mean cosine with the same feature {float(mcs['same_feature'].mean()):.2f}")
print("MCS histogram over [0, 1] (20 bins):", mcs["counts"].int().tolist())
numbers.update(mcs_mean=float(mcs["mcs"].mean()), same_feature_mean=float(mcs["same_feature"].mean()))

# %% [markdown]
# The MCS is well above the same-feature cosine: in superposition, the two seeds store the important features in similar places, but the crowded, less important ones land in different arrangements, so a feature's nearest neighbour in the other seed is often *another* feature. A histogram piled at 1 would mean the two seeds agree; this one is spread out.

# %% [markdown]
# ## Exercise
#
# With **three** features in **two** dimensions (`phase_diagram(..., n_features=3, n_hidden=2)`), where does the third feature go when it is sparse and unimportant? Predict first, then run it.
#
# <details><summary>Solution</summary>
#
# ```python
# d3 = phase_diagram(probabilities, importances, n_features=3, n_hidden=2, seeds=2, steps=1500)
# print(d3["phase"])  # sparse rows: superposition (2); dense and unimportant: not represented (0)
# ```
#
# Sparse: it joins the other two in superposition (three directions 120° apart in the plane). Dense and unimportant: it is dropped, and the other two keep a dimension each.
# </details>

# %%
print("numbers:", json.dumps(numbers))
