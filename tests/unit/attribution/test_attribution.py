"""Attribution graphs are exact: every target is its incoming edges plus its constant part, the
batched rows equal one autograd backward per node, and ablating features moves the replacement
model's output exactly as the edges say. On both embedded models, with their shipped transcoders."""

import warnings

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.attribution.attribute import attribute
from interp_widgets.compute.attribution.reference import direct_effects_one_by_one
from interp_widgets.errors import InterpWidgetsError

MODELS = ["embedded", "embedded-6l"]
PROMPTS = [
    "When Mary and John went to the store, John gave a drink to",
    "def area(width, height):\n    return width *",
    " 4 stats chicken Ober minds|| 4 stats chicken Ober",
]


@pytest.fixture(scope="module", params=MODELS)
def setup(request):
    return request.param, iw.load_model(request.param), iw.load_transcoders(request.param)


@pytest.fixture(scope="module")
def graphs(setup):
    _, model, transcoders = setup
    return [attribute(model, transcoders, prompt) for prompt in PROMPTS]


def target_rows(graph):
    return list(range(graph.n_features)) + list(range(graph.logit_offset, graph.n_nodes))


def test_feature_preactivations_are_incoming_edges_plus_bias(setup, graphs):
    _, model, transcoders = setup
    for graph in graphs:
        assert graph.n_features == graph.n_active_features > 0
        with torch.inference_mode():
            _, cache = model.run_with_cache(graph.tokens[None])
            expected = torch.stack([
                cache[f"blocks.{layer}.ln2.hook_out"][0, position] @ transcoders[layer].W_enc[:, feature] + transcoders[layer].b_enc[feature]
                for layer, position, feature in graph.features.tolist()
            ])
        completed = graph.adjacency[: graph.n_features].sum(1) + graph.bias[: graph.n_features]
        assert torch.allclose(completed, expected, atol=1e-4, rtol=0), float((completed - expected).abs().max())
        # an active feature's pre-activation is its activation (TopK keeps ReLU'd pre-activations)
        assert torch.allclose(expected, graph.activations, atol=1e-4)


def test_logit_nodes_equal_the_models_logits_relative_to_the_mean(setup, graphs):
    _, model, _ = setup
    for graph in graphs:
        with torch.inference_mode():
            logits = model(graph.tokens[None])[0, -1]
        expected = logits[graph.logit_tokens] - logits.mean()
        completed = graph.adjacency[graph.logit_offset :].sum(1) + graph.bias[graph.logit_offset :]
        assert torch.allclose(completed, expected, atol=1e-4, rtol=0), float((completed - expected).abs().max())
        probabilities = torch.softmax(logits, -1)
        assert torch.equal(graph.logit_tokens, probabilities.topk(len(graph.logit_tokens)).indices)
        assert len(graph.logit_tokens) == 10 or graph.logit_probabilities.sum() >= 0.95


def skip_unless_hooks_can_freeze_attention(model):
    """The references below freeze attention by returning the clean pattern from `attn.hook_pattern`.
    The transformer-lens 3.9 bridge ignores a value returned there (the output does not change), so
    there they cannot build the frozen model; `attribute` itself is checked on 3.9 by the completeness
    tests above, which compare with the plain model."""
    tokens = model.to_tokens("a b")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        plain = model(tokens)
        with model.hooks(fwd_hooks=[("blocks.0.attn.hook_pattern", lambda pattern, hook: torch.zeros_like(pattern))]):
            zeroed = model(tokens)
    if torch.equal(plain, zeroed):
        pytest.skip("this transformer-lens bridge ignores values returned from attn.hook_pattern, so a hook cannot freeze attention")


def test_batched_rows_equal_one_backward_per_node(setup, graphs):
    _, model, transcoders = setup
    skip_unless_hooks_can_freeze_attention(model)
    graph = graphs[0]
    reference = direct_effects_one_by_one(model, transcoders, graph)
    rows = target_rows(graph)
    assert torch.allclose(graph.adjacency[rows], reference[rows], atol=1e-4, rtol=0)
    assert graph.adjacency[rows].abs().sum() > 0
    # sources never reach back: a feature only receives edges from lower layers and earlier positions
    for row, (layer, position, _) in enumerate(graph.features.tolist()):
        sources = graph.adjacency[row].nonzero()[:, 0].tolist()
        assert all(graph.level(s) <= layer for s in sources)
        assert all(graph.kind(s) != "token" or s - graph.token_offset <= position for s in sources)


def replacement_logits(model, transcoders, tokens, ablate):
    """The local replacement model (patterns and LayerNorm scales frozen, MLPs = transcoder + error)
    with the features of `ablate(layer) -> bool [pos, d_tc]` set to zero; last-position logits."""
    L = model.cfg.n_layers
    with torch.inference_mode():
        _, clean = model.run_with_cache(tokens)
    frozen = [f"blocks.{l}.{site}" for l in range(L) for site in ("attn.hook_pattern", "ln1.hook_scale", "ln2.hook_scale")]
    frozen.append("ln_final.hook_scale")

    def mlp_out(layer):
        def hook(activation, hook):
            transcoder = transcoders[layer]
            x = clean[f"blocks.{layer}.ln2.hook_out"]
            features = transcoder.encode(x)
            error = clean[f"blocks.{layer}.hook_mlp_out"] - transcoder.decode(features)
            return transcoder.decode(features.masked_fill(ablate(layer), 0)) + error

        return hook

    hooks = [(name, lambda a, hook, name=name: clean[name]) for name in frozen]
    hooks += [(f"blocks.{l}.hook_mlp_out", mlp_out(l)) for l in range(L)]
    with warnings.catch_warnings(), torch.inference_mode(), model.hooks(fwd_hooks=hooks):
        warnings.simplefilter("ignore")
        logits = model(tokens)[0, -1]
    return logits - logits.mean()


def test_ablating_features_changes_the_output_as_the_graph_predicts(setup, graphs):
    _, model, transcoders = setup
    skip_unless_hooks_can_freeze_attention(model)
    graph = graphs[2]
    tokens = graph.tokens[None]
    none = lambda layer: torch.zeros(1, 1, dtype=torch.bool)  # noqa: E731
    unchanged = replacement_logits(model, transcoders, tokens, none)[graph.logit_tokens]
    assert torch.allclose(unchanged, graph.values[graph.logit_offset :], atol=1e-4)
    assert graph.bos_held  # BOS's features are held at their values: ablate only the graph's features
    every = lambda layer: (torch.arange(tokens.shape[1]) > 0)[None, :, None]  # noqa: E731
    ablated = replacement_logits(model, transcoders, tokens, every)[graph.logit_tokens]
    predicted = unchanged - graph.adjacency[graph.logit_offset :, : graph.n_features].sum(1)
    assert torch.allclose(ablated, predicted, atol=1e-4), float((ablated - predicted).abs().max())
    assert (ablated - unchanged).abs().max() > 0.1  # the features matter: the test can fail
    # only the first layer's features: later features stay at their values, so again only direct edges count
    first = lambda layer: (torch.arange(tokens.shape[1]) > 0)[None, :, None] & (layer == 0)  # noqa: E731
    in_first = graph.features[:, 0] == 0
    partly = replacement_logits(model, transcoders, tokens, first)[graph.logit_tokens]
    predicted = unchanged - graph.adjacency[graph.logit_offset :, : graph.n_features][:, in_first].sum(1)
    assert torch.allclose(partly, predicted, atol=1e-4)


def test_max_features_keeps_the_most_influential_with_the_same_rows(setup, graphs):
    _, model, transcoders = setup
    full = graphs[0]
    small = attribute(model, transcoders, PROMPTS[0], max_features=40, batch_size=16)
    assert small.n_features == 40 and small.n_active_features == full.n_active_features
    position = {tuple(f): i for i, f in enumerate(full.features.tolist())}
    kept = torch.tensor([position[tuple(f)] for f in small.features.tolist()])
    columns = torch.cat([kept, torch.arange(full.error_offset, full.n_nodes)])
    assert torch.allclose(small.adjacency[:40], full.adjacency[kept][:, columns], atol=1e-5)
    assert torch.allclose(small.adjacency[small.logit_offset :], full.adjacency[full.logit_offset :][:, columns], atol=1e-5)
    # the kept features are among the most influential of the full graph
    influence = full.node_influence()[: full.n_features]
    assert influence[kept].mean() > influence.mean()


def test_pruning_keeps_influence_and_a_connected_graph(graphs):
    graph = graphs[0]
    everything = graph.prune(1.0, 1.0)
    assert everything.node_mask[graph.token_offset :].all()
    pruned = graph.prune(0.8, 0.98)
    kept = pruned.node_mask
    assert kept[graph.token_offset :].all() and kept[: graph.n_features].sum() < everything.node_mask[: graph.n_features].sum()
    assert not pruned.edge_mask[~kept].any() and not pruned.edge_mask[:, ~kept].any()
    for node in kept[: graph.token_offset].nonzero()[:, 0].tolist():
        assert pruned.edge_mask[:, node].any()  # every kept feature or error reaches something
        if node < graph.n_features:
            assert pruned.edge_mask[node].any()  # and every kept feature is reached
    influence = graph.node_influence()
    share = influence[: graph.logit_offset][kept[: graph.logit_offset]].sum() / influence[: graph.logit_offset].sum()
    assert share > 0.5
    with pytest.raises(InterpWidgetsError, match="between 0 and 1"):
        graph.prune(1.5)


def test_strongest_paths_are_products_of_edge_shares(graphs):
    graph = graphs[0]
    pruned = graph.prune()
    paths = graph.strongest_paths(8, pruned=pruned)
    assert paths and [p["share"] for p in paths] == sorted((p["share"] for p in paths), reverse=True)
    kept = pruned.edge_mask & pruned.node_mask[:, None] & pruned.node_mask[None, :]
    shares = (graph.adjacency * kept).abs() / (graph.adjacency * kept).abs().sum(1, keepdim=True).clamp_min(1e-10)
    for path in paths:
        nodes = path["nodes"]
        assert graph.kind(nodes[0]) in ("token", "error") and nodes[-1] == graph.logit_offset
        product = float(graph.logit_probabilities[0])  # one definition of a path's share: edge shares x the logit's probability
        sign = 1.0
        for source, target in zip(nodes, nodes[1:]):
            assert pruned.edge_mask[target, source]
            product *= float(shares[target, source])
            sign *= float(torch.sign(graph.adjacency[target, source]))
        assert path["share"] == pytest.approx(product, rel=1e-5)
        assert path["sign"] == ("+" if sign > 0 else "-")


def test_bad_transcoders_are_refused_with_the_fix(setup):
    _, model, transcoders = setup
    with pytest.raises(InterpWidgetsError, match="one transcoder per layer"):
        attribute(model, transcoders[:-1], "hello")
    from interp_widgets.sae.transcoder import Transcoder

    narrow = [Transcoder(64, 128, k=4, layer=layer) for layer in range(len(transcoders))]
    with pytest.raises(InterpWidgetsError, match="another model"):
        attribute(model, narrow, "hello")
    with pytest.raises(InterpWidgetsError, match="max_features"):
        attribute(model, transcoders, "hello", max_features=-1)


def test_bos_is_held_as_circuit_tracer_does_unless_kept(setup, graphs):
    _, model, transcoders = setup
    held = graphs[0]
    assert held.bos_held and int(held.tokens[0]) == model.tokenizer.bos_token_id
    assert (held.features[:, 1] > 0).all()  # no feature node at BOS
    bos_errors = held.error_offset + torch.arange(held.n_layers) * held.n_pos
    assert not held.adjacency[:, bos_errors].any()  # BOS error nodes carry nothing
    kept = attribute(model, transcoders, PROMPTS[0], keep_bos=True)
    assert not kept.bos_held and (kept.features[:, 1] == 0).any()
    assert kept.adjacency[:, kept.error_offset + torch.arange(kept.n_layers) * kept.n_pos].any()
    # the same logits either way, each still its incoming edges plus its constant
    assert torch.allclose(held.values[held.logit_offset :], kept.values[kept.logit_offset :], atol=1e-5)
    for graph in (held, kept):
        completed = graph.adjacency[graph.logit_offset :].sum(1) + graph.bias[graph.logit_offset :]
        assert torch.allclose(completed, graph.values[graph.logit_offset :], atol=1e-4)
    # the features off BOS are the same nodes with the same activations
    off_bos = kept.features[:, 1] > 0
    assert torch.equal(kept.features[off_bos], held.features) and torch.allclose(kept.activations[off_bos], held.activations)
    # a prompt given as ids without BOS holds nothing
    plain = attribute(model, transcoders, held.tokens[1:])
    assert not plain.bos_held and (plain.features[:, 1] == 0).any()


def test_a_paths_share_is_the_same_in_the_graph_and_in_the_drawn_graph(graphs):
    """One definition (notebooks 06 and 08 once printed 0.158 and 0.077 for one path): the graph's strongest path
    into its top logit and the drawn graph's, under the same pruning, carry the same share."""
    from interp_widgets.compute.attribution.drawn import drawn_graph, strongest_paths

    graph = graphs[0]
    pruned = graph.prune()
    drawn = drawn_graph(graph, pruned)
    into_top = [p for p in strongest_paths(drawn, 50) if drawn.graph_nodes[p["nodes"][-1]] == graph.logit_offset]
    best = graph.strongest_paths(1, pruned=pruned)[0]
    assert into_top and [int(drawn.graph_nodes[i]) for i in into_top[0]["nodes"]] == best["nodes"]  # the same path
    assert into_top[0]["share"] == pytest.approx(best["share"], rel=1e-4)


def plain_scores(adjacency, n_features, n_layers, n_pos, logit_p):
    """circuit-tracer's replacement and completeness scores, written from their definition with a
    matrix inverse: influence = w (I - A)^-1 - w over row-normalised absolute edges."""
    n = adjacency.shape[0]
    A = adjacency.double().abs()
    A = A / A.sum(1, keepdim=True).clamp_min(1e-10)
    w = torch.zeros(n, dtype=torch.float64)
    w[n - len(logit_p):] = logit_p.double()
    influence = w @ torch.linalg.inv(torch.eye(n, dtype=torch.float64) - A) - w
    errors = slice(n_features, n_features + n_layers * n_pos)
    tokens = slice(errors.stop, errors.stop + n_pos)
    replacement = influence[tokens].sum() / (influence[tokens].sum() + influence[errors].sum())
    completeness = ((1 - A[:, errors].sum(1)) * (influence + w)).sum() / (influence + w).sum()
    return float(replacement), float(completeness)


def test_graph_scores_are_circuit_tracers(graphs):
    for graph in graphs:
        scores = graph.scores()
        expected = plain_scores(graph.adjacency, graph.n_features, graph.n_layers, graph.n_pos, graph.logit_probabilities)
        assert (scores["replacement"], scores["completeness"]) == pytest.approx(expected, rel=1e-4)
        assert 0 < scores["replacement"] < scores["completeness"] < 1
        assert graph.replacement_score == scores["replacement"] and graph.completeness_score == scores["completeness"]
    # with the error nodes' edges gone (exact transcoders) both are 1
    exact = graphs[0]
    import dataclasses
    adjacency = exact.adjacency.clone()
    adjacency[:, exact.error_offset : exact.token_offset] = 0
    assert dataclasses.replace(exact, adjacency=adjacency).scores() == pytest.approx({"replacement": 1.0, "completeness": 1.0})
