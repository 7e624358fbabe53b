# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Feature dashboards, a feature browser, and linked views
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/05_feature_dashboards.ipynb)
#
# The seed researcher read each feature through its max-activating examples, *uniform examples* ("separate feature activations into bins & sample from each bin"), the logit lens, and then the ablated text at a chosen example. Other tools make such dashboards for a whole SAE in a batch job and ship static HTML; here one feature's dashboard is computed on demand from an activation index, and every view is linked: pick a feature or an example in any view and the others follow.
#
# **Arc:** one selection → the browser (search by token, by prompt) → the dashboard → click a row, then an example: the highlights and the ablation explorer follow → how the index grows.

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
import torch
import interp_widgets as iw

torch.set_grad_enabled(False)
model = iw.load_model()
saes = {name: iw.load_sae(name) for name in ["1x", "4x"]}
selection = iw.Selection(model, saes, sae="4x", feature=495, prompt="We bought bread and butter, salt and pepper.")

# %% [markdown]
# ## 1. The browser
#
# Every feature of the selected SAE: density (the fraction of held-out tokens where it fires), maximum activation, top tokens, and the maximum cosine similarity of its decoder direction to the 1x dictionary. Click a column header to sort, type in the filter box, search by a token (`" and"`) or by a prompt. **Click a row**: every linked view below moves to that feature. The first view builds the activation index (one pass of the model up to the SAE's layer over the corpus's held-out split; a progress line shows while it runs).

# %%
browser = iw.FeatureBrowser.from_selection(selection, compare_to=saes["1x"], compare_label="to 1x")
browser

# %% [markdown]
# ## 2. The dashboard
#
# Top activations, examples from equal-width activation bins (with each bin's count, so weak firings are read too), the histogram, the tokens it fires on most (mean activation over every occurrence of the token) and its logit lens. Type another feature index, or widen the context. **Click an example**: it opens in the ablation explorer below with that token as the target.

# %%
iw.FeatureDashboard.from_selection(selection)

# %% [markdown]
# ## 3. Views that follow the selection

# %%
iw.TokenHighlights.from_selection(selection)

# %%
iw.FeatureAblation.from_selection(selection)

# %%
iw.LogitLensBars.from_selection(selection)

# %% [markdown]
# The same moves in code: `selection.choose(...)` publishes a choice to every view at once.

# %%
browser.search_token(" and")
best = browser.results[0][0]
print("feature that fires most on ' and':", best)
selection.choose(feature=best)  # every view above now shows it

# %% [markdown]
# ## 4. The index, and where it stops fitting
#
# The index keeps every nonzero SAE code (12 bytes each: position and value) plus the tokens: about `tokens x L0 x 12` bytes, L0 being the SAE's mean number of active features per token. Any feature's dashboard is then a slice of it; searches are one pass over it.

# %%
index = selection.index()
l0 = index.positions.numel() / index.n_tokens
print(f"{index.n_tokens:,} tokens, L0 {l0:.0f}, {index.positions.numel():,} nonzero codes, {index.nbytes / 1e6:.1f} MB")
for tokens in (1e6, 1e8):
    print(f"  {tokens:,.0f} tokens at this L0: about {tokens * l0 * 12 / 1e9:.1f} GB")

# %% [markdown]
# Past a machine's memory, `index.save(folder)` writes the arrays and `ActivationIndex.load(folder, mmap=True)` maps them from disk; `selection.set_index(name, index)` uses an index built over your own texts (`build_index(model, sae, texts=[...])`).
#
# ## Recap
#
# - `iw.Selection(model, saes, sae=..., feature=..., prompt=...)`: the one shared choice.
# - `iw.FeatureBrowser.from_selection`, `iw.FeatureDashboard.from_selection`, and `from_selection` on `TokenHighlights`, `FeatureAblation`, `LogitLensBars`, `DirectionAblation`.
# - The maths: `interp_widgets.compute.features.index` (`build_index`) and `.dashboard` (`feature_dashboard`, `feature_table`, `features_on_token`, `features_on_prompt`).
