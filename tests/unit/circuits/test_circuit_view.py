"""CircuitView's state: traits equal the maths, requests answer as the front-end asks, errors keep the view,
the snapshot is escaped and script-free, the prompt is shared through a Selection."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.circuits import edge_attribution, edge_effects, faithfulness_curve, prepare
from tests.widget_requests import ask


@pytest.fixture(scope="module")
def view(six_layer, docstring_pairs):
    return iw.CircuitView.from_model(six_layer, docstring_pairs[0])


def test_traits_are_the_maths(view, six_layer, docstring_pairs):
    pair = docstring_pairs[0]
    pairs = [(pair.clean, pair.corrupt, pair.answer, pair.wrong)]
    run = prepare(six_layer, pairs)
    scores = edge_attribution(six_layer, pairs, prepared=run)
    top = scores.top(5)
    assert [view.sender_names[int(s)] for s in view.edge_sender[:5]] == [u.name for u, _, _ in top]
    assert [view.receiver_names[int(r)] for r in view.edge_receiver[:5]] == [v.name for _, v, _ in top]
    torch.testing.assert_close(view.edge_score[:5], torch.tensor([s for *_, s in top]))
    curve = faithfulness_curve(six_layer, pairs, scores, prepared=run)
    torch.testing.assert_close(view.curve_recovered, curve.recovered.float())
    assert view.circuit_size in view.curve_sizes.tolist() and view.recovered_at() >= 0.8
    assert view.n_edges == scores.graph.n_edges and view.method == "EAP"
    assert view.sender_xy.shape == (len(view.sender_names), 2) and view.patterns.dtype == torch.float16
    state = view.get_state()
    assert isinstance(state["edge_score"]["view"], memoryview)  # arrays go as binary buffers


def test_an_edge_click_answers_with_its_exact_effect(view, six_layer, docstring_pairs):
    reply = ask(view, "edge", index=1)
    assert reply["ok"], reply
    s, r = int(view.edge_sender[1]), int(view.edge_receiver[1])
    pair = docstring_pairs[0]
    exact = edge_effects(six_layer, [(pair.clean, pair.corrupt, pair.answer, pair.wrong)], [(s, r)])
    assert reply["result"]["exact"] == pytest.approx(float(exact[0]), abs=1e-4)
    assert view.selected_edge["sender"] == view.sender_names[s]
    bad = ask(view, "edge", index=10**6)
    assert not bad["ok"] and "not drawn" in bad["error"]


def test_a_new_pair_recomputes_and_a_bad_one_keeps_the_view(six_layer, docstring_pairs):
    widget = iw.CircuitView.from_model(six_layer, docstring_pairs[0])
    before = widget.edge_score.clone()
    reply = ask(widget, "set", prompt="The cat sat", corrupt="The cat sat on the mat", answer=" on", wrong=" in")
    assert not reply["ok"] and "equal lengths" in reply["error"]
    assert torch.equal(widget.edge_score, before) and widget.prompt == docstring_pairs[0].clean
    assert not ask(widget, "set", ig_steps=0)["ok"] and torch.equal(widget.edge_score, before)
    other = docstring_pairs[1]
    reply = ask(widget, "set", prompt=other.clean, corrupt=other.corrupt, answer=other.answer, wrong=other.wrong, ig_steps=2)
    assert reply["ok"], reply
    assert widget.prompt == other.clean and widget.method == "EAP-IG (2 steps)" and not torch.equal(widget.edge_score, before)


def test_snapshot_and_text_are_escaped_and_say_the_numbers(six_layer):
    hostile = '<img src=x onerror=alert(1)> def f(a, b):'
    widget = iw.CircuitView.from_model(six_layer, clean=hostile, corrupt=hostile.replace("a,", "c,"), answer=" a", wrong=" c")
    snapshot = widget.to_static_html()
    assert "<img" not in snapshot and "<script" not in snapshot.lower() and "&lt;img" in snapshot
    assert widget.sender_names[int(widget.edge_sender[0])] in widget.to_text()
    assert f"{float(widget.edge_score[0]):+.4f}" in snapshot and "<svg" in snapshot


def test_the_prompt_is_shared_with_an_attention_view_through_a_selection(six_layer):
    selection = iw.Selection(six_layer, None, prompt="When Mary and John went to the store, John gave a drink to")
    circuit = iw.CircuitView.from_selection(selection)
    attention = iw.AttentionView.from_selection(selection)
    assert circuit.prompt == attention.prompt == selection.prompt
    from interp_widgets.compute.patching.tasks import ioi_pair

    pair = ioi_pair(six_layer, seed=3)
    new = pair.clean
    reply = ask(circuit, "set", prompt=new, corrupt=pair.corrupt, answer=pair.answer, wrong=pair.wrong)
    assert reply["ok"], reply
    assert selection.prompt == new and attention.prompt == new
    selection.choose(prompt="When Mary and John went to the store, John gave a drink to")
    assert circuit.prompt == selection.prompt and len(circuit.corrupt) > 0


def test_a_hovered_head_is_the_head_the_attention_view_shows(six_layer):
    selection = iw.Selection(six_layer, None, prompt="When Mary and John went to the store, John gave a drink to")
    circuit = iw.CircuitView.from_selection(selection)
    attention = iw.AttentionView.from_selection(selection)
    assert (attention.layer, attention.head) == (0, 0) and selection.head == ""
    reply = ask(circuit, "head", layer=4, head=7)
    assert reply["ok"] and reply["result"]["published"], reply
    assert selection.head == "L4H7" and (attention.layer, attention.head) == (4, 7)
    from interp_widgets.compute.residual.attention_patterns import layer_patterns, pack_lower_triangle
    from interp_widgets.compute.core.hooks import tokenize

    expected = pack_lower_triangle(layer_patterns(six_layer, tokenize(six_layer, selection.prompt), 4))
    torch.testing.assert_close(attention.patterns.float(), expected.float(), atol=1e-3, rtol=0)  # the layer on screen is the head's
    bad = ask(circuit, "head", layer=99, head=0)
    assert not bad["ok"] and "no head L99H0" in bad["error"] and selection.head == "L4H7"
    with pytest.raises(iw.InterpWidgetsError, match="named like 'L1H3'"):
        iw.AttentionView.from_model(six_layer, "some text", focus="layer 4")
