"""The edge graph: senders, receivers and edges, counted as the papers count them, named as transformer-lens names them."""

from types import SimpleNamespace

import pytest

from interp_widgets.compute.circuits import Node, edge_graph
from interp_widgets.errors import InterpWidgetsError


def shaped(n_layers, n_heads, n_kv=None, parallel=False, attn_only=False):
    cfg = SimpleNamespace(n_layers=n_layers, n_heads=n_heads, d_model=8, n_key_value_heads=n_kv, parallel_attn_mlp=parallel,
                          attn_only=attn_only)
    return SimpleNamespace(cfg=cfg, blocks=[SimpleNamespace(attn=1, mlp=1) for _ in range(n_layers)])


def test_gpt2_small_has_the_published_32491_edges():
    graph = edge_graph(shaped(12, 12))
    assert len(graph.senders) == 1 + 12 * 13 and len(graph.receivers) == 12 * 37 + 1
    assert graph.n_edges == 32491


def test_edges_follow_the_order_of_computation():
    graph = edge_graph(shaped(2, 2))
    assert graph.valid[graph.sender_index(Node("attn_head_out", 0, 1)), graph.receiver_index(Node("mlp_in", 0))]
    assert not graph.valid[graph.sender_index(Node("attn_head_out", 0, 1)), graph.receiver_index(Node("q_input", 0, 0))]
    assert not graph.valid[graph.sender_index(Node("mlp_out", 0)), graph.receiver_index(Node("mlp_in", 0))]
    assert graph.valid[graph.sender_index(Node("mlp_out", 1)), graph.receiver_index(Node("logits", 1))]
    with pytest.raises(InterpWidgetsError, match="not an edge"):
        graph.edge_index(Node("mlp_out", 1), Node("q_input", 1, 0))


def test_parallel_attention_mlps_do_not_read_their_own_layers_heads():
    sequential, parallel = edge_graph(shaped(2, 3)), edge_graph(shaped(2, 3, parallel=True))
    head, mlp_in = Node("attn_head_out", 1, 2), Node("mlp_in", 1)
    assert sequential.valid[sequential.sender_index(head), sequential.receiver_index(mlp_in)]
    assert not parallel.valid[parallel.sender_index(head), parallel.receiver_index(mlp_in)]
    assert sequential.n_edges - parallel.n_edges == 2 * 3


def test_grouped_query_attention_has_one_key_and_value_receiver_per_shared_head():
    graph = edge_graph(shaped(2, 4, n_kv=2))
    kinds = [n.kind for n in graph.receivers if n.layer == 0]
    assert kinds.count("q_input") == 4 and kinds.count("k_input") == 2 and kinds.count("v_input") == 2
    assert graph.receiver_component(graph.receiver_index(Node("k_input", 1, 1))) == [
        graph.sender_index(Node("attn_head_out", 1, 2)), graph.sender_index(Node("attn_head_out", 1, 3))]


def test_attention_only_models_have_no_mlp_nodes():
    graph = edge_graph(shaped(2, 2, attn_only=True))
    assert not any(n.kind in ("mlp_out", "mlp_in") for n in graph.senders + graph.receivers)


def test_nodes_carry_transformer_lens_names_both_ways():
    from tests.unit.circuits.conftest import transformer_lens_attribution

    transformer_lens_attribution()
    node = Node("q_input", 1, 3)
    tl = node.to_transformer_lens(position=4)
    assert (tl.kind, tl.layer, tl.head, tl.position) == ("q_input", 1, 3, 4)
    assert Node.of(tl) == Node("q_input", 1, 3, 4) and Node.of(tl).name == "a1.h3.q@4"
    assert [Node("embed").name, Node("mlp_in", 2).name, Node("logits", 5).name] == ["embed", "m2.in", "logits"]


def test_a_model_without_attention_in_every_block_is_refused():
    model = shaped(2, 2)
    model.blocks[1] = SimpleNamespace(mlp=1)
    with pytest.raises(InterpWidgetsError, match="every block has attention"):
        edge_graph(model)
