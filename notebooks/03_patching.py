# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Activation patching, in both directions
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/03_patching.ipynb)
#
# Two prompts that differ in one detail: the *clean* one the model gets right, the *corrupt* one it does not. Patching copies one activation from one run into the other and watches the answer:
#
# - **denoising**: a clean activation into the corrupt run. Cells that bring the answer back carry the information (they are *sufficient*).
# - **noising**: a corrupt activation into the clean run. Cells that break the answer are *necessary*.
#
# The seeds: *imagine an AND circuit where the result is only correct if two attention heads are clean. If you patch clean→corrupt you will not find this; but you do if you patch corrupt→clean. The opposite applies for an OR circuit … really you should check both.* So every view here shows both, on one colour scale centred on zero.
#
# **Arc:** a docstring pair the embedded model solves → check the corruption → both maps, live → heads → attribution patching as a fast first look, checked against exact patching → an IOI pair on the deeper embedded model, which solves it, and the heads that carry the answer → the same task on sentence shapes it never saw, where it fails: check generalisation before reading a circuit.

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
from interp_widgets.compute.patching import tasks
from interp_widgets.compute.patching.activation import attribution_patch, patch
torch.set_grad_enabled(False)
model = iw.load_model()

# %% [markdown]
# ## 1. A pair the model solves: the docstring task
#
# After two `:param` lines the model should name the third argument of the signature. The corrupt prompt renames that argument in the signature only, so the answer can come from nowhere else. Both prompts must have the same number of tokens; `differing_positions` says where they differ (and names the first difference when the lengths do not match).

# %%
pair = tasks.docstring_pair(model)
print(pair.clean)
print("answer", repr(pair.answer), "vs", repr(pair.wrong))
changed = tasks.differing_positions(model, pair.clean, pair.corrupt)
print("differs at", changed, [model.to_str_tokens(pair.clean)[p] for p in changed], "->",
      [model.to_str_tokens(pair.corrupt)[p] for p in changed])

# %% [markdown]
# The corruption should not bring in a token the model treats specially (the seeds replaced `param` with `arg`, and `param` turned out to be special). `special_token_warnings` flags a replacement whose embedding norm is an outlier or that draws outlying attention; `suggest_replacements` lists single tokens of the same shape, so the length stays.

# %%
print("warnings:", tasks.special_token_warnings(model, pair.corrupt, changed) or "none")
print("other single-token replacements:", tasks.suggest_replacements(model, pair.clean, changed[0], k=8))

# %% [markdown]
# ## 2. Both directions, live
#
# The two maps, one above the other: first denoising (clean into corrupt; orange where the patch restores the answer), then noising (corrupt into clean; blue where it breaks it). Rows are layers (`L3`) or, for heads, layer and head (`L3H1`); the colour bar under each map gives the scale. Each colour is the change the patch makes, as a fraction of the clean−corrupt gap in the logit difference. Hover a cell for its value, click it for that run's top predictions, change the component, or edit either prompt and press Enter.

# %%
view = iw.PatchingView.from_model(model, pair.clean, pair.corrupt, pair.metric)
view

# %% [markdown]
# The same numbers in code, for the residual stream, on the view's scale: the change the patch makes as a fraction of the clean−corrupt gap, so denoising +1 = the clean answer fully restored, noising −1 = fully broken (0 = no effect either way). `result.normalised` is the other common scale (1 = behaves like the clean run, 0 = like the corrupt one): a noising cell of −1 here is 0 there. In this 2-layer model the difference stays at the changed position through the input of both blocks (patching it there restores, or breaks, everything); patching the last position's stream does nothing yet: the last block's attention heads are what carry the argument name to the last position (section 3).

# %%
for direction in ("denoise", "noise"):
    result = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", direction)
    norm = result.normalised if direction == "denoise" else result.normalised - 1  # the view's scale (see above)
    print(direction, "(change as a fraction of the clean-corrupt gap: +1 fully restores, -1 fully breaks)")
    for layer in range(model.cfg.n_layers):
        print(f"  layer {layer}: at the changed position {float(norm[layer, changed[0]]):+.2f}, "
              f"at the last position {float(norm[layer, -1]):+.2f}")

# %% [markdown]
# ## 3. Heads
#
# `head_out` patches one head's output at every position; `head_out_by_pos` one head at one position. Switch the view's component, or:

# %%
heads = {d: patch(model, pair.clean, pair.corrupt, pair.metric, "head_out", d).normalised - float(d == "noise") for d in ("denoise", "noise")}
print("(the view's scale: denoising +1 restores the clean answer, noising -1 breaks it)")
for layer in range(model.cfg.n_layers):
    print(f"layer {layer}  denoise", [round(float(v), 2) for v in heads["denoise"][layer]],
          " noise", [round(float(v), 2) for v in heads["noise"][layer]])

# %% [markdown]
# ## 4. Attribution patching: a fast first look
#
# One forward pass of each run and one backward pass (`attribution_patch` turns gradients on for itself) estimate every cell at once (a first-order Taylor expansion of the metric in the patched activation). Cheap, but only as good as the metric is linear: check it against exact patching before trusting it. Here, its correlation with exact patching over all cells, for each component:

# %%
for component in ("resid_pre", "attn_out", "mlp_out", "head_out"):
    estimate = attribution_patch(model, pair.clean, pair.corrupt, pair.metric, component, "denoise").values.flatten()
    exact = patch(model, pair.clean, pair.corrupt, pair.metric, component, "denoise").values.flatten()
    r = float(torch.corrcoef(torch.stack([estimate, exact]))[0, 1])
    print(f"{component:<10} correlation with exact patching over {exact.numel()} cells: {r:.2f}")

# %% [markdown]
# Where the correlation is low, use the estimate only to pick cells, then patch those exactly (`patch(..., cells=[(layer, position), ...])`). The view does the same: with *attribution* chosen it draws the estimate, and a click on a cell patches that one exactly (the panel below the maps says so).

# %%
iw.PatchingView.from_model(model, pair.clean, pair.corrupt, pair.metric, component="head_out_by_pos", method="attribution")

# %% [markdown]
# ## 5. An IOI pair, on the deeper model
#
# "When Mary and John went to the store, John gave a drink to" → " Mary". The 2-layer model does not do this task (the first line below: about chance, one right name in two), so its IOI patching maps would be noise. The 6-layer embedded model does, on the four sentence shapes it was trained on (section 6 measures it: 91 % with names it never saw in that role), so we patch there; section 6 asks whether that holds on other shapes. `ioi_pair` builds a pair from names that are one token in this tokenizer; the corruption makes the indirect object the giver, which flips the answer.

# %%
from interp_widgets.compute.patching.task_accuracy import IOI_HELDOUT_NAMES, IOI_HELDOUT_TEMPLATES, ioi_accuracy
shallow = ioi_accuracy(model, n=200, seed=0)
print(f"2-layer model on IOI (200 sentences of its training shapes): {shallow['accuracy']:.0%} right")
deeper = iw.load_model("embedded-6l")
ioi = tasks.ioi_pair(deeper, seed=0)
print(ioi.clean, "->", repr(ioi.answer))
result = patch(deeper, ioi.clean, ioi.corrupt, ioi.metric, "resid_pre", "denoise")
print(f"logit difference {ioi.answer!r} - {ioi.wrong!r}: clean {result.clean:+.2f}, corrupt {result.corrupt:+.2f}")
iw.PatchingView.from_model(deeper, ioi.clean, ioi.corrupt, ioi.metric, component="resid_pre")

# %% [markdown]
# Read the denoising map row by row: in the first layers only the second mention of the subject matters (that is where the two prompts differ); a few layers later the whole effect sits at the last position. Heads between those layers carried it across. The head map names them:

# %%
heads = patch(deeper, ioi.clean, ioi.corrupt, ioi.metric, "head_out", "denoise")
values = heads.normalised  # 1: behaves like the clean run, 0: like the corrupt one
top = values.flatten().topk(4).indices
for index in top.tolist():
    layer, head = divmod(index, deeper.cfg.n_heads)
    print(f"head L{layer}H{head}: restores {float(values[layer, head]):.0%} of the logit difference")

# %% [markdown]
# ## 6. Does it generalise? Sentence shapes the model never saw
#
# A circuit read off one template may be a template detector. `circuits.IOI_HELDOUT_TEMPLATES` holds ten sentence shapes, and `IOI_HELDOUT_NAMES` eighteen names, that the model's synthetic training text can never write ("While Oscar and Nora were cooking dinner, Nora passed the salt to"; a test checks the generator against them). Measure the task on both:

# %%
seen = ioi_accuracy(deeper, n=200, seed=0)
unseen = ioi_accuracy(deeper, n=200, seed=0, templates=IOI_HELDOUT_TEMPLATES, names=IOI_HELDOUT_NAMES)
print(f"training shapes, unseen names: {seen['accuracy']:.0%} (logit difference {seen['logit_diff']:+.2f})")
print(f"held-out shapes and names:     {unseen['accuracy']:.0%} (logit difference {unseen['logit_diff']:+.2f})")

# %% [markdown]
# On its four training shapes the model is right almost every time; on new shapes it is no better than chance (42 % of these 200, with two names to choose from) and its mean logit difference is below zero: it leans towards the repeated name. What section 5 found is how this model handles *its templates*, not a general rule — GPT-2 small, by contrast, solves IOI across sentence shapes. A pair in a held-out shape shows what that does to patching:

# %%
held_out = tasks.ioi_pair(deeper, seed=0, templates=IOI_HELDOUT_TEMPLATES)
unseen_pair = patch(deeper, held_out.clean, held_out.corrupt, held_out.metric, "resid_pre", "denoise")
print(held_out.clean, "->", repr(held_out.answer))
print(f"logit difference {held_out.answer!r} - {held_out.wrong!r}: clean {unseen_pair.clean:+.2f}, corrupt {unseen_pair.corrupt:+.2f}")

# %% [markdown]
# The clean run does not prefer the right name by more than the corrupt run does, so there is no gap for a patch to restore and the map would be noise. **Check the behaviour on held-out prompts before reading a circuit off a pair.** `scripts/embedded/recipe6_ioi.sh` fine-tunes the model on procedurally varied IOI sentences (`scripts/embedded/ioi.py`); the model card says how far that got.

# %% [markdown]
# ## Recap
#
# - `iw.PatchingView.from_model(model, clean, corrupt, (answer, wrong))`: both directions, one scale, click for a run's predictions, component and prompts editable.
# - `interp_widgets.compute.patching`: `patch` (equal to transformer-lens' `get_act_patch_*`, many patches per forward, each recomputing only from its layer and position on), `attribution_patch`, `patched_logits`.
# - `interp_widgets.compute.patching.tasks`: `docstring_pair`, `ioi_pair`, `differing_positions`, `suggest_replacements`, `special_token_warnings`.

# %% [markdown]
# The numbers the text above quotes, in one line (`tests/notebooks/test_curriculum.py` checks each claim against it, and the README's IOI figures against these):

# %%
import json

print("numbers:", json.dumps({"ioi_2l": shallow["accuracy"], "ioi_seen": seen["accuracy"], "ioi_heldout": unseen["accuracy"],
                              "ioi_heldout_logit_diff": unseen["logit_diff"], "heldout_pair_gap": unseen_pair.clean - unseen_pair.corrupt}))
