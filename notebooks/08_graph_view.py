# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring attribution graphs: draw, group, intervene
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/08_graph_view.ipynb)
#
# Notebook 06 computed attribution graphs and read them as tables. Here `iw.GraphView` draws them: nodes by layer (rows: tokens at the bottom, then layer 0 and layer 1 features and error nodes, the logits on top) and by token position (columns); edges orange where they excite, blue where they inhibit, wider when stronger. **Hover** a node for its label, activation and what the feature means (here its logit-lens tokens: what its decoder direction promotes and suppresses); **click** to pin it, then show only its **ancestors** or **descendants**; name pinned nodes as a **supernode**; **intervene** sets the pinned features to a multiple of their activation in the *real* model and lists how the top logits move. The graph is pruned in the kernel and only what is drawn crosses to the browser, as binary arrays. Everything runs on a CPU, offline.

# %%
# Install if missing (Colab, a fresh kernel). Locally, the README's set-up has done this.
try:
    import interp_widgets
except ImportError:
    # %pip install -q interp-widgets

# %%
import torch
import interp_widgets as iw
from interp_widgets.compute.attribution.drawn import FEATURE, ERROR, strongest_paths

torch.set_grad_enabled(False)
model = iw.load_model()
transcoders = iw.load_transcoders("embedded")

def feature_nodes(view, position=None, layer=None):
    """The drawn feature nodes at a token position and/or layer."""
    return [i for i in range(len(view.labels)) if int(view.node_kind[i]) == FEATURE
            and (position is None or int(view.node_pos[i]) == position) and (layer is None or int(view.node_row[i]) == layer + 1)]

def show_intervention(view):
    print(view.intervention["description"])
    for token, p_before, p_after, _, _ in view.intervention["rows"][:5]:
        print(f"  {token!r:>10}: p {p_before:.3f} -> {p_after:.3f}")

# %% [markdown]
# ## 1. An induction prompt
#
# A sentence, then its beginning again: after the second ` Privet` the model should predict ` D` (for `Drive`), because ` D` followed ` Privet` the first time. Pruning keeps the nodes that carry 80 % of the influence on the logits and the edges that carry 98 % (circuit-tracer's defaults, and notebook 06's).

# %%
prompt = ("Mr and Mrs Dursley, of number four, Privet Drive, were proud to say that they were perfectly normal. "
          "Mr and Mrs Dursley, of number four, Privet")
induction = iw.GraphView.from_model(model, transcoders, prompt, node_share=0.8, edge_share=0.98)
induction

# %% [markdown]
# The strongest paths (a path's share, defined once for notebooks 06 and 08 and the view: the product of each edge's share of its target's input over the kept edges, times the logit's probability) start at the *first* ` D` and go through layer-0 features at that position straight to the logit ` D`: the layer-1 induction head's attention, frozen on this prompt, carries them from that position (printed below) to the last one. The top path and its share are the ones notebook 06 prints.

# %%
induction_paths = strongest_paths(induction.drawn, 5)
for path in induction_paths:
    print(f"{path['share']:.3f} {path['sign']}  {path['path']}")
print("the first ' D' is at position", induction.token_strings.index("et") + 1, "of", len(induction.token_strings))

# %% [markdown]
# **Supernodes.** Group the features that read the first ` D`, and the layer-1 features at the last position, under names. They are outlined in their colour in the view and listed under it, and they travel with the graph when it is saved in circuit-tracer's format.

# %%
first_d = induction.token_strings.index("et") + 1  # the " D" of the first "Privet Drive"
copied = feature_nodes(induction, position=first_d)
say = feature_nodes(induction, position=len(induction.token_strings) - 1, layer=1)
induction.group("' D' read at the first Drive (layer 0)", copied)
induction.group("layer 1 at the last token", say)
print(induction.to_text())

# %% [markdown]
# **An intervention that confirms the path.** The graph is a statement about the replacement model, with attention and LayerNorm frozen. Does the path hold in the model itself? Ablate the pinned features (scale 0) and run the real model: each MLP's output becomes the transcoder's reconstruction with the features changed *plus the transcoder's error*, so nothing else changes. In the view: pin the nodes (shift-click), set the scale, press *intervene*. In code:

# %%
induction.intervene(copied, scale=0.0)
show_intervention(induction)
d_row = next(row for row in induction.intervention["rows"] if row[0] == " D")
d_rank_after = sorted((row[2] for row in induction.intervention["rows"]), reverse=True).index(d_row[2])
print(f"' D': p {d_row[1]:.3f} -> {d_row[2]:.3f}, rank {d_rank_after} after the ablation among the {len(induction.intervention['rows'])} tokens shown")

# %% [markdown]
# ` D` drops from the most likely token to an unlikely one: the features at the first ` D` are what the induction mechanism copies, as the graph said.

# %% [markdown]
# ## 1b. Why the induction head attends there: QK attribution
#
# The graph froze attention: an edge through a head says information *moved*, not why the head looked there. `qk_attribution` answers that. A head's pre-softmax score at (query, key) is `q · k / sqrt(d_head)`, and with LayerNorm scales frozen both `q` and `k` are sums over the graph's nodes (features, error nodes, token embeddings, and the biases), so the score splits exactly into **pairs** of a query-side node and a key-side node. Rotary positions are the model's own rotation, applied to each side at its position.
#
# First find the induction head by its score on repeated random tokens, and where it looks from the last token:

# %%
from interp_widgets.compute.attribution import NodeRef, edge_head_loadings, freeze, qk_attribution
from interp_widgets.compute.attribution.qk import node_words
from interp_widgets.compute.residual.head_scores import head_scores

tokens = model.to_tokens(prompt)[0]
strings = induction.token_strings
induction_scores = head_scores(model, tokens[None])["induction"]
layer, head = divmod(int(induction_scores.argmax()), induction_scores.shape[1])
frozen = freeze(model, transcoders, tokens)  # one forward pass, reused for every head and position below
query = len(strings) - 1
weights = frozen.replacement.run.pattern[layer, head, query]
print(f"induction head: L{layer}H{head} (induction score {float(induction_scores.max()):.2f})")
print(f"from the last token {strings[query]!r} it attends most to position {int(weights.argmax())} {strings[int(weights.argmax())]!r} "
      f"(weight {float(weights.max()):.2f}); the token after the first copy of {strings[query]!r} is position {first_d} {strings[first_d]!r}")
assert int(weights.argmax()) == first_d

# %% [markdown]
# Now *why*: the strongest query x key pairs behind the score at (last token, first ` D`), and each side's nodes against the whole other side. The view does the same: click an edge into the logit (it fills "why attend?" with the head that edge passes through most), press *why attend?*, and click a feature in the table to open it in the dashboard (with a linked Selection).

# %%
why = qk_attribution(model, transcoders, tokens, layer, head, query, first_d, frozen=frozen)
print(f"score {why.score:.2f} (sum of {why.pairs.numel()} pairs), attention weight {why.weight:.2f}")
for query_node, key_node, part in why.top_pairs(6):
    print(f"  {part:+.3f}  {node_words(query_node, strings):<28} x  {node_words(key_node, strings)}")
query_feature = why.query_nodes[int(why.query_marginal.argmax())]
key_feature = why.key_nodes[int(why.key_marginal.argmax())]
print("strongest query side:", node_words(query_feature, strings), "| strongest key side:", node_words(key_feature, strings))

# %% [markdown]
# Read the two strongest nodes' own inputs, with each edge split by the attention head its path goes through (`edge_head_loadings`). The query-side feature reads the **current** token: its edge from the token at its own position passes through no attention. The key-side feature reads the **previous** token (the first copy's last piece, one position before ` D`) through a layer-0 head with a high previous-token score:

# %%
def inputs_from_tokens(node):
    """The node's edges from the token before it and from its own token, each split by head."""
    feature = NodeRef("feature", node["layer"], node["position"], node["feature"])
    splits = []
    for source in (node["position"] - 1, node["position"]):
        split = edge_head_loadings(frozen, feature, NodeRef("token", -1, source))
        heads = ", ".join(f"L{l}H{h} {part:+.2f}" for l, h, part in split.strongest(2))
        print(f"  token {strings[source]!r} @{source} -> {node_words(node, strings)}: {split.total:+.2f} "
              f"(not through attention {split.direct:+.2f}; through {heads or 'no head'})")
        splits.append(split)
    return splits

print("query side:")
current = inputs_from_tokens(query_feature)[1]  # from its own token
print("key side:")
previous = inputs_from_tokens(key_feature)[0]  # from the token before it
previous_layer, previous_head, previous_part = previous.strongest(1)[0]
print(f"L{previous_layer}H{previous_head} previous-token score: {float(head_scores(model, tokens[None])['previous_token'][previous_layer, previous_head]):.2f}")
assert current.direct > 0.5 * current.total and strings[key_feature["position"] - 1] == strings[query]
assert previous.direct == 0.0 and previous_part > 0.5 * previous.total

# %% [markdown]
# So the induction head attends to ` D` because a **previous-token feature on the key side** (at ` D`, it says "the token before me was the same piece the query is") matches the **current-token feature on the query side** (the query's own piece): the two make the largest part of the score. The layer-0 head that writes the previous token into ` D`'s stream is the previous-token head: the two-head induction circuit, read off the numbers.

# %% [markdown]
# ## 2. An " and" prompt, and the graph's limit
#
# Lists of pairs, ending on ` and`: the next token should start the second half of a pair. Layer-0 features fire on every ` and`; group those at the last one.

# %%
pairs = iw.GraphView.from_model(model, transcoders, "He bought apples and oranges, cups and saucers, knives and", node_share=0.8)
last = len(pairs.token_strings) - 1
pairs.group("' and' features (layer 0)", feature_nodes(pairs, position=last, layer=0))
pairs.group("layer 1 at ' and'", feature_nodes(pairs, position=last, layer=1))
pairs

# %% [markdown]
# **The limit: a large error node.** Error nodes stand for what the transcoders miss (the MLP's output minus the transcoder's). Here the strongest paths into the top logits start at an error node: layer 0's transcoder does not explain what its MLP writes at the last ` and`, and the graph cannot say which features carry it.

# %%
for path in strongest_paths(pairs.drawn, 4):
    print(f"{path['share']:.4f} {path['sign']}  {path['path']}")
graph = pairs.graph
top = graph.logit_offset  # the most likely next token's row: its direct inputs
row = graph.adjacency[top].abs()
errors = slice(graph.error_offset, graph.token_offset)
largest = graph.error_offset + int(row[errors].argmax())
print(f"top logit {graph.logit_strings[0]!r}: {float(row[errors].sum() / row.sum()):.0%} of its direct input comes from error nodes; "
      f"the largest, {graph.label(largest)}, gives {float(row[largest] / row.sum()):.1%}")

# %% [markdown]
# The intervention that shows it: pin the largest error node and scale it to 0, so that layer 0's MLP writes only its transcoder's reconstruction there. Every feature stays as it was, yet the top tokens lose a good part of their probability (the largest relative loss is printed below): part of the computation lives where the graph has no features to show. (A pinned error node keeps `scale` times its error; features are ablated the same way, as above.) Better transcoders (more features, longer training) shrink the error nodes.

# %%
error_node = next(i for i in range(len(pairs.labels)) if int(pairs.node_kind[i]) == ERROR and pairs.labels[i] == graph.label(largest))
pairs.intervene([error_node], scale=0.0)
show_intervention(pairs)
error_losses = [1 - p_after / p_before for _, p_before, p_after, _, _ in pairs.intervention["rows"][:5] if p_before > 0]
print(f"largest relative loss among the top 5: {max(error_losses):.0%}")

# %% [markdown]
# ## 3. circuit-tracer's format, both ways
#
# `view.save_json(path)` writes the drawn graph (with its supernodes) in the JSON that circuit-tracer's frontend and Neuronpedia's graph pages read; `iw.GraphView.from_json(path)` opens such a file, from circuit-tracer or Neuronpedia, offline. Its labels are shown as text only. With the model and transcoders it came from, interventions work on it too.

# %%
import tempfile
from pathlib import Path

path = Path(tempfile.mkdtemp()) / "induction.json"
induction.save_json(path)
reopened = iw.GraphView.from_json(path, model=model, transcoders=transcoders)
print(reopened.counts, "| supernodes:", [group[0] for group in reopened.supernodes])

# %% [markdown]
# ## 4. Linked views
#
# In a `Selection` that holds the transcoders as SAEs, the view's tooltips show each feature's top activating contexts from the selection's activation indexes (built once per transcoder over the held-out tokens, whole 64-token contexts up to `index_tokens=8192`: the count is printed below; without them, the logit-lens tokens), and a clicked feature node opens in the feature dashboard (and any other linked view).

# %%
selection = iw.Selection(model, saes={f"transcoder L{layer}": tc for layer, tc in enumerate(transcoders)}, prompt=prompt, index_tokens=8192)
linked = iw.GraphView.from_selection(selection, transcoders, node_share=0.8)
dashboard = iw.FeatureDashboard.from_selection(selection)
node = next(i for i in range(len(linked.labels)) if linked.labels[i] == induction.labels[copied[0]])
print(linked.labels[node], "\n" + linked.contexts[node])
linked.select(node)  # what a click on that node does
print(f"the dashboard now shows {selection.sae} feature {selection.feature}")
index_tokens = selection.index(sae=selection.sae).n_tokens
print(f"each index holds {index_tokens:,} held-out tokens")
dashboard

# %% [markdown]
# The numbers the text above quotes, in one line (`tests/notebooks/test_curriculum.py` checks each claim against it):

# %%
import json

print("numbers:", json.dumps({"top_path": induction_paths[0]["path"], "top_path_share": induction_paths[0]["share"],
                              "first_d_position": induction.token_strings.index("et") + 1, "n_positions": len(induction.token_strings),
                              "error_losses": error_losses, "index_tokens": index_tokens, "d_before": d_row[1], "d_after": d_row[2],
                              "d_rank_after": d_rank_after}))
