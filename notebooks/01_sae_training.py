# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Training sparse autoencoders and comparing dictionaries
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/01_sae_training.ipynb)
#
# The seed researcher trained ReLU + L1 SAEs on Pythia-70M's `blocks.2.hook_resid_post` with dictionaries 1x/2x/4x/8x the residual width. This notebook runs the same workflow, live and offline, on the **embedded model** (2 layers, d_model 256) at **`blocks.0.hook_resid_post`**, its first residual stream between the blocks: one pass of the model feeds every dictionary, a chart updates while they train, and the dictionaries are compared by max cosine similarity (MCS). Where the model hub can be reached, `iw.load_model("EleutherAI/pythia-70m")` and `hook = "blocks.2.hook_resid_post"` give the seed's exact setting.
#
# **Arc:** activations → train four sizes at once → metrics on held-out text (with the SAE spliced into the model) → MCS histogram between sizes → look at a feature on text → save in SAELens' format.

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
from IPython.display import display
from pydoc_data.topics import topics  # Python's own help texts: varied technical English, on every machine
import interp_widgets as iw
from interp_widgets.sae import ActivationStore, ReluSAE, TopKSAE, TrainConfig, pack_texts, train_saes
from interp_widgets.sae import compare_dictionaries, reconstruction_metrics, spliced_loss, save_sae, load_sae_from_disk

model = iw.load_model()  # the embedded model, offline (iw.models.toy_model() has random weights)
hook = "blocks.0.hook_resid_post"
d_model = model.cfg.d_model

# A short demonstration run: 150 training steps, seconds on one CPU core. FULL = True trains 2,000
# steps (TrainConfig's default), about 2-3 minutes on one core; the numbers in section 3 improve.
FULL = False
if not torch.cuda.is_available():
    # Each training step is many small matrix products: spreading them over CPU threads gains little,
    # and when another program keeps a core busy the threads wait on each other (on a 2-core machine
    # with one core busy: 2 s a step with two threads, 0.07 s with one).
    torch.set_num_threads(1)

# %% [markdown]
# ## 1. Activations, once
#
# The text: the 79 help topics that ship with Python (`pydoc_data`), every fifth topic held out, so the metrics below are measured on text the SAEs never saw. `ActivationStore` runs the model only up to the hook's block and caches the activations in a memory-mapped file, so all four dictionaries train from one pass. (BOS positions are left out: their activations are outliers.)

# %%
names = sorted(topics)
held_out_names = names[::5]
train_names = [name for name in names if name not in held_out_names]
tokens = pack_texts(model, [topics[name] for name in train_names], context=64)
held_out_tokens = pack_texts(model, [topics[name] for name in held_out_names], context=64)
store = ActivationStore(model, hook, tokens, batch_size=256, cache_path="sae_cache/activations.npy")
store.build_cache()
print(f"training: {len(train_names)} topics, {tokens.numel():,} tokens -> {store.n_activations:,} activations of width {store.d_in}")
print(f"held out: {len(held_out_names)} other topics, {held_out_tokens.numel():,} tokens")

# %% [markdown]
# ## 2. Four dictionary sizes, trained together, watched live
#
# ReLU SAEs with an L1 penalty as in the seed; decoder rows kept at unit norm; features that have not fired for `dead_after_tokens` training tokens count as dead and are resampled. The chart redraws every log step (hover for values; the L0 and NMSE axes switch to a log scale as they fall by decades), and the progress bar shows every size's numbers. This run is short (150 steps); set `FULL = True` at the top for the full 2,000.

# %%
sizes = [1, 2, 4, 8]
saes = [ReluSAE(d_model, d_model * m, seed=m) for m in sizes]
view = iw.widgets.TrainingView(sae_names=[f"{m}x" for m in sizes])
display(view)
steps = 2000 if FULL else 150
config = TrainConfig(total_steps=steps, lr=2e-3, l1_coefficient=0.08, warmup_steps=20, log_every=10,
                     resample_every=steps // 3, dead_after_tokens=10_000)
history = train_saes(saes, store, config, on_log=view.update)

# %% [markdown]
# ## 3. How good are they, on text they never saw?
#
# On the held-out topics: explained variance and L0, the share of features that never fire on that text, and the cross-entropy of the model with each SAE spliced in at the hook, against the clean model and against zeroing the activation (CE loss recovered: 1 means nothing the model needs is lost). Beside them, from training: the share of features dead at the end, i.e. silent for the last `dead_after_tokens` training tokens — a different count over different text, so the two need not agree. These 150 steps are a demonstration (`FULL = True` at the top trains 2,000); the SAEs shipped with the model (`iw.load_sae("4x")`) trained on 510k activations, and its `MODEL_CARD.md` has their numbers.

# %%
held_out = ActivationStore(model, hook, held_out_tokens).sample(len(held_out_tokens))
print(f"{held_out.shape[0]:,} held-out activations")
for m, sae, log in zip(sizes, saes, history):
    r = reconstruction_metrics(sae, held_out)
    ce = spliced_loss(model, sae, held_out_tokens[:32])
    print(f"{m}x  L0 {r['l0']:6.1f}  explained variance {r['explained_variance']:.3f}  "
          f"never fire on held-out text {r['dead_fraction']:6.1%}  "
          f"dead at the end of training {log[-1]['dead_fraction']:6.1%}  CE recovered {ce['ce_loss_recovered']:.3f}")

# %% [markdown]
# ## 4. Which features do the sizes share?
#
# For each feature of the 2x dictionary, the largest cosine similarity of its decoder direction with any feature of the 8x one (MCS; its mean is the MMCS). Near 1: the bigger dictionary kept the feature; low: it split or changed it. Read it against two references: the same comparison between *untrained* dictionaries of the same sizes (random directions in 256 dimensions: what chance gives), and between the 2x and 8x SAEs shipped with the model, trained for far longer at the same hook.

# %%
comparison = compare_dictionaries(saes[1], saes[3])
chance = compare_dictionaries(ReluSAE(d_model, d_model * 2, seed=100), ReluSAE(d_model, d_model * 8, seed=101))
shipped = compare_dictionaries(iw.load_sae("2x"), iw.load_sae("8x"))
print(f"MMCS 2x vs 8x: this demo {comparison.mmcs:.3f}, untrained dictionaries (chance) {chance.mmcs:.3f}, "
      f"the shipped SAEs {shipped.mmcs:.3f}")
iw.HistogramView.from_comparison(comparison, title="MCS of 2x features against 8x (this demo)")

# %% [markdown]
# After 150 steps the demo SAEs are barely trained: their MMCS is close to what untrained dictionaries give by chance, so this histogram says little about which features the sizes share. The shipped SAEs are the result to read: their MMCS is well above chance (`FULL = True` above moves the demo towards them).

# %% [markdown]
# ## 5. A feature on text
#
# The most frequently active feature of the 4x dictionary, highlighted on a prompt you can edit.

# %%
sae = saes[2]
with torch.no_grad():
    frequency = (sae.encode(held_out) > 0).float().mean(0)
feature = int(frequency.argmax())
iw.TokenHighlights.from_model(model, "The residual stream is a shared memory.", directions=[(sae, feature)])

# %% [markdown]
# ## 6. Save in SAELens' format
#
# `cfg.json` + `sae_weights.safetensors`: SAELens loads these, and we load theirs.

# %%
path = save_sae(sae, "sae_cache/embedded_4x")
print(sorted(p.name for p in path.iterdir()))
assert torch.allclose(load_sae_from_disk(path).encode(held_out), sae.encode(held_out))

# %% [markdown]
# ## Recap
#
# - `ActivationStore(model, hook, tokens, cache_path=...)`: one model pass, shuffled batches.
# - `train_saes([...], store, TrainConfig(...), on_log=view.update)`: several sizes at once, live chart, checkpoints.
# - `reconstruction_metrics`, `spliced_loss`: L0, explained variance, CE loss recovered.
# - `iw.HistogramView.from_comparison(compare_dictionaries(a, b))`: MCS per feature, MMCS, histogram.
# - `save_sae` / `load_sae_from_disk`: SAELens' file format.

# %% [markdown]
# The numbers the text above quotes, in one line (`tests/notebooks/test_curriculum.py` checks each claim against it):

# %%
import json

print("numbers:", json.dumps({"steps": steps, "full": FULL, "mmcs_demo": comparison.mmcs, "mmcs_chance": chance.mmcs,
                              "mmcs_shipped": shipped.mmcs}))
