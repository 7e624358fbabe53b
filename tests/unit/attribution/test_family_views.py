"""GraphView and circuit-tracer's JSON on the structurally different families and with published kinds of
transcoders: the view's arrays are the pruned graph, a saved file reads back node for node and opens as a
view, interventions run (a cross-layer feature's edit reaching every later layer, checked against a plain loop).
A cross-layer feature's outgoing edges reach features and logits through several of its decoder columns."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.attribution.attribute import attribute
from interp_widgets.compute.attribution.drawn import FEATURE, decoder_directions, drawn_graph
from interp_widgets.compute.attribution.graph_file import load_graph_json
from interp_widgets.compute.attribution.graph_json import save_graph_json
from tests.unit.attribution.test_families import PROMPT, cross_layer_transcoder, load, skip_transcoders, topk_transcoders
from tests.widget_requests import request

CASES = [("llama", "clt"), ("neox", "topk"), ("gemma2", "skip"), ("olmo2", "clt"), ("gpt2", "skip")]
MAKE = {"clt": cross_layer_transcoder, "skip": skip_transcoders, "topk": topk_transcoders}


@pytest.mark.parametrize("name, kind", CASES)
def test_graph_view_and_json_both_ways(name, kind, tmp_path):
    model = load(name)
    transcoders = MAKE[kind](model)
    view = iw.GraphView.from_model(model, transcoders, PROMPT, node_share=0.8, edge_share=0.98)
    graph = attribute(model, list(transcoders), PROMPT)
    pruned = graph.prune(0.8, 0.98)
    kept = pruned.node_mask.nonzero()[:, 0]
    assert len(view.labels) == kept.numel() and view.edge_weight.numel() == int(pruned.edge_mask.sum())
    sources, targets = kept[view.edge_source.long()], kept[view.edge_target.long()]
    assert torch.allclose(view.edge_weight, graph.adjacency[targets, sources])
    assert view.scores.startswith("replacement score")
    features = [i for i in range(len(view.labels)) if int(view.node_kind[i]) == FEATURE]
    assert features and all(view.contexts[i].startswith("promotes") for i in features)
    # both ways: the file reads back node for node, edge for edge, and opens as a view
    drawn = drawn_graph(graph, pruned)
    path = save_graph_json(drawn, tmp_path / "g.json")
    back = load_graph_json(path, model, list(transcoders))
    for field in ("kinds", "rows", "positions", "features", "sources", "targets", "weights"):
        assert torch.equal(getattr(back, field), getattr(drawn, field)), field
    assert len(set(back.node_ids())) == back.n_nodes
    opened = iw.GraphView.from_json(path, model=model, transcoders=list(transcoders))
    assert opened.labels == view.labels
    reply = request(view, "intervene", {"nodes": features[:2], "scale": 0.0})
    assert view.can_intervene and reply["ok"], reply


def test_a_cross_layer_features_edges_reach_several_layers_in_the_drawn_graph():
    model = load("llama")
    clt = cross_layer_transcoder(model)
    graph = attribute(model, clt, PROMPT)
    drawn = drawn_graph(graph, graph.prune(1.0, 1.0))
    first_layer = [i for i in range(drawn.n_nodes) if drawn.kinds[i] == FEATURE and drawn.rows[i] == 1]
    reached = {int(drawn.rows[t]) for s, t in zip(drawn.sources.tolist(), drawn.targets.tolist()) if s in first_layer}
    assert {2, 3} <= reached  # layer-1 features (row 2) and the logits (row 3)
    # the logit lens reads what a feature writes in all: the sum of its decoder columns
    direction = decoder_directions(list(clt), [0], [3])[0]
    assert torch.allclose(direction, clt[0]._W_dec[3].sum(0))


def test_a_graph_file_whose_ids_would_collide_stays_readable(tmp_path):
    """circuit-tracer writes layer-0 feature f at position p and layer f's error at p both as "0_f_p"."""
    model = load("gpt2")
    transcoders = skip_transcoders(model)
    graph = attribute(model, transcoders, PROMPT)
    drawn = drawn_graph(graph, graph.prune(1.0, 1.0))
    ids = drawn.node_ids()
    assert len(set(ids)) == len(ids)
    colliding = [i for i in range(drawn.n_nodes) if ids[i].endswith("_error")]
    assert colliding  # this prompt has layer-0 features 0 or 1 where errors of layers 0 or 1 are drawn
    back = load_graph_json(save_graph_json(drawn, tmp_path / "g.json"), model, transcoders)
    assert torch.equal(back.kinds, drawn.kinds) and torch.equal(back.rows, drawn.rows)
    assert all(back.node_ids()[i] == ids[i] for i in colliding)


def test_a_cross_layer_intervention_changes_every_later_layer_as_a_plain_loop_says():
    from interp_widgets.compute.attribution.intervene import intervene

    model = load("llama")
    clt = cross_layer_transcoder(model)
    graph = attribute(model, clt, PROMPT)
    chosen = [tuple(f) for f in graph.features[graph.features[:, 0] == 0][:3].tolist()]
    result = intervene(model, list(clt), graph.tokens, chosen, scale=0.0, errors=[(1, 3)])
    # the plain loop: every layer's output gets sum_s (new_s - acts_s) @ W_dec_s[:, l - s], features read as the run goes
    L, tokens = model.cfg.n_layers, graph.tokens[None]
    with torch.inference_mode():
        _, clean = model.run_with_cache(tokens)
    clean_acts = [clt[l].encode(clean[f"blocks.{l}.mlp.hook_in"][0]) for l in range(L)]
    inputs, acts = {}, {}

    def keep(l):
        def hook(x, hook):
            inputs[l] = x[0]
        return hook

    def edit(l):
        def hook(out, hook):
            acts[l] = clt[l].encode(inputs[l])
            change = torch.zeros_like(out[0])
            for s in range(l + 1):
                new = acts[s].clone()
                for layer, position, feature in chosen:
                    if layer == s:
                        new[position, feature] = 0.0 * clean_acts[s][position, feature]
                change += (new - acts[s]) @ clt[s]._W_dec[:, l - s]
            if l == 1:  # the error at (1, 3) scaled by 0: minus everything the transcoder misses there
                predicted = clt[1].b_dec + sum(acts[s] @ clt[s]._W_dec[:, 1 - s] for s in range(2))
                change[3] -= out[0, 3] - predicted[3]
            return out + change[None]
        return hook

    hooks = [h for l in range(L) for h in ((f"blocks.{l}.mlp.hook_in", keep(l)), (f"blocks.{l}.hook_mlp_out", edit(l)))]
    with torch.inference_mode(), model.hooks(fwd_hooks=hooks):
        expected = model(tokens)[0, -1].float()
    assert torch.allclose(result.new_logits, expected, atol=1e-4), float((result.new_logits - expected).abs().max())
    assert (result.new_logits - result.clean_logits).abs().max() > 1e-3  # the edit matters: the test can fail
