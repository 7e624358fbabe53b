# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Circuit discovery: edge attribution patching, checked exactly
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/09_circuit_discovery.ipynb)
#
# `03_patching` found the heads of the docstring task by hand, one patch per cell. The primer: manual circuit analysis does not scale, *we want to automate the process*. Here the whole model is a graph: every head and MLP writes into the residual stream and every head's query, key and value inputs, every MLP and the logits read from it, one **edge** per (writer, reader) pair (3,628 edges on the 6-layer model, 32,491 on GPT-2 small). Three steps:
#
# 1. **Score every edge at once** with edge attribution patching (EAP: one clean run, one corrupt run, one backward pass) or EAP-IG (the gradient averaged along the path from the corrupt input to the clean one).
# 2. **Keep the top edges** (by score, or greedily so the circuit stays connected) and patch everything else to the corrupt run, **exactly**: how much of the clean − corrupt gap does the circuit recover? (the faithfulness curve; the whole graph recovers 1, the empty one 0).
# 3. **Check single edges exactly** where it matters, and compare with what patching found by hand.
#
# **Arc:** the docstring circuit on the 6-layer model → estimates against exact effects → the faithfulness curve → the same heads `03_patching` found → the induction circuit on the 2-layer model, read as a previous-token head feeding induction heads' keys → exercise.

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
from interp_widgets.compute import circuits
from interp_widgets.compute.patching import tasks
torch.set_grad_enabled(False)  # the circuit functions turn gradients on for their own backward pass
deeper = iw.load_model("embedded-6l")

# %% [markdown]
# ## 1. Score every edge of the docstring task
#
# Four docstring pairs (the next `:param` should name the signature's third argument; the corrupt prompt renames it in the signature only). The metric is the logit difference of the answer and the wrong name, one number per pair. A score is the estimated change of the metric when that one edge is restored from the clean run into the corrupt one (transformer-lens' sign convention): positive edges carry the answer.

# %%
pairs = [tasks.docstring_pair(deeper, seed=seed) for seed in range(4)]
run = circuits.prepare(deeper, pairs)  # the clean and corrupt runs, shared by everything below
eap = circuits.edge_attribution(deeper, pairs, prepared=run)
ig = circuits.edge_attribution(deeper, pairs, ig_steps=8, prepared=run)
print(ig.to_text(8))

# %% [markdown]
# ## 2. Estimates against exact effects
#
# EAP is a first-order estimate. For the top edges, patch each one alone exactly (`edge_effects`: the receiver's input rebuilt with the sender's clean value, everything else as in the corrupt run) and compare: EAP-IG's path average sees the metric bend where one gradient does not.

# %%
top = ig.top(6)
exact = circuits.edge_effects(deeper, pairs, [(u, v) for u, v, _ in top], prepared=run)
for (u, v, score), effect in zip(top, exact):
    print(f"{u.name:>6} -> {v.name:<9} EAP {eap.score(u, v):+6.2f}   EAP-IG {score:+6.2f}   exact {float(effect):+6.2f}")

# %% [markdown]
# ## 3. How many edges does the circuit need?
#
# Keep the top k edges, patch every other edge to its corrupt value, and measure the metric exactly; every point of the curve is a real run (many per forward pass). Greedy selection grows the circuit from the logits backwards, so every kept edge feeds something already kept.

# %%
sizes = [10, 30, 100, 300]
for name, scores, selection in (("EAP, top-n", eap, "top_n"), ("EAP-IG, top-n", ig, "top_n"), ("EAP-IG, greedy", ig, "greedy")):
    curve = circuits.faithfulness_curve(deeper, pairs, scores, sizes=sizes, selection=selection, prepared=run)
    print(f"{name:<15}", "  ".join(f"{k} edges: {float(r):.2f}" for k, r in zip(sizes, curve.recovered)))
full = circuits.faithfulness_curve(deeper, pairs, ig, sizes=[0, ig.graph.n_edges], prepared=run).recovered
print(f"empty graph {float(full[0]):.2f}, all {ig.graph.n_edges} edges {float(full[1]):.2f}")

# %% [markdown]
# The view draws it: heads and MLPs by layer, orange edges raise the metric and blue ones lower it, wider the larger the score. Move the slider beside the curve to draw more or fewer edges; click an edge (or a row of the list) for its exact patch effect; hover a head for its attention pattern; edit the pair and press Enter. Linked to a `Selection`, it shares its clean prompt and the hovered head with an attention view, which then shows that head (`iw.explore` has it as the *Circuit* tab).

# %%
iw.CircuitView.from_model(deeper, pairs[0])

# %% [markdown]
# ## 4. The same heads `03_patching` found by hand
#
# `03_patching` §3 patched each head's output and read which ones restore the answer. A head's node score here is the sum of its outgoing edges' scores. The two rankings should name the same heads:

# %%
from interp_widgets.compute.patching.activation import patch

node = ig.node_scores()
by_circuit = [n.name for n, _ in sorted(((n, v) for n, v in node.items() if n.kind == "attn_head_out"), key=lambda item: -item[1])[:4]]
restored = patch(deeper, pairs[0].clean, pairs[0].corrupt, pairs[0].metric, "head_out", "denoise").normalised  # [layer, head]
order = restored.flatten().argsort(descending=True)[:4].tolist()
by_patching = [f"a{i // deeper.cfg.n_heads}.h{i % deeper.cfg.n_heads}" for i in order]
print("circuit's top heads:  ", by_circuit)
print("patching's top heads: ", by_patching, "(restoring", [f"{float(restored.flatten()[i]):.0%}" for i in order], "each)")
print("shared:", sorted(set(by_circuit) & set(by_patching)))

# %% [markdown]
# Both name heads of layers 4 and 5 that read the argument name (their value inputs come from MLP 0, which wrote the token's identity) and write the answer to the logits: the circuit finds in one backward pass and a handful of exact checks what head patching found cell by cell, and adds *where* each head reads from.
#
# ## 5. The induction circuit on the 2-layer model
#
# A block of random tokens and its repeat: at the repeat the model copies the token that followed last time. The corrupt prompt has a different first block, so there is nothing to copy. Induction needs two heads in a row: a previous-token head in layer 0 writes "the token before me" into each position, and an induction head in layer 1 uses it in its **key** input (K-composition) to find where to look.

# %%
small = iw.load_model()
generator = torch.Generator().manual_seed(0)
bos, half, cut = small.tokenizer.bos_token_id, 10, 6
induction = []
for _ in range(4):
    block, other = (torch.randint(1, small.cfg.d_vocab, (half,), generator=generator) for _ in range(2))
    clean = torch.cat([torch.tensor([bos]), block, block[:cut]])
    corrupt = torch.cat([torch.tensor([bos]), other, block[:cut]])
    induction.append((clean, corrupt, int(block[cut]), int(other[cut])))  # token ids: (clean, corrupt, answer, wrong)
small_run = circuits.prepare(small, induction)
copying = circuits.edge_attribution(small, induction, ig_steps=8, prepared=small_run)
print(copying.to_text(10))
print("faithfulness, top 10 / 20 / 40 edges:",
      [round(float(r), 2) for r in circuits.faithfulness_curve(small, induction, copying, sizes=[10, 20, 40], prepared=small_run).recovered])

# %% [markdown]
# Read it against the head scores of `04_residual_stream`: the layer-1 heads whose key inputs carry the strongest edges are the heads with the highest induction scores, and the layer-0 head feeding them (here through MLP 0, which reads that head's output) attends to the previous token.

# %%
from interp_widgets.compute.residual.head_scores import induction_scores, previous_token_scores, repeated_random_tokens

into_keys = [(u.name, v.name, round(s, 2)) for u, v, s in copying.top(40) if v.kind == "k_input"][:4]
print("strongest edges into key inputs:", into_keys)
print("induction score per layer-1 head:", [round(float(x), 2) for x in induction_scores(small, repeated_random_tokens(small, 4, 40))[1]])
print("previous-token score per layer-0 head:", [round(float(x), 2) for x in previous_token_scores(small, repeated_random_tokens(small, 4, 40))[0]])

# %% [markdown]
# Where the model hub can be reached, the same three steps find GPT-2 small's IOI circuit (32,491 edges, scored in one backward pass):
#
# ```python
# gpt2 = iw.load_model("gpt2"); iw.CircuitView.from_model(gpt2, tasks.ioi_pair(gpt2))
# ```

# %% [markdown]
# ## Recap
#
# - `circuits.edge_attribution(model, pairs, metric=..., ig_steps=1)`: EAP (`ig_steps=1`) or EAP-IG scores of every edge; `.top(n)`, `.node_scores()`, `.to_transformer_lens()` (same names and signs as transformer-lens 4.3's `attribution_patch`).
# - `circuits.edge_effects(...)`: exact single-edge effects; `circuits.faithfulness_curve(...)`: exact faithfulness of top-n or greedy circuits; `top_n`, `threshold`, `greedy`, `faithfulness`.
# - `iw.CircuitView.from_model(model, pair)`: the circuit drawn, the curve with a size slider, exact effects on click.
#
# ## Exercise
#
# Find the IOI circuit of the 6-layer model (`tasks.ioi_pair(deeper, seed=s)` for a few seeds) with EAP-IG. Which heads does the greedy circuit of 100 edges contain, and are they the heads `03_patching` §5 reports?
#
# <details><summary>Solution</summary>
#
# ```python
# ioi = [tasks.ioi_pair(deeper, seed=s) for s in range(4)]
# scores = circuits.edge_attribution(deeper, ioi, ig_steps=8)
# kept = circuits.greedy(scores, 100)
# print(sorted({u.name for u, v, s in kept.edges() if u.kind == "attn_head_out"}))
# print(circuits.faithfulness(deeper, ioi, kept))
# ```
#
# </details>
