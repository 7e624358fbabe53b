"""GraphView and circuit-tracer's JSON on the structurally different families and with published kinds of
transcoders: the view's arrays are the pruned graph, a saved file reads back node for node and opens as a
view, interventions run (skip transcoders) or are refused clearly (cross-layer transcoders, not built yet).
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
    if kind == "clt":
        assert not view.can_intervene and not reply["ok"] and "cross-layer" in reply["error"]
    else:
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
