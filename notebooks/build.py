"""Writes the teaching notebooks, outputs stripped. Edit here, then run: python notebooks/build.py

Each notebook runs offline, end to end, on the package's own model.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

INSTALL = (
    "# Install if missing (Colab, a fresh kernel). Locally, the README's set-up has done this.\n"
    "try:\n"
    "    import interp_widgets\n"
    "except ImportError:\n"
    "    %pip install -q interp-widgets\n"
    "try:  # Colab renders custom widgets only with its custom widget manager on\n"
    "    from google.colab import output\n"
    "    output.enable_custom_widget_manager()\n"
    "except ImportError:\n"
    "    pass"
)


def colab_badge(name: str) -> str:
    return (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/{name})"
    )


def quickstart() -> list:
    return [
        new_markdown_cell(
            "# interp-widgets quickstart\n\n"
            + colab_badge("00_quickstart.ipynb") + "\n\n"
            "Live widgets for looking inside transformer language models. This notebook runs offline, on the small "
            "model shipped inside the package (its `MODEL_CARD.md` says how it was trained and what it has learned).\n\n"
            "**Arc:** load the model → its induction and previous-token heads → colour a prompt's tokens by SAE features and neurons → edit the prompt inside "
            "the widget → the same view from plain data (CircuitsVis' API) → what bad input looks like."
        ),
        new_code_cell(INSTALL),
        new_markdown_cell(
            "## 1. The embedded model\n\n"
            "`iw.load_model()` returns a TransformerLens `TransformerBridge`: 2 layers, d_model 256, trained on text "
            "from the package registries (English prose, Python docs and code, German). `iw.load_model(\"gpt2\")` "
            "works the same way where the model hub can be reached."
        ),
        new_code_cell(
            "import torch\n"
            "import interp_widgets as iw\n\n"
            "torch.set_grad_enabled(False)\n"
            "model = iw.load_model()\n"
            "print(model.cfg.n_layers, \"layers, d_model\", model.cfg.d_model, \"| vocabulary\", model.cfg.d_vocab)"
        ),
        new_markdown_cell(
            "It has learned what the later notebooks look at. On a block of random tokens shown twice, the second "
            "copy is almost free: **induction heads** in layer 1 find the earlier occurrence of the current token and "
            "copy the token that came after it, reading a **previous-token head** in layer 0. The induction score is "
            "the attention from each token of the second copy to the token after its first occurrence."
        ),
        new_code_cell(
            "from interp_widgets.compute.circuits import induction_scores, previous_token_scores, repeated_random_tokens, repeated_sequence_loss\n\n"
            "tokens = repeated_random_tokens(model, n_sequences=8, half=60, seed=0)\n"
            "first, second = repeated_sequence_loss(model, tokens)\n"
            "print(f\"loss on the first copy {first:.2f} nats/token, on the second {second:.2f}\")\n"
            "print(\"induction score per head (layer x head):\\n\", induction_scores(model, tokens).numpy().round(2))\n"
            "print(\"previous-token score per head:\\n\", previous_token_scores(model, model.to_tokens(\"The cat sat on the mat, and the dog slept.\")).numpy().round(2))"
        ),
        new_markdown_cell(
            "## 2. SAE features on a prompt\n\n"
            "The package also ships sparse autoencoders on `blocks.0.hook_resid_post` and a small catalogue of "
            "features that were checked to track a concept. Each series below is one feature; hover a token for its "
            "value, switch series with the buttons. **Type a new prompt in the box and press Enter**: the kernel "
            "re-tokenizes and recomputes, running the model only up to the block it needs."
        ),
        new_code_cell(
            "catalogue = iw.models.feature_catalogue()\n"
            "for entry in catalogue:\n"
            "    print(f\"{entry['concept']:<26} {entry['sae']} SAE, feature {entry['feature']:>4}  (AUROC {entry['auroc']:.2f})\")"
        ),
        new_code_cell(
            "view = iw.TokenHighlights.from_model(\n"
            "    model,\n"
            "    \"The Hound of the Baskervilles was late, and the Doctor said: Der Hund schläft. def load(self, path):\",\n"
            "    directions=[(iw.load_sae(entry[\"sae\"]), entry[\"feature\"]) for entry in catalogue],\n"
            "    names=[entry[\"concept\"] for entry in catalogue],\n"
            ")\n"
            "view"
        ),
        new_markdown_cell("The widget is also a Python object: change its prompt from code, read its values back."),
        new_code_cell(
            "view.set_prompt(\"Ein kleiner Hund und eine Katze spielen im Garten.\")\n"
            "print(view.to_text()[:500])"
        ),
        new_markdown_cell(
            "Any direction works, not only SAE features: a neuron index of the hook's activation, or a vector "
            "(a probe, a steering vector, an SAE decoder row)."
        ),
        new_code_cell(
            "sae = iw.load_sae(\"4x\")\n"
            "iw.TokenHighlights.from_model(model, \"The residual stream is a shared memory.\", hook=\"blocks.0.hook_resid_post\",\n"
            "                              directions=[3, sae.W_dec[0]], names=[\"neuron 3\", \"decoder row 0 of the 4x SAE\"])"
        ),
        new_markdown_cell(
            "## 3. From plain data, with CircuitsVis' arguments\n\n"
            "`interp_widgets.tokens.colored_tokens(tokens, values)` takes the same arguments as "
            "`circuitsvis.tokens.colored_tokens`: switch by changing the import. Token strings are always shown as "
            "text, so markup in a token is harmless. `colored_tokens_multi` colours every series on one shared scale "
            "(pass `shared_scale=False` for one scale per series); the legend says which scale is shown."
        ),
        new_code_cell(
            "from interp_widgets.tokens import colored_tokens, colored_tokens_multi\n\n"
            "tokens = [\"<b>not bold</b>\", \" tab\\t\", \" new\\nline\", \" plain\"]\n"
            "colored_tokens(tokens, [0.9, -0.4, 0.1, -1.0])"
        ),
        new_code_cell(
            "colored_tokens_multi(tokens, torch.tensor([[1.0, 0.0], [0.5, 0.2], [0.0, 0.8], [-0.3, 1.0]]), labels=[\"first\", \"second\"])"
        ),
        new_markdown_cell(
            "## 4. Bad input gets a clear error\n\nA misspelt hook name, for instance, names the closest valid ones."
        ),
        new_code_cell(
            "try:\n"
            "    iw.TokenHighlights.from_model(model, \"Hello\", hook=\"blocks.0.hook_resid_pst\", directions=0)\n"
            "except iw.InterpWidgetsError as error:\n"
            "    print(error)"
        ),
        new_markdown_cell(
            "## Recap\n\n"
            "- `iw.load_model()`, `iw.load_sae(\"4x\")` — the embedded model and SAEs, offline.\n"
            "- `TokenHighlights.from_model(model, prompt, hook, directions)` — a neuron (int), a vector, or `(sae, feature)`.\n"
            "- Edit the prompt inside the widget; the kernel answers, errors show in the widget.\n"
            "- `colored_tokens` / `colored_tokens_multi` — CircuitsVis' arguments, a live widget.\n"
            "- A saved notebook keeps a static snapshot of the last view: reopened without its kernel in JupyterLab or "
            "Notebook 7, exported with `jupyter nbconvert --to html --execute`, or on GitHub, it shows that snapshot."
        ),
    ]


def sae_training() -> list:
    return [
        new_markdown_cell(
            "# Training sparse autoencoders and comparing dictionaries\n\n"
            + colab_badge("01_sae_training.ipynb") + "\n\n"
            "The seed researcher trained ReLU + L1 SAEs on Pythia-70M's `blocks.2.hook_resid_post` with dictionaries "
            "1x/2x/4x/8x the residual width. This notebook runs the same workflow, live and offline, on the **embedded "
            "model** (2 layers, d_model 256) at **`blocks.0.hook_resid_post`**, its first residual stream between "
            "the blocks: one pass of the model feeds every dictionary, a chart updates while they train, and the "
            "dictionaries are compared by max cosine similarity (MCS). Where the model hub can be reached, "
            "`iw.load_model(\"EleutherAI/pythia-70m\")` and `hook = \"blocks.2.hook_resid_post\"` give the seed's "
            "exact setting.\n\n"
            "**Arc:** activations → train four sizes at once → metrics on held-out text (with the SAE spliced into "
            "the model) → MCS histogram between sizes → look at a feature on text → save in SAELens' format."
        ),
        new_code_cell(INSTALL),
        new_code_cell(
            "import torch\n"
            "from IPython.display import display\n"
            "from pydoc_data.topics import topics  # Python's own help texts: varied technical English, on every machine\n"
            "import interp_widgets as iw\n"
            "from interp_widgets.sae import ActivationStore, ReluSAE, TopKSAE, TrainConfig, pack_texts, train_saes\n"
            "from interp_widgets.sae import compare_dictionaries, reconstruction_metrics, spliced_loss, save_sae, load_sae_from_disk\n\n"
            "model = iw.load_model()  # the embedded model, offline (iw.models.toy_model() has random weights)\n"
            "hook = \"blocks.0.hook_resid_post\"\n"
            "d_model = model.cfg.d_model"
        ),
        new_markdown_cell(
            "## 1. Activations, once\n\n"
            "The text: the 79 help topics that ship with Python (`pydoc_data`), every fifth topic held out, so the "
            "metrics below are measured on text the SAEs never saw. `ActivationStore` runs the model only up to the "
            "hook's block and caches the activations in a memory-mapped file, so all four dictionaries train from one "
            "pass. (BOS positions are left out: their activations are outliers.)"
        ),
        new_code_cell(
            "names = sorted(topics)\n"
            "held_out_names = names[::5]\n"
            "train_names = [name for name in names if name not in held_out_names]\n"
            "tokens = pack_texts(model, [topics[name] for name in train_names], context=64)\n"
            "held_out_tokens = pack_texts(model, [topics[name] for name in held_out_names], context=64)\n"
            "store = ActivationStore(model, hook, tokens, batch_size=256, cache_path=\"sae_cache/activations.npy\")\n"
            "store.build_cache()\n"
            "print(f\"training: {len(train_names)} topics, {tokens.numel():,} tokens -> {store.n_activations:,} activations of width {store.d_in}\")\n"
            "print(f\"held out: {len(held_out_names)} other topics, {held_out_tokens.numel():,} tokens\")"
        ),
        new_markdown_cell(
            "## 2. Four dictionary sizes, trained together, watched live\n\n"
            "ReLU SAEs with an L1 penalty as in the seed; decoder rows kept at unit norm; features that have not "
            "fired for `dead_after_tokens` training tokens count as dead and are resampled. The chart redraws every "
            "log step (hover for values; the L0 and NMSE axes switch to a log scale as they fall by decades), and the "
            "progress bar shows every size's numbers."
        ),
        new_code_cell(
            "sizes = [1, 2, 4, 8]\n"
            "saes = [ReluSAE(d_model, d_model * m, seed=m) for m in sizes]\n"
            "view = iw.widgets.TrainingView(sae_names=[f\"{m}x\" for m in sizes])\n"
            "display(view)\n"
            "config = TrainConfig(total_steps=300, lr=2e-3, l1_coefficient=0.08, warmup_steps=20, log_every=10,\n"
            "                     resample_every=100, dead_after_tokens=10_000)\n"
            "history = train_saes(saes, store, config, on_log=view.update)"
        ),
        new_markdown_cell(
            "## 3. How good are they, on text they never saw?\n\n"
            "On the held-out topics: explained variance and L0, the share of features that never fire on that text, "
            "and the cross-entropy of the model with each SAE spliced in at the hook, against the clean model and "
            "against zeroing the activation (CE loss recovered: 1 means nothing the model needs is lost). Beside them, "
            "from training: the share of features dead at the end, i.e. silent for the last `dead_after_tokens` "
            "training tokens — a different count over different text, so the two need not agree. These few hundred "
            "steps are a demonstration; the SAEs shipped with the model (`iw.load_sae(\"4x\")`) trained on 510k "
            "activations, and its `MODEL_CARD.md` has their numbers."
        ),
        new_code_cell(
            "held_out = ActivationStore(model, hook, held_out_tokens).sample(len(held_out_tokens))\n"
            "print(f\"{held_out.shape[0]:,} held-out activations\")\n"
            "for m, sae, log in zip(sizes, saes, history):\n"
            "    r = reconstruction_metrics(sae, held_out)\n"
            "    ce = spliced_loss(model, sae, held_out_tokens[:32])\n"
            "    print(f\"{m}x  L0 {r['l0']:6.1f}  explained variance {r['explained_variance']:.3f}  \"\n"
            "          f\"never fire on held-out text {r['dead_fraction']:6.1%}  \"\n"
            "          f\"dead at the end of training {log[-1]['dead_fraction']:6.1%}  CE recovered {ce['ce_loss_recovered']:.3f}\")"
        ),
        new_markdown_cell(
            "## 4. Which features do the sizes share?\n\n"
            "For each feature of the 2x dictionary, the largest cosine similarity of its decoder direction with any "
            "feature of the 8x one. Near 1: the bigger dictionary kept the feature; low: it split or changed it."
        ),
        new_code_cell(
            "comparison = compare_dictionaries(saes[1], saes[3])\n"
            "print(f\"MMCS 2x vs 8x: {comparison.mmcs:.3f}\")\n"
            "comparison.show(title=\"MCS of 2x features against 8x\")"
        ),
        new_markdown_cell(
            "## 5. A feature on text\n\n"
            "The most frequently active feature of the 4x dictionary, highlighted on a prompt you can edit."
        ),
        new_code_cell(
            "sae = saes[2]\n"
            "with torch.no_grad():\n"
            "    frequency = (sae.encode(held_out) > 0).float().mean(0)\n"
            "feature = int(frequency.argmax())\n"
            "iw.TokenHighlights.from_model(model, \"The residual stream is a shared memory.\", directions=[(sae, feature)])"
        ),
        new_markdown_cell("## 6. Save in SAELens' format\n\n`cfg.json` + `sae_weights.safetensors`: SAELens loads these, and we load theirs."),
        new_code_cell(
            "path = save_sae(sae, \"sae_cache/embedded_4x\")\n"
            "print(sorted(p.name for p in path.iterdir()))\n"
            "assert torch.allclose(load_sae_from_disk(path).encode(held_out), sae.encode(held_out))"
        ),
        new_markdown_cell(
            "## Recap\n\n"
            "- `ActivationStore(model, hook, tokens, cache_path=...)`: one model pass, shuffled batches.\n"
            "- `train_saes([...], store, TrainConfig(...), on_log=view.update)`: several sizes at once, live chart, checkpoints.\n"
            "- `reconstruction_metrics`, `spliced_loss`: L0, explained variance, CE loss recovered.\n"
            "- `compare_dictionaries(a, b).show()`: MCS per feature, MMCS, histogram.\n"
            "- `save_sae` / `load_sae_from_disk`: SAELens' file format."
        ),
    ]


def residual_stream() -> list:
    return [
        new_markdown_cell(
            "# The residual stream across depth\n\n"
            + colab_badge("04_residual_stream.ipynb") + "\n\n"
            "Three views of what happens between a model's input and its output, live on the deeper embedded model "
            "(6 layers, learned absolute positions, GPT-2 style):\n\n"
            "1. **Norm growth.** The residual stream's norm grows layer by layer; in GPT-2-style models roughly "
            "exponentially (\"grow by a factor X every layer\"). We fit that factor.\n"
            "2. **The logit lens.** Unembed the stream after each block as if it were the last: the prediction "
            "accumulates through the forward pass.\n"
            "3. **Attention heads.** Find the previous-token and induction heads by their scores, then look at them.\n\n"
            "4. **Learned positions.** The principal components of its position embeddings `W_pos`.\n\n"
            "Everything below is measured, not assumed: `interp_widgets/models/embedded_6l/MODEL_CARD.md` has the same "
            "numbers, including where this small model differs from GPT-2 (its norm does not grow exponentially; its "
            "positions have no helix). Where the model hub can be reached, change one line to `iw.load_model(\"gpt2\")` "
            "(12 layers) or `iw.load_model(\"EleutherAI/pythia-70m\")`."
        ),
        new_code_cell(INSTALL),
        new_code_cell(
            "import torch\n"
            "import interp_widgets as iw\n"
            "from interp_widgets.compute.residual import residual_norms, logit_lens\n"
            "from interp_widgets.compute.circuits import head_scores\n\n"
            "torch.set_grad_enabled(False)\n"
            "model = iw.load_model(\"embedded-6l\")  # or iw.load_model(\"gpt2\") where the hub can be reached\n"
            "print(model.cfg.n_layers, \"layers, d_model\", model.cfg.d_model)"
        ),
        new_markdown_cell(
            "## 1. Norm growth, and its fitted factor\n\n"
            "The L2 norm of the stream at every layer boundary (`0_pre` is the embeddings, `final_post` the "
            "output of the last block), averaged over positions with BOS left out (its norm is an outlier: tick "
            "*include BOS* to see it), on two prompts overlaid. The dashed lines are the exponential fits; the "
            "legend gives the factor per layer and the fit's R² on the log norms. The middle chart is every "
            "position of the first prompt; the right one compares what each block *writes* (attention and MLP "
            "outputs) with the stream it writes into: the seeds' \"how\" is that those outputs grow too. Type a "
            "prompt and press Enter to redraw."
        ),
        new_code_cell(
            "prompts = [\"The residual stream is a shared memory that every layer reads and writes.\",\n"
            "           \"def load(self, path):\\n    return open(path).read()\"]\n"
            "norms = iw.ResidualNorms.from_model(model, prompts, names=[\"prose\", \"code\"])\n"
            "norms"
        ),
        new_code_cell(
            "result = residual_norms(model, model.to_tokens(prompts[0]))\n"
            "fit = result.fit()\n"
            "print(\"mean norm per boundary:\", dict(zip(result.labels, result.mean().numpy().round(2))))\n"
            "print(f\"growth factor x{fit.factor:.2f} per layer, R² {fit.r2:.3f} (from {len(result.labels)} points)\")"
        ),
        new_markdown_cell(
            "Read the numbers before the story: on this model the first block lifts the norm far above the small "
            "embedding, and after that it changes little from block to block, so an exponential fits poorly (R² "
            "about 0.5). GPT-2 and Pythia, trained far longer, show the steady factor per layer; switch the model "
            "line above to see it where the hub can be reached."
        ),
        new_markdown_cell(
            "## 2. The logit lens: the prediction accumulates\n\n"
            "Each cell is the top next-token prediction read off the stream after a layer (rows; the top row is "
            "the model's own output), at each position (columns), coloured by its probability. On text that "
            "repeats, the second copy is predicted only after the induction heads (found in section 3) have "
            "written into the stream. Click a cell for its top 5; type a target token (with its leading space) to "
            "see its rank in every cell. The right column is each layer's KL divergence from the final prediction."
        ),
        new_code_cell(
            "repeated = \"The old man wrote a letter to the king about the house. The old man wrote a letter to the king about the house.\"\n"
            "lens = iw.LogitLensGrid.from_model(model, repeated, k=5, target=\" king\")\n"
            "lens"
        ),
        new_code_cell(
            "result = logit_lens(model, model.to_tokens(repeated), k=1)\n"
            "tokens = model.to_str_tokens(repeated)\n"
            "second = len(tokens) // 2 + 1  # positions in the second copy\n"
            "for label, ids, kl in zip(result.labels, result.top_ids, result.kl):\n"
            "    right = sum(int(ids[p, 0]) == int(model.to_tokens(repeated)[0, p + 1]) for p in range(second, len(tokens) - 1))\n"
            "    print(f\"{label:>10}: next token right at {right} of {len(tokens) - 1 - second} positions of the second copy; \"\n"
            "          f\"mean KL from final {float(kl.mean()):.2f} nats\")"
        ),
        new_markdown_cell(
            "## 3. Heads by their scores\n\n"
            "Scores for every head: **previous-token** (attention to the token before), **induction** (on a "
            "random block shown twice, attention to the token after the current token's earlier occurrence), "
            "**duplicate-token** (attention to the earlier occurrence itself) and attention to **BOS**. The view "
            "below shows them in a sortable table; hover a token to see where the large head attends from it, "
            "click to lock, pick another head from the thumbnails or the table."
        ),
        new_code_cell(
            "scores = head_scores(model, model.to_tokens(prompts[0]))\n"
            "for name, score in scores.items():\n"
            "    layer, head = divmod(int(score.argmax()), model.cfg.n_heads)\n"
            "    print(f\"{name:>15}: strongest head {layer}.{head} ({float(score.max()):.2f})\")"
        ),
        new_code_cell(
            "layer, head = divmod(int(scores[\"induction\"].argmax()), model.cfg.n_heads)\n"
            "iw.AttentionView.from_model(model, repeated, layer=layer, head=head)"
        ),
        new_markdown_cell(
            "From CircuitsVis, switch by changing the import: "
            "`from interp_widgets.attention import attention_heads` takes `attention_heads(attention, tokens)`."
        ),
        new_code_cell(
            "from interp_widgets.attention import attention_heads\n\n"
            "_, cache = model.run_with_cache(prompts[0])\n"
            "attention_heads(cache[\"blocks.0.attn.hook_pattern\"][0], model.to_str_tokens(prompts[0]))"
        ),
        new_markdown_cell(
            "## 4. Learned positions\n\n"
            "GPT-2-style models add a learned vector per position to the token embedding. Its principal components "
            "(position 0 set apart: it is an outlier) show what position information the model keeps: a \"how late "
            "in the sequence\" direction, a \"first token\" direction, and in GPT-2 sinusoid pairs that make a helix. "
            "A component that is mostly one sinusoid has most of its variance in one Fourier frequency."
        ),
        new_code_cell(
            "from interp_widgets.compute.circuits import position_embeddings, positional_structure\n\n"
            "structure = positional_structure(position_embeddings(model))  # W_pos [n_ctx, d_model]\n"
            "for i, (share, corr, freq, in_freq) in enumerate(zip(structure[\"variance_share\"], structure[\"position_correlation\"],\n"
            "                                                     structure[\"dominant_frequency\"], structure[\"frequency_share\"])):\n"
            "    print(f\"PC{i + 1}: {share:5.1%} of the variance, correlation with position {corr:+.2f}, \"\n"
            "          f\"{in_freq:4.0%} of it in {freq} cycle(s) over the context\")\n"
            "print(f\"position 0 lies {structure['first_token_z']:.1f} standard deviations beyond the others\")"
        ),
        new_markdown_cell(
            "Here the first component is \"how late\" (correlation near -1 with position) and position 0 stands apart; "
            "no two other components are sinusoids of a shared frequency, so this model has no helix (its card says "
            "the same). Plotted against each other, PC1 and PC2 trace an arc: position moves smoothly along a curve. "
            "The picture beside the card, `positional_components.svg`, draws both."
        ),
        new_markdown_cell(
            "## Recap\n\n"
            "- `iw.ResidualNorms.from_model(model, prompts)`: norm per layer boundary, fitted growth factor and R², "
            "per position, block outputs; overlay prompts or models.\n"
            "- `iw.LogitLensGrid.from_model(model, prompt)`: top-1 per layer and position, top-k bars, a target's rank, KL.\n"
            "- `iw.AttentionView.from_model(model, prompt)`: head thumbnails, one head large, hover and lock, head scores.\n"
            "- The maths is plain torch in `interp_widgets.compute.residual`, `.attention` and `.circuits`."
        ),
    ]


def feature_ablation() -> list:
    return [
        new_markdown_cell(
            "# Feature ablation: click a token, watch the feature drop\n\n"
            + colab_badge("02_feature_ablation.ipynb") + "\n\n"
            "The seed researcher read each SAE feature by hand: *remove each token in the context and see the effect on "
            "the feature's activation at the last token*, *directly unembed the feature direction*, and *ablate the "
            "direction and see which next tokens lose log-prob*. Here each of these is a live view on the embedded "
            "model and its SAEs, exact (each number equals a separate forward pass) and fast (the clean prefix is "
            "reused and only what a removal changes is recomputed).\n\n"
            "**Arc:** the \"previous token is ' and'\" feature → remove tokens and watch it fall → pairs → the German "
            "feature → the logit lens of a feature → ablate Title Case and see which predictions change."
        ),
        new_code_cell(INSTALL),
        new_code_cell(
            "import torch\n"
            "import interp_widgets as iw\n"
            "from interp_widgets.compute.ablation import leave_one_out, pairwise_removal\n\n"
            "torch.set_grad_enabled(False)\n"
            "model = iw.load_model()\n"
            "catalogue = {entry[\"concept\"]: entry for entry in iw.models.feature_catalogue()}\n"
            "for concept, entry in catalogue.items():\n"
            "    print(f\"{concept:<24} {entry['sae']} SAE, feature {entry['feature']:>4}  (AUROC {entry['auroc']:.2f})\")"
        ),
        new_markdown_cell(
            "## 1. The feature that fires after \" and\"\n\n"
            "The top row is the prompt coloured by the feature's activation; the target (outlined) is where it is "
            "largest. The second row is the leave-one-out map: how much the activation at the target drops when each "
            "earlier token is removed (red: removing it lowers the feature). **Click tokens in the second row** to "
            "remove them together and read the new activation; click a token in the top row to explain another "
            "position; type a feature index or a prompt and press Enter. Delete mode cuts a token out (later tokens "
            "shift left); replace mode puts another token in its place."
        ),
        new_code_cell(
            "entry = catalogue['previous token \" and\"']\n"
            "saes = {name: iw.load_sae(name) for name in [\"1x\", \"2x\", \"4x\", \"8x\"]}  # switch between them in the view\n"
            "sae = saes[entry[\"sae\"]]\n"
            "prompt = \"We bought bread and butter, salt and pepper, and fish and chips.\"\n"
            "explorer = iw.FeatureAblation.from_model(model, prompt, (entry[\"sae\"], entry[\"feature\"]), saes=saes)\n"
            "explorer"
        ),
        new_markdown_cell(
            "The same numbers in code. Removing the \" and\" itself should matter most; the word before it less."
        ),
        new_code_cell(
            "hook = \"blocks.0.hook_resid_post\"\n"
            "single = leave_one_out(model, prompt, hook, (sae, entry[\"feature\"]))\n"
            "print(f\"activation at {single.tokens[single.target]!r} (position {single.target}): {single.clean:.2f}\")\n"
            "for position in (single.effect[1:single.target].argsort()[:4] + 1).tolist():\n"
            "    print(f\"  removing {position:>2} {single.tokens[position]!r:>10}: {float(single.effect[position]):+.2f}\")\n"
            "explorer.toggle(single.target - 1)  # what a click does\n"
            "print(\"with the token before the target removed:\", round(explorer.removed_value, 2))"
        ),
        new_markdown_cell(
            "## 2. Pairs: (A or B) … C\n\n"
            "Single removals miss a feature that fires if *either* of two tokens is there. The pairs panel removes "
            "every pair among the most important single tokens and reports the interaction: the joint drop minus the "
            "two single drops. A large positive interaction is an OR (each alone hardly matters, both together do); a "
            "negative one means the two are redundant the other way. Printed here for the explorer's target:"
        ),
        new_code_cell(
            "pairs = pairwise_removal(model, prompt, hook, (sae, entry[\"feature\"]), top_k=5, single=single)\n"
            "k = len(pairs.positions)\n"
            "ranked = sorted(((i, j) for i in range(k) for j in range(i + 1, k)), key=lambda ij: -abs(float(pairs.interaction[ij])))\n"
            "for i, j in ranked[:5]:\n"
            "    a, b = pairs.positions[i], pairs.positions[j]\n"
            "    print(f\"{single.tokens[a]!r:>8}@{a:<2} + {single.tokens[b]!r:>8}@{b:<2} joint {float(pairs.joint[i, j]):+.2f}  \"\n"
            "          f\"alone {float(pairs.single[i]):+.2f} / {float(pairs.single[j]):+.2f}  interaction {float(pairs.interaction[i, j]):+.2f}\")"
        ),
        new_markdown_cell(
            "In this small model the interactions are small next to the single drops: this feature reads mostly the "
            "one token before it, so no pair matters much more than its parts. A feature with an OR in it would show "
            "a large interaction here.\n\n"
            "## 3. The German feature\n\n"
            "Which earlier tokens keep a German-text feature on? Switch the explorer to it by typing its index, or "
            "build another view:"
        ),
        new_code_cell(
            "german = catalogue[\"German text\"]\n"
            "iw.FeatureAblation.from_model(model, \"Der Hund schläft und die Katze spielt im Garten.\",\n"
            "                              (iw.load_sae(german[\"sae\"]), german[\"feature\"]), name=german[\"sae\"])"
        ),
        new_markdown_cell(
            "## 4. The logit lens of a feature\n\n"
            "Unembed the feature's decoder direction: which next tokens does it push up, which down? The final "
            "LayerNorm's centring and scale are applied (the caption says so). Tick *leave out outlier-norm tokens* "
            "to drop tokens whose unembedding column has an outlier norm (the seed: \"I subtract out several high "
            "norm tokens\"); the view lists what it left out. Click a bar to see where in the prompt the model "
            "predicts that token."
        ),
        new_code_cell(
            "iw.LogitLensBars.from_model(model, (iw.load_sae(german[\"sae\"]), german[\"feature\"]), name=german[\"sae\"],\n"
            "                            prompt=\"Der Hund schläft und die Katze spielt im Garten.\", k=8)"
        ),
        new_markdown_cell(
            "## 5. Ablate a direction: Title Case\n\n"
            "Remove the Title Case feature's contribution (its activation times its decoder row) at every position and "
            "compare each actual next token's log-prob with the clean run. Red tokens became less likely without the "
            "feature. On a 2-layer model the changes are modest; the list gives the largest ones as measured."
        ),
        new_code_cell(
            "title_case = catalogue[\"Title Case\"]\n"
            "ablation = iw.DirectionAblation.from_model(model, \"The Hound Of The Baskervilles and The Lord Of The Rings are books.\",\n"
            "                                            (iw.load_sae(title_case[\"sae\"]), title_case[\"feature\"]), name=title_case[\"sae\"])\n"
            "ablation"
        ),
        new_markdown_cell(
            "The seed saw \" Of\" lose log-prob when it ablated its Title Case direction in Pythia-70M. Here, the change at "
            "each \" Of\" of the prompt, as measured on this model:"
        ),
        new_code_cell(
            "from interp_widgets.compute.direction_ablation import direction_ablation\n\n"
            "result = direction_ablation(model, ablation.prompt, \"blocks.0.hook_resid_post\",\n"
            "                            (iw.load_sae(title_case[\"sae\"]), title_case[\"feature\"]))\n"
            "for position, token in enumerate(result.tokens[1:], start=1):\n"
            "    if token == \" Of\":\n"
            "        print(f\"' Of' at {position}: log-prob {float(result.clean[position - 1]):.2f} -> {float(result.ablated[position - 1]):.2f}\")"
        ),
        new_markdown_cell(
            "On this 2-layer model the change at \" Of\" is a few hundredths of a nat, far from the 4 nats the seed saw in "
            "Pythia-70M: the embedded model's Title Case feature (AUROC 0.80 in its catalogue) does little for the next "
            "token here. The view and the code are the same for a model where it does."
        ),
        new_markdown_cell(
            "## Recap\n\n"
            "- `iw.FeatureAblation.from_model(model, prompt, (sae, index))`: activation, leave-one-out map, click to "
            "remove tokens together, pairs; delete or replace mode.\n"
            "- `iw.LogitLensBars.from_model(model, (sae, index))`: top/bottom tokens of the direction, outlier filter, where "
            "the prompt predicts a token.\n"
            "- `iw.DirectionAblation.from_model(model, prompt, (sae, index))`: log-prob change of every next token.\n"
            "- The maths is plain torch: `interp_widgets.compute.ablation`, `.direction_ablation`, `.feature_logit_lens`."
        ),
    ]


def patching() -> list:
    return [
        new_markdown_cell(
            "# Activation patching, in both directions\n\n"
            + colab_badge("03_patching.ipynb") + "\n\n"
            "Two prompts that differ in one detail: the *clean* one the model gets right, the *corrupt* one it does not. "
            "Patching copies one activation from one run into the other and watches the answer:\n\n"
            "- **denoising**: a clean activation into the corrupt run. Cells that bring the answer back carry the "
            "information (they are *sufficient*).\n"
            "- **noising**: a corrupt activation into the clean run. Cells that break the answer are *necessary*.\n\n"
            "The seeds: *imagine an AND circuit where the result is only correct if two attention heads are clean. If "
            "you patch clean→corrupt you will not find this; but you do if you patch corrupt→clean. The opposite "
            "applies for an OR circuit … really you should check both.* So every view here shows both, on one colour "
            "scale centred on zero.\n\n"
            "**Arc:** a docstring pair the embedded model solves → check the corruption → both maps, live → heads → "
            "attribution patching as a fast first look, checked against exact patching → an IOI pair on the deeper "
            "embedded model, which solves it, and the heads that carry the answer."
        ),
        new_code_cell(INSTALL),
        new_code_cell(
            "import torch\n"
            "import interp_widgets as iw\n"
            "from interp_widgets.compute import tasks\n"
            "from interp_widgets.compute.patching import attribution_patch, patch\n\n"
            "torch.set_grad_enabled(False)\n"
            "model = iw.load_model()"
        ),
        new_markdown_cell(
            "## 1. A pair the model solves: the docstring task\n\n"
            "After two `:param` lines the model should name the third argument of the signature. The corrupt prompt "
            "renames that argument in the signature only, so the answer can come from nowhere else. Both prompts must "
            "have the same number of tokens; `differing_positions` says where they differ (and names the first "
            "difference when the lengths do not match)."
        ),
        new_code_cell(
            "pair = tasks.docstring_pair(model)\n"
            "print(pair.clean)\n"
            "print(\"answer\", repr(pair.answer), \"vs\", repr(pair.wrong))\n"
            "changed = tasks.differing_positions(model, pair.clean, pair.corrupt)\n"
            "print(\"differs at\", changed, [model.to_str_tokens(pair.clean)[p] for p in changed], \"->\",\n"
            "      [model.to_str_tokens(pair.corrupt)[p] for p in changed])"
        ),
        new_markdown_cell(
            "The corruption should not bring in a token the model treats specially (the seeds replaced `param` with "
            "`arg`, and `param` turned out to be special). `special_token_warnings` flags a replacement whose "
            "embedding norm is an outlier or that draws outlying attention; `suggest_replacements` lists single tokens "
            "of the same shape, so the length stays."
        ),
        new_code_cell(
            "print(\"warnings:\", tasks.special_token_warnings(model, pair.corrupt, changed) or \"none\")\n"
            "print(\"other single-token replacements:\", tasks.suggest_replacements(model, pair.clean, changed[0], k=8))"
        ),
        new_markdown_cell(
            "## 2. Both directions, live\n\n"
            "Left: denoising (clean into corrupt; orange where the patch restores the answer). Right: noising (corrupt "
            "into clean; blue where it breaks it). Each colour is the change the patch makes, as a fraction of the "
            "clean−corrupt gap in the logit difference. Hover a cell for its value, click it for that run's top "
            "predictions, change the component, or edit either prompt and press Enter."
        ),
        new_code_cell(
            "view = iw.PatchingView.from_model(model, pair.clean, pair.corrupt, pair.metric)\n"
            "view"
        ),
        new_markdown_cell(
            "The same numbers in code, for the residual stream. In this 2-layer model the difference stays at the "
            "changed position through the input of both blocks (patching it there restores, or breaks, everything); "
            "patching the last position's stream does nothing yet: the last block's attention heads are what carry the "
            "argument name to the last position (section 3)."
        ),
        new_code_cell(
            "for direction in (\"denoise\", \"noise\"):\n"
            "    result = patch(model, pair.clean, pair.corrupt, pair.metric, \"resid_pre\", direction)\n"
            "    norm = result.normalised\n"
            "    print(direction, \"(1 = behaves like the clean run, 0 = like the corrupt run)\")\n"
            "    for layer in range(model.cfg.n_layers):\n"
            "        print(f\"  layer {layer}: at the changed position {float(norm[layer, changed[0]]):+.2f}, \"\n"
            "              f\"at the last position {float(norm[layer, -1]):+.2f}\")"
        ),
        new_markdown_cell(
            "## 3. Heads\n\n"
            "`head_out` patches one head's output at every position; `head_out_by_pos` one head at one position. "
            "Switch the view's component, or:"
        ),
        new_code_cell(
            "heads = {d: patch(model, pair.clean, pair.corrupt, pair.metric, \"head_out\", d).normalised for d in (\"denoise\", \"noise\")}\n"
            "for layer in range(model.cfg.n_layers):\n"
            "    print(f\"layer {layer}  denoise\", [round(float(v), 2) for v in heads[\"denoise\"][layer]],\n"
            "          \" noise\", [round(float(v), 2) for v in heads[\"noise\"][layer]])"
        ),
        new_markdown_cell(
            "## 4. Attribution patching: a fast first look\n\n"
            "One forward pass of each run and one backward pass estimate every cell at once (a first-order Taylor "
            "expansion of the metric in the patched activation). Cheap, but only as good as the metric is linear: "
            "check it against exact patching before trusting it. Here, its correlation with exact patching over all "
            "cells, for each component:"
        ),
        new_code_cell(
            "torch.set_grad_enabled(True)  # attribution needs gradients (it turns them on for itself too)\n"
            "for component in (\"resid_pre\", \"attn_out\", \"mlp_out\", \"head_out\"):\n"
            "    estimate = attribution_patch(model, pair.clean, pair.corrupt, pair.metric, component, \"denoise\").values.flatten()\n"
            "    exact = patch(model, pair.clean, pair.corrupt, pair.metric, component, \"denoise\").values.flatten()\n"
            "    r = float(torch.corrcoef(torch.stack([estimate, exact]))[0, 1])\n"
            "    print(f\"{component:<10} correlation with exact patching over {exact.numel()} cells: {r:.2f}\")\n"
            "torch.set_grad_enabled(False)"
        ),
        new_markdown_cell(
            "Where the correlation is low, use the estimate only to pick cells, then patch those exactly "
            "(`patch(..., cells=[(layer, position), ...])`). The view does the same: with *attribution* chosen it draws "
            "the estimate, and a click on a cell patches that one exactly (the panel below the maps says so)."
        ),
        new_code_cell(
            "iw.PatchingView.from_model(model, pair.clean, pair.corrupt, pair.metric, component=\"head_out_by_pos\", method=\"attribution\")"
        ),
        new_markdown_cell(
            "## 5. An IOI pair, on the deeper model\n\n"
            "\"When Mary and John went to the store, John gave a drink to\" → \" Mary\". The 2-layer model does not do "
            "this task (its model card: 52 %, chance is 50 %), so its IOI patching maps would be noise. The 6-layer "
            "embedded model does (91 % on names it never saw in that role), so we patch there. `ioi_pair` builds a pair "
            "from names that are one token in this tokenizer; the corruption makes the indirect object the giver, "
            "which flips the answer."
        ),
        new_code_cell(
            "deeper = iw.load_model(\"embedded-6l\")\n"
            "ioi = tasks.ioi_pair(deeper, seed=0)\n"
            "print(ioi.clean, \"->\", repr(ioi.answer))\n"
            "result = patch(deeper, ioi.clean, ioi.corrupt, ioi.metric, \"resid_pre\", \"denoise\")\n"
            "print(f\"logit difference {ioi.answer!r} - {ioi.wrong!r}: clean {result.clean:+.2f}, corrupt {result.corrupt:+.2f}\")\n"
            "iw.PatchingView.from_model(deeper, ioi.clean, ioi.corrupt, ioi.metric, component=\"resid_pre\")"
        ),
        new_markdown_cell(
            "Read the denoising map row by row: in the first layers only the second mention of the subject matters "
            "(that is where the two prompts differ); a few layers later the whole effect sits at the last position. "
            "Heads between those layers carried it across. The head map names them:"
        ),
        new_code_cell(
            "heads = patch(deeper, ioi.clean, ioi.corrupt, ioi.metric, \"head_out\", \"denoise\")\n"
            "values = heads.normalised  # 1: behaves like the clean run, 0: like the corrupt one\n"
            "top = values.flatten().topk(4).indices\n"
            "for index in top.tolist():\n"
            "    layer, head = divmod(index, deeper.cfg.n_heads)\n"
            "    print(f\"head {layer}.{head}: restores {float(values[layer, head]):.0%} of the logit difference\")"
        ),
        new_markdown_cell(
            "## Recap\n\n"
            "- `iw.PatchingView.from_model(model, clean, corrupt, (answer, wrong))`: both directions, one scale, click "
            "for a run's predictions, component and prompts editable.\n"
            "- `interp_widgets.compute.patching`: `patch` (equal to transformer-lens' `get_act_patch_*`, many patches "
            "per forward, each recomputing only from its layer and position on), `attribution_patch`, `patched_logits`.\n"
            "- `interp_widgets.compute.tasks`: `docstring_pair`, `ioi_pair`, `differing_positions`, `suggest_replacements`, "
            "`special_token_warnings`."
        ),
    ]


def dashboards() -> list:
    return [
        new_markdown_cell(
            "# Feature dashboards, a feature browser, and linked views\n\n"
            + colab_badge("05_feature_dashboards.ipynb") + "\n\n"
            "The seed researcher read each feature through its max-activating examples, *uniform examples* (\"separate "
            "feature activations into bins & sample from each bin\"), the logit lens, and then the ablated text at a "
            "chosen example. Other tools make such dashboards for a whole SAE in a batch job and ship static HTML; here "
            "one feature's dashboard is computed on demand from an activation index, and every view is linked: pick a "
            "feature or an example in any view and the others follow.\n\n"
            "**Arc:** one selection → the browser (search by token, by prompt) → the dashboard → click a row, then an "
            "example: the highlights and the ablation explorer follow → how the index grows."
        ),
        new_code_cell(INSTALL),
        new_code_cell(
            "import torch\n"
            "import interp_widgets as iw\n\n"
            "torch.set_grad_enabled(False)\n"
            "model = iw.load_model()\n"
            "saes = {name: iw.load_sae(name) for name in [\"1x\", \"4x\"]}\n"
            "selection = iw.Selection(model, saes, sae=\"4x\", feature=495, prompt=\"We bought bread and butter, salt and pepper.\")"
        ),
        new_markdown_cell(
            "## 1. The browser\n\n"
            "Every feature of the selected SAE: density (the fraction of held-out tokens where it fires), maximum "
            "activation, top tokens, and the maximum cosine similarity of its decoder direction to the 1x dictionary. "
            "Click a column header to sort, type in the filter box, search by a token (`\" and\"`) or by a prompt. "
            "**Click a row**: every linked view below moves to that feature. The first view builds the activation "
            "index (one pass of the model up to the SAE's layer over the corpus's held-out split; a progress line "
            "shows while it runs)."
        ),
        new_code_cell(
            "browser = iw.FeatureBrowser.from_selection(selection, compare_to=saes[\"1x\"], compare_label=\"to 1x\")\n"
            "browser"
        ),
        new_markdown_cell(
            "## 2. The dashboard\n\n"
            "Top activations, examples from equal-width activation bins (with each bin's count, so weak firings are read "
            "too), the histogram, the tokens it fires on most (mean activation over every occurrence of the token) and "
            "its logit lens. Type another feature index, or widen the context. **Click an example**: it opens in the "
            "ablation explorer below with that token as the target."
        ),
        new_code_cell("iw.FeatureDashboard.from_selection(selection)"),
        new_markdown_cell("## 3. Views that follow the selection"),
        new_code_cell("iw.TokenHighlights.from_selection(selection)"),
        new_code_cell("iw.FeatureAblation.from_selection(selection)"),
        new_code_cell("iw.LogitLensBars.from_selection(selection)"),
        new_markdown_cell(
            "The same moves in code: `selection.choose(...)` publishes a choice to every view at once."
        ),
        new_code_cell(
            "browser.search_token(\" and\")\n"
            "best = browser.results[0][0]\n"
            "print(\"feature that fires most on ' and':\", best)\n"
            "selection.choose(feature=best)  # every view above now shows it"
        ),
        new_markdown_cell(
            "## 4. The index, and where it stops fitting\n\n"
            "The index keeps every nonzero SAE code (12 bytes each: position and value) plus the tokens: about "
            "`tokens x L0 x 12` bytes, L0 being the SAE's mean number of active features per token. Any feature's "
            "dashboard is then a slice of it; searches are one pass over it."
        ),
        new_code_cell(
            "index = selection.index()\n"
            "l0 = index.positions.numel() / index.n_tokens\n"
            "print(f\"{index.n_tokens:,} tokens, L0 {l0:.0f}, {index.positions.numel():,} nonzero codes, {index.nbytes / 1e6:.1f} MB\")\n"
            "for tokens in (1e6, 1e8):\n"
            "    print(f\"  {tokens:,.0f} tokens at this L0: about {tokens * l0 * 12 / 1e9:.1f} GB\")"
        ),
        new_markdown_cell(
            "Past a machine's memory, `index.save(folder)` writes the arrays and `ActivationIndex.load(folder, mmap=True)` "
            "maps them from disk; `selection.set_index(name, index)` uses an index built over your own texts "
            "(`build_index(model, sae, texts=[...])`).\n\n"
            "## Recap\n\n"
            "- `iw.Selection(model, saes, sae=..., feature=..., prompt=...)`: the one shared choice.\n"
            "- `iw.FeatureBrowser.from_selection`, `iw.FeatureDashboard.from_selection`, and `from_selection` on "
            "`TokenHighlights`, `FeatureAblation`, `LogitLensBars`, `DirectionAblation`.\n"
            "- The maths: `interp_widgets.compute.feature_index` (`build_index`) and `.dashboard` (`feature_dashboard`, "
            "`feature_table`, `features_on_token`, `features_on_prompt`)."
        ),
    ]


NOTEBOOKS = {"00_quickstart.ipynb": quickstart, "01_sae_training.ipynb": sae_training, "02_feature_ablation.ipynb": feature_ablation, "03_patching.ipynb": patching, "04_residual_stream.ipynb": residual_stream, "05_feature_dashboards.ipynb": dashboards}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        built = cells()
        for index, cell in enumerate(built):
            cell.id = f"cell-{index:02d}"  # stable ids keep diffs to what changed
        notebook = new_notebook(cells=built, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        })
        Path(__file__).with_name(name).write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
