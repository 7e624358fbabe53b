"""Attention view: packed causal patterns, one layer at a time, head scores, CircuitsVis' arguments."""

import pytest
import torch

from interp_widgets.attention import attention_heads
from interp_widgets.compute.residual.attention_patterns import layer_patterns, pack_lower_triangle, unpack_lower_triangle
from interp_widgets.compute.residual.head_scores import attention_patterns
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import AttentionView
from interp_widgets.widgets._wire import from_wire
from tests.widget_requests import request

PROMPT = "When Mary and John went to the store, John gave a drink to"


def test_lower_triangle_packing_round_trips():
    patterns = torch.rand(3, 5, 5).tril()
    packed = pack_lower_triangle(patterns)
    assert packed.shape == (3, 15)
    assert torch.equal(unpack_lower_triangle(packed, 5), patterns)
    assert torch.equal(packed[0, :3], torch.tensor([patterns[0, 0, 0], patterns[0, 1, 0], patterns[0, 1, 1]]))


def test_layer_patterns_equal_the_full_cache(toy):
    tokens = toy.to_tokens(PROMPT)
    full = attention_patterns(toy, tokens)  # [n_layers, batch, heads, q, k]
    for layer in range(toy.cfg.n_layers):
        torch.testing.assert_close(layer_patterns(toy, tokens, layer), full[layer, 0])
    with pytest.raises(InterpWidgetsError, match="layer 2 is out of range: the model has 2 layers"):
        layer_patterns(toy, tokens, 2)


def test_view_sends_one_layer_in_float16_and_fetches_another(toy):
    view = AttentionView.from_model(toy, PROMPT)
    tokens = toy.to_tokens(PROMPT)
    n = tokens.shape[1]
    wire = view.get_state("patterns")["patterns"]  # what the front-end receives (the Array trait's serializer)
    assert wire["dtype"] == "float16" and wire["shape"] == [4, n * (n + 1) // 2]
    full = attention_patterns(toy, tokens)
    torch.testing.assert_close(view.pattern(2), full[0, 0, 2], atol=1e-3, rtol=1e-3)
    reply = request(view, "show", {"layer": 1, "head": 3}, id="v-1")
    assert reply["ok"] and (view.layer, view.head) == (1, 3)
    torch.testing.assert_close(view.pattern(), full[1, 0, 3], atol=1e-3, rtol=1e-3)
    reply = request(view, "show", {"layer": 5, "head": 0}, id="v-2")
    assert not reply["ok"] and "layer 5 is out of range" in reply["error"] and view.layer == 1
    reply = request(view, "show", {"layer": 0, "head": 9}, id="v-3")
    assert not reply["ok"] and "head 9 is out of range: each layer has 4 heads" in reply["error"]
    reply = request(view, "set", {"prompt": "A B A B"}, id="v-4")
    assert reply["ok"] and view.layer == 1 and len(view.tokens) == len(toy.to_str_tokens("A B A B"))
    scores = from_wire(view.scores)
    assert scores.shape == (4, 2, 4) and not scores.isnan().any()
    assert "L1H3" in view.to_text() and "<script" not in view.to_static_html()


def test_view_scores_find_the_embedded_models_heads():
    import interp_widgets as iw

    model = iw.load_model()
    view = AttentionView.from_model(model, PROMPT)
    scores = from_wire(view.scores)
    previous, induction = scores[view.score_names.index("previous_token")], scores[view.score_names.index("induction")]
    assert divmod(int(previous.argmax()), 4) == (0, 3) and int(induction.argmax()) // 4 == 1


def test_circuitsvis_arguments_give_the_same_view():
    attention = torch.rand(2, 4, 4).tril()
    attention = attention / attention.sum(-1, keepdim=True)
    view = attention_heads(attention, ["<b>", " a", " b", " c"], max_value=1.0, positive_color="red")
    assert view.tokens == ["<b>", " a", " b", " c"] and view.n_layers == 1 and view.n_heads == 2
    torch.testing.assert_close(view.pattern(1), attention[1], atol=1e-3, rtol=1e-3)
    scores = from_wire(view.scores)
    assert scores[1:3].isnan().all() and not scores[[0, 3]].isnan().any()  # induction needs a model
    with pytest.raises(InterpWidgetsError, match="got 3 tokens but attention over 4 positions"):
        attention_heads(attention, ["a", "b", "c"])
    with pytest.raises(InterpWidgetsError, match="fixed patterns"):
        view.set_prompt("x")
