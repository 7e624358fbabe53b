"""GraphView: its arrays are the pruned graph (compute called directly), requests re-prune, group,
select and intervene; interventions equal a plain per-position reference loop; text and snapshot."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.attribution.attribute import attribute
from interp_widgets.compute.attribution.intervene import intervene
from interp_widgets.compute.attribution.drawn import FEATURE, drawn_graph, strongest_paths, top_contexts
from tests.widget_requests import request

PROMPT = "When Mary and John went to the store, John gave a drink to"


@pytest.fixture(scope="module")
def setup():
    return iw.load_model(), iw.load_transcoders("embedded")


@pytest.fixture()
def view(setup):
    model, transcoders = setup
    return iw.GraphView.from_model(model, transcoders, PROMPT, node_share=0.8, edge_share=0.98)


def features_of(widget):
    return [i for i in range(len(widget.labels)) if int(widget.node_kind[i]) == FEATURE]


def test_traits_are_the_pruned_graph(setup, view):
    model, transcoders = setup
    graph = attribute(model, transcoders, PROMPT)
    pruned = graph.prune(0.8, 0.98)
    kept = pruned.node_mask.nonzero()[:, 0]
    assert len(view.labels) == kept.numel() and int(pruned.edge_mask.sum()) == view.edge_weight.numel()
    assert torch.equal(view.node_kind, drawn_graph(graph, pruned).kinds)
    sources, targets = kept[view.edge_source.long()], kept[view.edge_target.long()]
    assert torch.allclose(view.edge_weight, graph.adjacency[targets, sources])
    assert pruned.edge_mask[targets, sources].all()
    for i in features_of(view)[:5]:  # a feature node's activation and place are the graph's
        node = int(kept[i])
        layer, position, feature = graph.features[node].tolist()
        assert (int(view.node_row[i]), int(view.node_pos[i]), int(view.node_feature[i])) == (layer + 1, position, feature)
        assert float(view.node_activation[i]) == pytest.approx(float(graph.activations[node]))
        assert view.contexts[i].startswith("promotes")


def test_share_request_reprunes_the_same_graph(view):
    graph, before = view.graph, len(view.labels)
    reply = request(view, "set", {"node_share": 0.5})
    assert reply["ok"], reply
    assert view.graph is graph and len(view.labels) < before  # pruned harder, not attributed again
    assert len(view.labels) == int(graph.prune(0.5, 0.98).node_mask.sum())


def test_bad_share_answers_with_an_error_and_keeps_the_view(view):
    labels = list(view.labels)
    reply = request(view, "set", {"node_share": 1.5})
    assert reply["ok"] is False and "node_share must be between 0 and 1" in reply["error"]
    assert view.labels == labels and view.node_share == 0.8


def test_intervene_with_scale_one_changes_nothing_and_ablation_moves_logits(setup, view):
    nodes = features_of(view)[:3]
    assert request(view, "intervene", {"nodes": nodes, "scale": 1.0})["ok"]
    assert all(abs(p0 - p1) < 1e-5 for _, p0, p1, _, _ in view.intervention["rows"])
    assert request(view, "intervene", {"nodes": nodes, "scale": 0.0})["ok"]
    assert max(abs(p0 - p1) for _, p0, p1, _, _ in view.intervention["rows"]) > 1e-4
    assert "3 feature(s), 0 error node(s) ablated" in view.intervention["description"] and "intervention:" in view.to_text()


def reference_intervention(model, transcoders, tokens, features, scale):
    """Plain loop: run layer by layer with hooks that re-encode each position on its own."""
    targets = {}
    clean_values = {}
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens[None])
        for layer, position, feature in features:
            tc = transcoders[layer]
            clean_values[(layer, position, feature)] = float(tc.encode(cache[f"blocks.{layer}.ln2.hook_out"][0, position])[feature])
            targets.setdefault(layer, []).append((position, feature))
        seen = {}

        def keep(layer):
            return lambda act, hook: seen.__setitem__(layer, act.clone())

        def edit(layer):
            def hook(out, hook):
                out = out.clone()
                for position, feature in targets[layer]:
                    acts = transcoders[layer].encode(seen[layer][0, position])
                    change = scale * clean_values[(layer, position, feature)] - float(acts[feature])
                    out[0, position] += change * transcoders[layer].W_dec[feature]
                return out
            return hook

        hooks = [h for layer in targets for h in ((f"blocks.{layer}.ln2.hook_out", keep(layer)), (f"blocks.{layer}.hook_mlp_out", edit(layer)))]
        with model.hooks(fwd_hooks=hooks):
            return model(tokens[None])[0, -1]


def test_intervention_equals_a_reference_loop(setup, view):
    model, transcoders = setup
    nodes = features_of(view)
    layer0 = [n for n in nodes if int(view.node_row[n]) == 1][:2]
    layer1 = [n for n in nodes if int(view.node_row[n]) == 2][:2]
    features = [(int(view.node_row[n]) - 1, int(view.node_pos[n]), int(view.node_feature[n])) for n in layer0 + layer1]
    for scale in (0.0, 3.0):
        result = intervene(model, transcoders, view.graph.tokens, features, scale)
        expected = reference_intervention(model, transcoders, view.graph.tokens, features, scale)
        assert torch.allclose(result.new_logits, expected.float(), atol=1e-4)
    assert not torch.allclose(result.new_logits, result.clean_logits, atol=1e-3)


def test_removing_an_error_node_leaves_the_transcoders_reconstruction(setup, view):
    model, transcoders = setup
    errors = [i for i in range(len(view.labels)) if int(view.node_kind[i]) == 2]
    layer, position = int(view.node_row[errors[0]]) - 1, int(view.node_pos[errors[0]])
    tc = transcoders[layer]
    seen = {}

    def reconstruct(out, hook):  # reference: the MLP's output at that position is the transcoder's alone
        out = out.clone()
        out[0, position] = tc(seen["x"][0, position])
        return out

    hooks = [(f"blocks.{layer}.ln2.hook_out", lambda act, hook: seen.__setitem__("x", act.clone())), (f"blocks.{layer}.hook_mlp_out", reconstruct)]
    with torch.inference_mode(), model.hooks(fwd_hooks=hooks):
        expected = model(view.graph.tokens[None])[0, -1]
    result = intervene(model, transcoders, view.graph.tokens, [], 0.0, errors=[(layer, position)])
    assert torch.allclose(result.new_logits, expected.float(), atol=1e-4)
    assert not torch.allclose(result.new_logits, result.clean_logits, atol=1e-4)
    assert request(view, "intervene", {"nodes": [errors[0]], "scale": 0.0})["ok"]
    assert "0 feature(s), 1 error node(s) ablated" in view.intervention["description"]


def test_intervening_on_no_feature_or_a_token_node_is_refused(view):
    token = [i for i in range(len(view.labels)) if int(view.node_kind[i]) == 0][0]
    reply = request(view, "intervene", {"nodes": [token]})
    assert reply["ok"] is False and "pin one or more feature or error nodes" in reply["error"]
    assert request(view, "intervene", {"nodes": [10**6]})["ok"] is False


def test_a_clicked_feature_is_published_to_the_selection(setup):
    model, transcoders = setup
    saes = {f"transcoder L{layer}": tc for layer, tc in enumerate(transcoders)}
    selection = iw.Selection(model, saes=saes, prompt=PROMPT, index_tokens=64 * 20)
    view = iw.GraphView.from_selection(selection, transcoders)
    node = [i for i in features_of(view) if int(view.node_row[i]) == 2][0]
    assert request(view, "select", {"node": node})["result"]["sae"] == "transcoder L1"
    assert (selection.sae, selection.feature, selection.target) == ("transcoder L1", int(view.node_feature[node]), int(view.node_pos[node]))
    unlinked = iw.GraphView.from_graph(view.graph, model, transcoders)
    assert request(unlinked, "select", {"node": node})["result"] == {"published": False}


def test_features_show_top_contexts_from_the_selections_indexes(setup):
    model, transcoders = setup
    selection = iw.Selection(model, saes={f"L{layer}": tc for layer, tc in enumerate(transcoders)}, prompt=PROMPT, index_tokens=64 * 20)
    view = iw.GraphView.from_selection(selection, transcoders)
    assert "activation index" in view.contexts_from
    for node in features_of(view)[:4]:
        layer, feature = int(view.node_row[node]) - 1, int(view.node_feature[node])
        lines = top_contexts(selection.index(sae=f"L{layer}"), model, feature)
        assert view.contexts[node] == "\n".join(lines)
    assert any("[" in view.contexts[node] for node in features_of(view))  # the activating token, bracketed


def test_supernodes_and_text_form_list_the_strongest_paths(view):
    nodes = features_of(view)[:2]
    assert request(view, "group", {"name": "say the", "nodes": nodes})["ok"]
    assert view.supernodes == [["say the", *nodes]]
    text = view.to_text()
    best = strongest_paths(view.drawn, 1)[0]
    assert best["path"] in text and "supernode 'say the'" in text
    assert request(view, "group", {"name": " ", "nodes": nodes})["ok"] is False
    # a path's share is the product of its edges' shares of their targets' input, times the logit's probability
    path, weights = best["nodes"], view.edge_weight.abs()
    share = float(view.node_activation[path[-1]])
    for source, target in zip(path, path[1:]):
        into = view.edge_target == target
        share *= float(weights[into & (view.edge_source == source)].sum() / weights[into].sum())
    assert best["share"] == pytest.approx(share)


def test_snapshot_is_escaped_and_script_free(view):
    view.drawn.labels[:] = ["<script>alert(1)</script>"] * len(view.drawn.labels)
    snapshot = view.to_static_html()
    assert "<script" not in snapshot and "&lt;script&gt;" in snapshot and "<svg" in snapshot


def test_header_shows_the_graph_scores(view):
    scores = view.graph.scores()
    assert f"replacement score {scores['replacement']:.2f}" in view.scores
    assert f"completeness score {scores['completeness']:.2f}" in view.scores
    assert view.scores in view.to_text()
