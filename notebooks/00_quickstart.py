# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # interp-widgets quickstart
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/00_quickstart.ipynb)
#
# Live widgets for looking inside transformer language models. This notebook runs offline, on the small model shipped inside the package (its `MODEL_CARD.md` says how it was trained and what it has learned).
#
# **Arc:** load the model → its induction and previous-token heads → colour a prompt's tokens by SAE features and neurons → edit the prompt inside the widget → the same view from plain data (CircuitsVis' API) → what bad input looks like.

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

# %% [markdown]
# ## 1. The embedded model
#
# `iw.load_model()` returns a TransformerLens `TransformerBridge`: 2 layers, d_model 256, trained on text from the package registries (English prose, Python docs and code, German). `iw.load_model("gpt2")` works the same way where the model hub can be reached.

# %%
import torch
import interp_widgets as iw

torch.set_grad_enabled(False)
model = iw.load_model()
print(model.cfg.n_layers, "layers, d_model", model.cfg.d_model, "| vocabulary", model.cfg.d_vocab)

# %% [markdown]
# It has learned what the later notebooks look at. On a block of random tokens shown twice, the second copy is almost free: **induction heads** in layer 1 find the earlier occurrence of the current token and copy the token that came after it, reading a **previous-token head** in layer 0. The induction score is the attention from each token of the second copy to the token after its first occurrence.

# %%
from interp_widgets.compute.residual.head_scores import induction_scores, previous_token_scores, repeated_random_tokens, repeated_sequence_loss

tokens = repeated_random_tokens(model, n_sequences=8, half=60, seed=0)
first, second = repeated_sequence_loss(model, tokens)
print(f"loss on the first copy {first:.2f} nats/token, on the second {second:.2f}")
print("induction score per head (layer x head):\n", induction_scores(model, tokens).numpy().round(2))
print("previous-token score per head:\n", previous_token_scores(model, model.to_tokens("The cat sat on the mat, and the dog slept.")).numpy().round(2))

# %% [markdown]
# ## 2. SAE features on a prompt
#
# The package also ships sparse autoencoders on `blocks.0.hook_resid_post` and a small catalogue of features that were checked to track a concept. Each series below is one feature; hover a token for its value, switch series with the buttons. **Type a new prompt in the box and press Enter**: the kernel re-tokenizes and recomputes, running the model only up to the block it needs.

# %%
catalogue = iw.models.feature_catalogue()
for entry in catalogue:
    print(f"{entry['concept']:<26} {entry['sae']} SAE, feature {entry['feature']:>4}  (AUROC {entry['auroc']:.2f})")

# %%
view = iw.TokenHighlights.from_model(
    model,
    "The Hound of the Baskervilles was late, and the Doctor said: Der Hund schläft. def load(self, path):",
    directions=[(iw.load_sae(entry["sae"]), entry["feature"]) for entry in catalogue],
    names=[entry["concept"] for entry in catalogue],
)
view

# %% [markdown]
# The widget is also a Python object: change its prompt from code, read its values back.

# %%
view.set_prompt("Ein kleiner Hund und eine Katze spielen im Garten.")
print(view.to_text()[:500])

# %% [markdown]
# Any direction works, not only SAE features: a neuron index of the hook's activation, or a vector (a probe, a steering vector, an SAE decoder row).

# %%
sae = iw.load_sae("4x")
iw.TokenHighlights.from_model(model, "The residual stream is a shared memory.", hook="blocks.0.hook_resid_post",
                              directions=[3, sae.W_dec[0]], names=["neuron 3", "decoder row 0 of the 4x SAE"])

# %% [markdown]
# ## 3. From plain data, with CircuitsVis' arguments
#
# `interp_widgets.tokens.colored_tokens(tokens, values)` takes the same arguments as `circuitsvis.tokens.colored_tokens`: switch by changing the import. Token strings are always shown as text, so markup in a token is harmless. `colored_tokens_multi` colours every series on one shared scale (pass `shared_scale=False` for one scale per series); the legend says which scale is shown.

# %%
from interp_widgets.tokens import colored_tokens, colored_tokens_multi

tokens = ["<b>not bold</b>", " tab\t", " new\nline", " plain"]
colored_tokens(tokens, [0.9, -0.4, 0.1, -1.0])

# %%
colored_tokens_multi(tokens, torch.tensor([[1.0, 0.0], [0.5, 0.2], [0.0, 0.8], [-0.3, 1.0]]), labels=["first", "second"])

# %% [markdown]
# ## 4. Bad input gets a clear error
#
# A misspelt hook name, for instance, names the closest valid ones.

# %%
try:
    iw.TokenHighlights.from_model(model, "Hello", hook="blocks.0.hook_resid_pst", directions=0)
except iw.InterpWidgetsError as error:
    print(error)

# %% [markdown]
# ## 5. The whole bench in one line
#
# `%load_ext interp_widgets` makes the objects you hold show themselves usefully: type a model, an SAE, an activation cache or a `Selection` as the last line of a cell. `iw.explore(model, saes)` (or `%explore`) opens every view around one shared selection, in tabs: highlights, feature browser and dashboard, ablation explorer, logit-lens bars, direction ablation, residual norms, logit-lens grid, attention, patching. Pick a feature in the browser tab or type a prompt in the box at the top, and every tab that reads it follows; a tab is computed only when you first open it, and catches up only when what it reads has changed.

# %%
# %load_ext interp_widgets
sae = iw.load_sae("4x")
sae  # hook, width, activation, metrics, where it came from

# %%
bench = iw.explore(model, {"4x": sae}, prompt="We bought bread and butter, salt and pepper.")
bench

# %% [markdown]
# Every view saves itself as a picture for a paper or slides: `view.save("fig.svg")` draws it in the kernel (it works inside a running cell), and the ⤓ menu on each view saves what is on screen as SVG or PNG.

# %%
import tempfile
from pathlib import Path

path = bench.current.save(Path(tempfile.gettempdir()) / "highlights.svg")  # e.g. bench.current.save("fig.svg")
print(path, path.stat().st_size, "bytes")

# %% [markdown]
# ## Recap
#
# - `iw.load_model()`, `iw.load_sae("4x")` — the embedded model and SAEs, offline.
# - `TokenHighlights.from_model(model, prompt, hook, directions)` — a neuron (int), a vector, or `(sae, feature)`.
# - Edit the prompt inside the widget; the kernel answers, errors show in the widget.
# - `colored_tokens` / `colored_tokens_multi` — CircuitsVis' arguments, a live widget.
- `iw.explore(model, saes)` / `%explore` — the whole bench around one selection; `%load_ext interp_widgets` for rich displays; `view.save("fig.svg")` for pictures.
# - A saved notebook keeps a static snapshot of the last view: reopened without its kernel in JupyterLab or Notebook 7, exported with `jupyter nbconvert --to html --execute`, or on GitHub, it shows that snapshot.
