# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Attribution graphs: a prompt's computation, edge by edge
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/06_attribution_graphs.ipynb)
#
# Circuit tracing (Anthropic's attribution graphs, the `circuit-tracer` package, Neuronpedia's graph pages) reads one prompt's computation as a graph. Each MLP is replaced by a **transcoder**: a sparse layer that reads the MLP's input and predicts its output, whose units are readable features. The attention patterns and LayerNorm scales are **frozen** at their values on the prompt. What is left is linear from the feature activations onward, so every edge is an exact **direct effect**: how much one node (a token, a feature, the transcoder's error at one layer and position) adds to another (a feature's pre-activation, or a logit), through attention and the residual stream only.
#
# Here that runs in the kernel, on a CPU, on the embedded model and its shipped transcoders: the whole graph of a short prompt takes a fraction of a second. (Part 2 of this work will draw the graph; until then we read it as a table of its strongest paths.)

# %%
# Install if missing (Colab, a fresh kernel). Locally, the README's set-up has done this.
try:
    import interp_widgets
except ImportError:
    # %pip install -q interp-widgets

# %%
import torch
import interp_widgets as iw
from interp_widgets.compute.attribution import attribute
from interp_widgets.models.transcoders import transcoder_card

torch.set_grad_enabled(False)
model = iw.load_model()
transcoders = iw.load_transcoders("embedded")
card = transcoder_card("embedded")
print(f"{len(transcoders)} transcoders, {card['d_transcoder']} features each, {card['k']} active per token (TopK)")
for layer in card["layers"]:
    print(f"  layer {layer['layer']}: L0 {layer['l0']:.0f}, MLP-output variance explained {layer['explained_variance']:.1%}, "
          f"dead features {layer['dead_fraction']:.1%}")
replaced = card["replaced"]
print(f"next-token loss {replaced['ce_clean']:.2f} -> {replaced['ce_replaced']:.2f} with every MLP replaced "
      f"({replaced['ce_loss_recovered']:.0%} of what zeroing the MLPs loses is recovered)")

# %% [markdown]
# ## 1. The graph of an induction prompt
#
# A sentence, then its beginning again: the model should complete the repeat. The graph's nodes: one token node per position, every active transcoder feature, one error node per layer and position (what the transcoder misses, so the graph is exact), and the most likely next tokens as logit nodes (until they cover 95 % of the probability, at most 10).

# %%
prompt = ("Mr and Mrs Dursley, of number four, Privet Drive, were proud to say that they were perfectly normal. "
          "Mr and Mrs Dursley, of number four, Privet")
graph = attribute(model, transcoders, prompt)
print(f"{graph.n_pos} tokens, {graph.n_features} active features, {graph.n_nodes} nodes")
for token, probability in zip(graph.logit_strings, graph.logit_probabilities.tolist()):
    print(f"  {token!r}: {probability:.2f}")

# %% [markdown]
# **Exact by construction.** Every feature's pre-activation, and every logit relative to the mean logit, is the sum of its incoming edges plus a constant (the biases of the LayerNorms, attention and transcoders, carried forward): `graph.bias`.

# %%
targets = list(range(graph.n_features)) + list(range(graph.logit_offset, graph.n_nodes))
gap = (graph.adjacency[targets].sum(1) + graph.bias[targets] - graph.values[targets]).abs().max()
print(f"largest gap between a node's value and its edges + bias: {float(gap):.1e}")

# %% [markdown]
# **BOS is held, as circuit-tracer holds it.** The first token (BOS) attends only to itself, so what the MLPs write there says nothing about the prompt; but it is large (an attention sink), and kept as nodes its features and errors take a big share of every target's input and crowd the pruning and the `max_features` ranking. So by default, like circuit-tracer (`zero_bos`), the features and errors at BOS are left out of the graph and what the MLPs write there is held at its value, inside `graph.bias` (the graph stays exact). `keep_bos=True` keeps them as nodes:

# %%
kept = attribute(model, transcoders, prompt, keep_bos=True)
at_bos = kept.features[:, 1] == 0
share = kept.adjacency[kept.logit_offset :, : kept.n_features][:, at_bos].abs().sum() / kept.adjacency[kept.logit_offset :].abs().sum()
print(f"BOS held: {graph.bos_held}; with keep_bos=True {int(at_bos.sum())} more features, "
      f"carrying {float(share):.0%} of the logits' direct input")

# %% [markdown]
# ## 2. Pruning, and the strongest paths
#
# As circuit-tracer does: a node's *influence* on the logits sums over every path, each edge counted as its share of its target's total input. Pruning keeps the nodes that carry 80 % of the influence (tokens and logits always), then the edges that carry 98 %. A path's share (one definition for this notebook, notebook 08 and the graph view): the product of its edges' shares of their target's input over the kept edges, times the logit's probability — the part of the prediction that flows along it. The sign is the product of the edges' signs.

# %%
pruned = graph.prune(node_share=0.8, edge_share=0.98)
print(f"kept {int(pruned.node_mask[:graph.n_features].sum())} of {graph.n_features} features, "
      f"{int(pruned.edge_mask.sum())} of {int((graph.adjacency != 0).sum())} edges")
print(f"strongest paths into the logit {graph.logit_strings[0]!r}:")
top_paths = graph.strongest_paths(12, pruned=pruned)
for path in top_paths:
    print(f"  {path['share']:.3f} {path['sign']}  {path['path']}")

# %% [markdown]
# Read each row from the left. Here the strongest paths start at the *first* ` D` (the token after the first `Privet`), pass through layer-0 features that read that token, and reach the logit ` D` directly: the layer-1 induction head's attention, frozen at its value on the prompt, carries them from that position to the last one. Rows that start at the last token (`et`) are what the current token itself contributes; error nodes are what the transcoders do not explain. `graph.adjacency[target, source]` holds every edge for a closer look, in circuit-tracer's node order (features, errors, tokens, logits).

# %% [markdown]
# The numbers the text above quotes, in one line (`tests/notebooks/test_curriculum.py` checks each claim against it, and the top path against notebook 08's):

# %%
import json

print("numbers:", json.dumps({"top_path": top_paths[0]["path"], "top_path_share": top_paths[0]["share"],
                              "logit_coverage": float(graph.logit_probabilities.sum()), "n_logits": len(graph.logit_strings)}))
