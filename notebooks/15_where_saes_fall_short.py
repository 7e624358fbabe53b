# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Where SAEs fall short
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/15_where_saes_fall_short.ipynb)
#
# Checklist topic: **SAEs and their open problems**.
#
# A sparse autoencoder rewrites an activation as a sparse sum of learned directions, the hope being one direction per feature (notebook 10's toy shows why features can share dimensions in the first place). Four things go wrong in practice, and all four are measurable on the SAEs shipped with the embedded 6-layer model (1x, 2x, 4x and 8x its width, on the stream after block 2):
#
# 1. **The reconstruction is lossy**, and splicing it into the model costs loss.
# 2. **Dictionary size changes the answer**: wider dictionaries do not simply add features; they **split** one feature into several.
# 3. **Dead features**: directions that never fire.
# 4. **Dense features**: directions that fire on a large share of all tokens, which are hard to read as one concept.
#
# Each number is computed below; none is typed into the text.

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

import interp_widgets as iw
from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.models.loaders import validation_tokens
from interp_widgets.sae.compare import compare_dictionaries, decoder_directions
from interp_widgets.sae.metrics import reconstruction_metrics, spliced_loss

torch.set_grad_enabled(False)
model = iw.load_model("embedded-6l")
sizes = ["1x", "2x", "4x", "8x"]
saes = {size: iw.load_sae(size, model="embedded-6l") for size in sizes}
hook = saes["4x"].cfg.hook_name
tokens = validation_tokens(128, max_tokens=128 * 32, bos=model.tokenizer.bos_token_id)  # held-out text, [32, 128]
x = activations_at(model, tokens, hook)[:, 1:].reshape(-1, model.cfg.d_model)  # [positions, d_model], BOS left out
numbers = {}  # every number a claim below rests on; tests/notebooks/test_curriculum.py checks the claims against them
print(f"SAEs on {hook}; {len(x)} held-out activations")

# %% [markdown]
# ## 1-3-4. Reconstruction, spliced loss, dead and dense features, by dictionary size
#
# For each SAE: variance explained, L0 (active features per token), the share of **dead** features (never active on these tokens) and **dense** ones (active on more than 10 % of tokens), and the next-token loss with the SAE's reconstruction spliced in place of the stream. *Loss recovered* is 1 when splicing costs nothing and 0 when it is as bad as zeroing the stream.

# %%
rows = {}
for size, sae in saes.items():
    quality = reconstruction_metrics(sae, x)
    loss = spliced_loss(model, sae, tokens[:8])
    rows[size] = {**quality, **loss, "d_sae": sae.d_sae}
    print(f"{size:>3} ({sae.d_sae:5d} features): variance explained {quality['explained_variance']:.2f}, L0 {quality['l0']:5.1f}, "
          f"dead {quality['dead_fraction']:6.1%}, dense {quality['dense_fraction']:6.1%} | loss {loss['ce_clean']:.2f} -> "
          f"{loss['ce_spliced']:.2f} spliced (recovered {loss['ce_loss_recovered']:.2f})")
numbers["sizes"] = {size: {k: row[k] for k in ("explained_variance", "l0", "dead_fraction", "dense_fraction", "ce_clean",
                                               "ce_spliced", "ce_loss_recovered")} for size, row in rows.items()}

# %% [markdown]
# Read the table before trusting any feature:
#
# - **Lossy.** No SAE recovers all of the loss: splicing any of them in raises the next-token loss (compare the clean and spliced columns), and every one leaves more than a tenth of the stream's variance unexplained.
# - **Size.** Wider dictionaries spend more active features per token (L0 rises with width) for a modest gain in variance explained; compare the 4x and 8x rows to see whether the last doubling helped at all on this model.
# - **Dead.** The widest dictionary has the most dead features: its extra directions are not all used.
# - **Dense.** The narrowest has the most dense features: with few directions, some must stand for "anything common".

# %% [markdown]
# ## 2. Feature splitting, seen in the MCS histogram
#
# For every feature of the 8x dictionary, its **max cosine similarity** (MCS) with any 4x decoder direction. A feature that both dictionaries learned sits near 1; a new one sits low. Then count the 4x features that are the closest match (MCS above 0.7) of **two or more** 8x features: one coarse feature split into finer ones.

# %%
comparison = compare_dictionaries(saes["8x"], saes["4x"])
wide, narrow = decoder_directions(saes["8x"]), decoder_directions(saes["4x"])
best = (wide @ narrow.T).max(dim=1)  # each 8x feature's closest 4x feature
close = best.values > 0.7
children = torch.bincount(best.indices[close], minlength=narrow.shape[0])  # [4x features]: 8x features that map to each
split = int((children >= 2).sum())
print(f"MMCS of 8x against 4x: {comparison.mmcs:.2f}; {int(close.sum())} of {len(wide)} 8x features have a 4x match above 0.7")
print(f"{split} 4x features are the closest match of two or more 8x features (up to {int(children.max())})")
parent = int(children.argmax())
siblings = (best.indices == parent) & close
print(f"e.g. 4x feature {parent} <- 8x features {siblings.nonzero().flatten().tolist()} "
      f"(cosines {[round(float(v), 2) for v in best.values[siblings]]})")
numbers.update(mmcs_8x_4x=comparison.mmcs, matched_8x=int(close.sum()), split_4x=split, max_children=int(children.max()))
iw.HistogramView.from_comparison(comparison, title="8x features: max cosine similarity with any 4x feature")

# %% [markdown]
# The histogram has two humps: features both dictionaries share (near 1) and features only the wider one has (low). Several 4x features have two or more close 8x children: the wider dictionary **split** them. Which of those is "the" feature? The dictionary size chose, not the model. That is the open problem in one picture; the dashboards of notebook 05 let you read a parent and its children side by side.

# %% [markdown]
# ## Exercise
#
# Pick the 4x feature with the most children (`parent` above) and compare where it and its children fire: do the children divide its contexts between them (splitting), or does one child copy it and the others fire elsewhere (absorption)?
#
# <details><summary>Solution</summary>
#
# ```python
# codes4 = saes["4x"].encode(x)[:, parent] > 0
# for child in siblings.nonzero().flatten().tolist():
#     codes8 = saes["8x"].encode(x)[:, child] > 0
#     print(child, f"fires on {int(codes8.sum())} tokens, {float((codes8 & codes4).sum() / codes8.sum().clamp_min(1)):.0%} of them where the parent fires")
# ```
# Children that each cover a different part of the parent's tokens are a split; `iw.FeatureDashboard` shows their top contexts.
# </details>

# %%
print("numbers:", json.dumps(numbers))
