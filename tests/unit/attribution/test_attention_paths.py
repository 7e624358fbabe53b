"""Attention inside attribution graphs, exactly: an edge split by head sums to the edge, and a head's
QK attribution sums to its pre-softmax score (whose softmax over the keys is the model's pattern),
with rotary positions (both embedded models) and learned ones (a GPT-2-shaped model). Ablating a
key-side feature in the frozen-LayerNorm model moves the score by that feature's key-side row."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.attribution.attention_paths import (
    attention_backward_by_head, constant_stream, edge_head_loadings, freeze, graph_node,
)
from interp_widgets.compute.attribution.attribute import attribute, center
from interp_widgets.compute.attribution.qk import attention_scale, qk_attribution, rotation
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models.bridge import boot_from_config
from interp_widgets.models.toy import toy_tokenizer
from interp_widgets.sae.transcoder import Transcoder

PROMPT = "The cat sat on the mat. The cat sat on the"


def gpt2_shaped():
    """A small random model of GPT-2's kind (learned positions, LayerNorm, GELU) with random TopK transcoders."""
    config = dict(n_layers=3, d_model=64, n_ctx=64, d_head=16, n_heads=4, d_mlp=256, d_vocab=512, act_fn="gelu",
                  normalization_type="LN", positional_embedding_type="standard", seed=3)
    model = boot_from_config(config, toy_tokenizer())
    torch.manual_seed(0)
    transcoders = [Transcoder(64, 128, k=8, layer=layer) for layer in range(3)]
    return model, transcoders


@pytest.fixture(scope="module", params=["embedded", "embedded-6l", "gpt2-shaped"])
def setup(request):
    if request.param == "gpt2-shaped":
        model, transcoders = gpt2_shaped()
    else:
        model, transcoders = iw.load_model(request.param), iw.load_transcoders(request.param)
    return model, transcoders, freeze(model, transcoders, PROMPT)


def test_head_parts_of_the_attention_backward_sum_to_it(setup):
    model, _, frozen = setup
    rep = frozen.replacement
    grad = torch.randn(frozen.n, model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    parts = attention_backward_by_head(rep, 0, grad)
    assert parts.shape == (model.cfg.n_heads, frozen.n, model.cfg.d_model)
    torch.testing.assert_close(parts.sum(0), rep.attention_backward(0, grad[None])[0], rtol=1e-5, atol=1e-5)


def test_edges_split_by_head_sum_to_the_edge(setup):
    model, transcoders, frozen = setup
    graph = attribute(model, transcoders, PROMPT)
    n, F, L = frozen.n, graph.features.shape[0], graph.n_layers
    # the strongest edges into the top logit and into a late feature, plus a token -> logit edge across positions
    targets = [graph.adjacency.shape[0] - graph.logit_tokens.shape[0], max(range(F), key=lambda i: int(graph.features[i, 0]))]
    checked = 0
    for target in targets:
        row = graph.adjacency[target, : F + (L + 1) * n]
        for source in row.abs().argsort(descending=True)[:6].tolist() + [F + L * n + 1]:
            loadings = edge_head_loadings(frozen, graph_node(graph, target), graph_node(graph, source))
            edge = float(graph.adjacency[target, source])
            assert loadings.total == pytest.approx(edge, abs=1e-5 * max(1.0, float(row.abs().max())))
            checked += 1
            if loadings.by_head.abs().sum() > 0:
                layer, head, part = loadings.strongest(1)[0]
                assert part == float(loadings.by_head[layer, head])
    assert checked == 14


def test_qk_pairs_sum_to_scores_whose_softmax_is_the_models_pattern(setup):
    model, transcoders, frozen = setup
    n, L = frozen.n, model.cfg.n_layers
    for layer, head in [(0, 1), (L - 1, 0), (L - 1, model.cfg.n_heads - 1)]:
        query = n - 1
        results = [qk_attribution(model, transcoders, PROMPT, layer, head, query, key, frozen=frozen) for key in range(n)]
        scores = torch.tensor([result.score for result in results])
        for result in results:
            assert float(result.pairs.sum()) == pytest.approx(result.score, rel=1e-5, abs=1e-5)
            torch.testing.assert_close(result.query_marginal.sum(), result.key_marginal.sum(), rtol=1e-5, atol=1e-5)
        pattern = frozen.replacement.run.pattern[layer, head, query, :n]
        torch.testing.assert_close(scores.softmax(0), pattern, rtol=1e-4, atol=1e-5)


def key_side_score_without(frozen, model, layer, head, query_pos, key_pos, feature_column):
    """The frozen-LN model's score with one feature's decoder output removed from the residual stream that
    the key reads (the query keeps the clean stream): a forward pass through frozen attention, written plainly."""
    rep, sources = frozen.replacement, frozen.sources
    f_layer, f_pos = int(sources.layers[feature_column]), int(sources.positions[feature_column])
    f_index, activation = int(sources.indices[feature_column]), float(sources.activations[feature_column])

    def stream(ablate):
        resid = rep.run.embedding.clone()
        for below in range(layer):
            resid = resid + rep.attention(below, resid) + rep.run.mlp_output[below]
            if ablate and below == f_layer:
                resid[f_pos] -= activation * rep.W_dec[below][f_index]
        return resid

    def projected(resid, position, W, b):
        w1, b1 = rep.ln[layer][0], rep.ln[layer][1]
        return (center(resid[position]) / rep.run.ln1_scale[layer, position] * w1 + b1) @ W + b

    q = projected(stream(False), query_pos, model.W_Q[layer, head].float(), model.b_Q[layer, head].float())
    k = projected(stream(True), key_pos, model.W_K[layer, head].float(), model.b_K[layer, head].float())
    turn_q, turn_k = rotation(model, layer, query_pos, q.shape[0]), rotation(model, layer, key_pos, k.shape[0])
    if turn_q is not None:
        q, k = q @ turn_q, k @ turn_k
    return float(q @ k) / attention_scale(model, layer, q.shape[0])


def test_ablating_a_key_side_feature_moves_the_score_as_its_row_says(setup):
    model, transcoders, frozen = setup
    L, n = model.cfg.n_layers, frozen.n
    layer, head, query_pos, key_pos = L - 1, 0, n - 1, n - 3
    with torch.inference_mode():
        result = qk_attribution(model, transcoders, PROMPT, layer, head, query_pos, key_pos, frozen=frozen)
        features = [i for i, node in enumerate(result.key_nodes) if node["kind"] == "feature"]
        assert features, "no feature below the head on the key side"
        strongest = max(features, key=lambda i: abs(float(result.key_marginal[i])))
        node = result.key_nodes[strongest]
        column = next(c for c in range(frozen.sources.error_offset) if frozen.describe(c) == node)
        ablated = key_side_score_without(frozen, model, layer, head, query_pos, key_pos, column)
    assert ablated - result.score == pytest.approx(-float(result.key_marginal[strongest]), rel=1e-4, abs=1e-4)


def test_the_bias_node_is_the_stream_with_every_source_at_zero(setup):
    model, _, frozen = setup
    rep = frozen.replacement
    resid = constant_stream(rep, 1)
    expected = rep.attention(0, torch.zeros_like(rep.run.embedding)) + rep.b_dec[0]
    torch.testing.assert_close(resid, expected)


def test_bad_heads_and_positions_are_refused_with_the_fix(setup):
    model, transcoders, frozen = setup
    n = frozen.n
    with pytest.raises(InterpWidgetsError, match="head 99 is out of range"):
        qk_attribution(model, transcoders, PROMPT, 0, 99, n - 1, 0, frozen=frozen)
    with pytest.raises(InterpWidgetsError, match="layer -1 is out of range"):
        qk_attribution(model, transcoders, PROMPT, -1, 0, n - 1, 0, frozen=frozen)
    with pytest.raises(InterpWidgetsError, match="key_pos <= query_pos"):
        qk_attribution(model, transcoders, PROMPT, 0, 0, 2, 5, frozen=frozen)


def test_all_heads_at_once_equal_one_head_at_a_time(setup):
    from interp_widgets.compute.attribution.qk import qk_attributions

    model, transcoders, frozen = setup
    n, layer = frozen.n, model.cfg.n_layers - 1
    together = qk_attributions(model, transcoders, PROMPT, layer, n - 1, 2, frozen=frozen)
    assert [result.head for result in together] == list(range(model.cfg.n_heads))
    for result in together:
        alone = qk_attribution(model, transcoders, PROMPT, layer, result.head, n - 1, 2, frozen=frozen)
        torch.testing.assert_close(result.pairs, alone.pairs)
        assert result.query_nodes == alone.query_nodes and result.key_nodes == alone.key_nodes
