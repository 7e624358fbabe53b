# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The residual stream across depth
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/04_residual_stream.ipynb)
#
# Three views of what happens between a model's input and its output, live on the deeper embedded model (6 layers, learned absolute positions, GPT-2 style):
#
# 1. **Norm growth.** The residual stream's norm grows layer by layer; in GPT-2-style models roughly exponentially ("grow by a factor X every layer"). We fit that factor.
# 2. **The logit lens.** Unembed the stream after each block as if it were the last: the prediction accumulates through the forward pass.
# 3. **Attention heads.** Find the previous-token and induction heads by their scores, then look at them.
#
# 4. **Learned positions.** The principal components of its position embeddings `W_pos`.
#
# Everything below is measured, not assumed: `interp_widgets/models/embedded_6l/MODEL_CARD.md` has the same numbers, including where this small model differs from GPT-2 (its norm does not grow exponentially; its positions have no helix). Where the model hub can be reached, change one line to `iw.load_model("gpt2")` (12 layers) or `iw.load_model("EleutherAI/pythia-70m")`.

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
from interp_widgets.compute.residual.norms import residual_norms
from interp_widgets.compute.residual.lens import logit_lens
from interp_widgets.compute.residual.head_scores import head_scores

torch.set_grad_enabled(False)
model = iw.load_model("embedded-6l")  # or iw.load_model("gpt2") where the hub can be reached
print(model.cfg.n_layers, "layers, d_model", model.cfg.d_model)

# %% [markdown]
# ## 1. Norm growth, and its fitted factor
#
# The L2 norm of the stream at every layer boundary (`0_pre` is the embeddings, `final_post` the output of the last block), averaged over positions with BOS left out (its norm is an outlier: tick *include BOS* to see it), on two prompts overlaid. The dashed lines are the exponential fits; the legend gives the factor per layer and the fit's R² on the log norms. The middle chart is every position of the first prompt; the right one compares what each block *writes* (attention and MLP outputs) with the stream it writes into: the seeds' "how" is that those outputs grow too. Type a prompt and press Enter to redraw.

# %%
prompts = ["The residual stream is a shared memory that every layer reads and writes.",
           "def load(self, path):\n    return open(path).read()"]
norms = iw.ResidualNorms.from_model(model, prompts, names=["prose", "code"])
norms

# %%
result = residual_norms(model, model.to_tokens(prompts[0]))
fit = result.fit()
norm_means = [float(v) for v in result.mean()]
print("mean norm per boundary:", dict(zip(result.labels, result.mean().numpy().round(2))))
print(f"growth factor x{fit.factor:.2f} per layer, R² {fit.r2:.3f} (from {len(result.labels)} points)")

# %% [markdown]
# Read the numbers before the story: on this model the first block lifts the norm far above the small embedding, and after that it changes little from block to block, so an exponential fits poorly (R² 0.484 on the prose prompt, printed above). GPT-2 and Pythia, trained far longer, show the steady factor per layer; switch the model line above to see it where the hub can be reached.

# %% [markdown]
# ## 2. The logit lens: the prediction accumulates
#
# Rows are layers (the top row is the model's own output), columns positions. Without a target token each cell is the top next-token prediction read off the stream after that layer, coloured by its probability. This view is built with `target_token=" king"`, so each cell shows instead the **rank** of " king" there (0 = the top prediction), coloured by its probability: on text that repeats, " king" in the second copy is predicted only after the induction heads (found in section 3) have written into the stream. Clear the target box (or type another token, with its leading space) to switch; click a cell for its top 5. The column beside the layer names is each layer's KL divergence from the final prediction, averaged over positions.

# %%
repeated = "The old man wrote a letter to the king about the house. The old man wrote a letter to the king about the house."
lens = iw.LogitLensGrid.from_model(model, repeated, k=5, target_token=" king")
lens

# %%
result = logit_lens(model, model.to_tokens(repeated), k=1)
tokens = model.to_str_tokens(repeated)
second = len(tokens) // 2 + 1  # positions in the second copy
for label, ids, kl in zip(result.labels, result.top_ids, result.kl):
    right = sum(int(ids[p, 0]) == int(model.to_tokens(repeated)[0, p + 1]) for p in range(second, len(tokens) - 1))
    print(f"{label:>10}: next token right at {right} of {len(tokens) - 1 - second} positions of the second copy; "
          f"mean KL from final {float(kl.mean()):.2f} nats")

# %% [markdown]
# ## 3. Heads by their scores
#
# Scores for every head: **previous-token** (attention to the token before), **induction** (on a random block shown twice, attention to the token after the current token's earlier occurrence), **duplicate-token** (attention to the earlier occurrence itself) and attention to **BOS**. The view below shows them in a sortable table; hover a token to see where the large head attends from it, click to lock, pick another head from the thumbnails or the table.

# %%
scores = head_scores(model, model.to_tokens(prompts[0]))
for name, score in scores.items():
    layer, head = divmod(int(score.argmax()), model.cfg.n_heads)
    print(f"{name:>15}: strongest head {layer}.{head} ({float(score.max()):.2f})")

# %%
layer, head = divmod(int(scores["induction"].argmax()), model.cfg.n_heads)
iw.AttentionView.from_model(model, repeated, layer=layer, head=head)

# %% [markdown]
# From CircuitsVis, switch by changing the import: `from interp_widgets.attention import attention_heads` takes `attention_heads(attention, tokens)`.

# %%
from interp_widgets.attention import attention_heads

_, cache = model.run_with_cache(prompts[0])
attention_heads(cache["blocks.0.attn.hook_pattern"][0], model.to_str_tokens(prompts[0]))

# %% [markdown]
# ## 4. Learned positions
#
# GPT-2-style models add a learned vector per position to the token embedding. Its principal components (position 0 set apart: it is an outlier) show what position information the model keeps: a "how late in the sequence" direction, a "first token" direction, and in GPT-2 sinusoid pairs that make a helix. A component that is mostly one sinusoid has most of its variance in one Fourier frequency.

# %%
from interp_widgets.compute.residual.positions import position_embeddings, positional_structure
structure = positional_structure(position_embeddings(model))  # W_pos [n_ctx, d_model]
for i, (share, corr, freq, in_freq) in enumerate(zip(structure["variance_share"], structure["position_correlation"],
                                                     structure["dominant_frequency"], structure["frequency_share"])):
    print(f"PC{i + 1}: {share:5.1%} of the variance, correlation with position {corr:+.2f}, "
          f"{in_freq:4.0%} of it in {freq} cycle(s) over the context")
print(f"position 0 lies {structure['first_token_z']:.1f} standard deviations beyond the others")

# %% [markdown]
# Here the first component is "how late" (correlation near -1 with position) and position 0 stands apart; no two other components are sinusoids of a shared frequency, so this model has no helix (its card says the same). Plotted against each other, PC1 and PC2 trace an arc: position moves smoothly along a curve. The picture beside the card, `positional_components.svg`, draws both.

# %% [markdown]
# ## Recap
#
# - `iw.ResidualNorms.from_model(model, prompts)`: norm per layer boundary, fitted growth factor and R², per position, block outputs; overlay prompts or models.
# - `iw.LogitLensGrid.from_model(model, prompt, target_token=" king")`: top-1 per layer and position, top-k bars, a token's rank, KL.
# - `iw.AttentionView.from_model(model, prompt)`: head thumbnails, one head large, hover and lock, head scores.
# - The maths is plain torch in `interp_widgets.compute.residual` (norms, lens, attention patterns, head scores, positions).

# %% [markdown]
# The numbers the text above quotes, in one line (`tests/notebooks/test_curriculum.py` checks each claim against it):

# %%
import json

print("numbers:", json.dumps({"norm_r2": fit.r2, "norm_factor": fit.factor, "mean_norms": norm_means,
                              "pc1_position_correlation": float(structure["position_correlation"][0]),
                              "first_token_z": float(structure["first_token_z"])}))
