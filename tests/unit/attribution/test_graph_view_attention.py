"""GraphView's attention requests: a hovered edge's head loadings sum to the drawn edge, "why attend?"
fills the panel with the head's QK attribution (also in the text and the snapshot), a pair's feature
opens through the linked Selection, and a view without its model says what it needs."""

import pytest

import interp_widgets as iw
from interp_widgets.compute.attribution.drawn import FEATURE, LOGIT
from interp_widgets.compute.attribution.qk import qk_attribution
from tests.widget_requests import request

PROMPT = "The cat sat on the mat. The cat sat on the"


@pytest.fixture(scope="module")
def setup():
    return iw.load_model(), iw.load_transcoders("embedded")


@pytest.fixture(scope="module")
def view(setup):
    model, transcoders = setup
    return iw.GraphView.from_model(model, transcoders, PROMPT)


def test_a_hovered_edges_head_parts_sum_to_the_drawn_weight(view):
    strongest = view.edge_weight.abs().argsort(descending=True)[:8].tolist()
    crossing = 0
    for e in strongest:
        source, target = int(view.edge_source[e]), int(view.edge_target[e])
        reply = request(view, "edge_heads", {"source": source, "target": target})
        assert reply["ok"], reply
        result = reply["result"]
        assert result["total"] == pytest.approx(float(view.edge_weight[e]), rel=1e-4, abs=1e-5)
        heads = sum(part for _, _, part in result["heads"])
        assert abs(result["total"] - result["direct"]) >= abs(heads) - 1e-5 or len(result["heads"]) == 5
        same_position = int(view.node_pos[source]) == (int(view.node_pos[target]) if int(view.node_kind[target]) != LOGIT else len(view.token_strings) - 1)
        if not same_position:  # across positions, everything passes through attention
            crossing += 1
            assert result["direct"] == 0.0 and result["heads"]
    assert crossing > 0


def test_why_attend_fills_the_panel_text_and_snapshot(setup, view):
    model, transcoders = setup
    n = len(view.token_strings)
    reply = request(view, "why_attend", {"layer": 1, "head": 0, "query": n - 1, "key": 3}, id=2)
    assert reply["ok"], reply
    found = view.attention
    expected = qk_attribution(model, transcoders, PROMPT, 1, 0, n - 1, 3)
    assert found["score"] == pytest.approx(expected.score, rel=1e-5)
    assert found["weight"] == pytest.approx(float(expected.weight))
    top = expected.top_pairs(10)
    assert [round(part, 6) for _, _, part, _, _ in found["pairs"]] == [round(part, 6) for _, _, part in top]
    assert any(q is not None or k is not None for _, _, _, q, k in found["pairs"])  # features are clickable
    assert "why head L1H0" in view.to_text() and "why head L1H0" in view.to_static_html() and "why head L1H0" in view.to_svg()
    assert "&#x27;" in view.to_static_html() or "'" not in found["description"]  # token text is escaped


def test_bad_head_keeps_the_panel_and_says_why(view):
    before = dict(view.attention)
    reply = request(view, "why_attend", {"layer": 1, "head": 99, "query": 3, "key": 1}, id=3)
    assert not reply["ok"] and "head 99 is out of range" in reply["error"]
    assert view.attention == before


def test_a_pairs_feature_opens_in_the_linked_selection(setup):
    model, transcoders = setup
    selection = iw.Selection(model, saes={f"transcoder L{layer}": tc for layer, tc in enumerate(transcoders)}, prompt=PROMPT)
    view = iw.GraphView.from_selection(selection, transcoders, use_index=False)
    n = len(view.token_strings)
    assert request(view, "why_attend", {"layer": 1, "head": 2, "query": n - 1, "key": n - 5})["ok"]
    layer, feature, position = next(f for pair in view.attention["pairs"] for f in pair[3:] if f is not None)
    reply = request(view, "open_feature", {"layer": layer, "feature": feature, "position": position}, id=4)
    assert reply["ok"] and reply["result"]["published"]
    assert selection.sae == f"transcoder L{layer}" and selection.feature == feature


def test_a_file_graph_without_its_model_says_what_it_needs(setup, view, tmp_path):
    path = view.save_json(tmp_path / "graph.json")
    alone = iw.GraphView.from_json(path)
    features = [i for i in range(len(alone.labels)) if int(alone.node_kind[i]) == FEATURE]
    e = int(((alone.edge_target == features[-1])).nonzero()[0, 0]) if (alone.edge_target == features[-1]).any() else 0
    reply = request(alone, "edge_heads", {"source": int(alone.edge_source[e]), "target": int(alone.edge_target[e])})
    assert not reply["ok"] and "need the model and its transcoders" in reply["error"]
    model, transcoders = setup
    with_model = iw.GraphView.from_json(path, model=model, transcoders=transcoders)
    e = int(with_model.edge_weight.abs().argmax())
    reply = request(with_model, "edge_heads", {"source": int(with_model.edge_source[e]), "target": int(with_model.edge_target[e])})
    assert reply["ok"] and reply["result"]["total"] == pytest.approx(float(with_model.edge_weight[e]), rel=1e-3, abs=1e-4)
