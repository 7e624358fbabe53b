"""Widget state: build widgets, act as the front-end would, and check the kernel's answers."""

import html
import re

import pytest
import torch
from ipywidgets.widgets.widget import _remove_buffers

import interp_widgets as iw
from interp_widgets.compute import token_values, NeuronReadout
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.tokens import colored_tokens, colored_tokens_multi
from interp_widgets.widgets import TokenHighlights
from interp_widgets.widgets._display import SNAPSHOT_NOTE
from interp_widgets.widgets._snapshot import no_maths
from tests.widget_requests import FrontEnd

HOOK = "blocks.0.hook_resid_post"


def test_unknown_keyword_lists_the_valid_ones():
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'colour'.*Valid ones: active_series, .*values"):
        TokenHighlights(tokens=["a"], values=[1.0], colour="red")


def test_values_travel_as_a_binary_buffer():
    widget = colored_tokens(["a", "b", "c"], [0.5, -1.0, 2.0])
    state = widget.get_state()
    stripped, paths, buffers = _remove_buffers(state)
    assert ["values", "view"] in paths
    assert bytes(buffers[paths.index(["values", "view"])]) == torch.tensor([[0.5, -1.0, 2.0]]).numpy().tobytes()
    assert "0.5" not in repr(stripped["values"])


def test_cheap_repr_and_text_form():
    widget = colored_tokens([f"t{i}" for i in range(2048)], torch.arange(2048.0))
    assert repr(widget) == "TokenHighlights(2048 tokens, 1 series, showing 0)"
    text = widget.to_text()
    assert "   39          39  't39'" in text and "… 2008 more tokens" in text


def test_static_snapshot_is_escaped_and_script_free():
    evil = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", " &amp;"]
    widget = colored_tokens(evil, [1.0, -1.0, 0.5])
    snapshot = widget.to_static_html()
    assert "<script" not in snapshot.lower() and "<img" not in snapshot.lower()
    assert "onerror" not in re.sub(r">[^<]*<", "><", snapshot)  # only ever inside text nodes
    for token in evil:
        assert html.escape(token.replace(" ", "\u00b7")) in snapshot
    bundle, _metadata = widget._repr_mimebundle_()
    assert bundle["text/html"] == no_maths(snapshot + SNAPSHOT_NOTE) and bundle["text/plain"] == widget.to_text()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_snapshot_colours_follow_the_values():
    widget = colored_tokens(["lo", "mid", "hi"], [-2.0, 0.0, 2.0])
    spans = re.findall(r'<span( class="(\w+)")? title="([^"]+)">([^<]*)</span>', widget.to_static_html())
    assert [(cls, title, text) for _, cls, title, text in spans] == [("n8", "-2", "lo"), ("", "0", "mid"), ("p8", "2", "hi")]


def test_plain_data_checks():
    with pytest.raises(InterpWidgetsError, match="got 2 tokens but 3 values"):
        colored_tokens(["a", "b"], [1.0, 2.0, 3.0])
    with pytest.raises(InterpWidgetsError, match="NaN or infinity at series 0 position 1"):
        colored_tokens(["a", "b"], [1.0, float("nan")])
    with pytest.raises(InterpWidgetsError, match="got 1 series names for 2 series"):
        TokenHighlights(tokens=["a"], values=[[1.0], [2.0]], series_names=["x"])


def test_colored_tokens_multi_accepts_circuitsvis_orientation():
    values = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])  # [n_tokens, n_labels]
    widget = colored_tokens_multi(["a", "b", "c"], values, ["small", "large"])
    assert widget.series_names == ["small", "large"]
    torch.testing.assert_close(widget.series(), values.T)


def test_front_end_switches_series_and_the_snapshot_follows():
    widget = colored_tokens_multi(["a", "b"], torch.tensor([[1.0, -5.0], [2.0, 6.0]]), ["first", "second"])
    assert "first" in widget.to_text()
    widget.set_state({"active_series": 1})  # what the front-end's model.save_changes() does
    assert "second" in widget.to_text() and "second" in widget.to_static_html()


def answer(widget, sent, request):
    """Send a request as the front-end does (`sent`: its FrontEnd); a setter runs on the widget's worker thread, so wait for its reply."""
    sent.send(request["type"], request["id"], **request["payload"])
    (reply,) = sent.wait(1)
    return reply


@pytest.fixture()
def live(toy):
    widget = TokenHighlights.from_model(toy, "The cat sat", hook=HOOK, directions=[3, 7], names=["n3", "n7"])
    return widget, FrontEnd(widget)


def test_set_prompt_request_recomputes(toy, live):
    widget, sent = live
    reply = answer(widget, sent, {"id": 41, "type": "set", "payload": {"prompt": "Hello there"}})
    assert reply == {"kind": "reply", "id": 41, "ok": True, "result": {"set": ["prompt"]}, "buffer_paths": []}
    tokens, expected = token_values(toy, "Hello there", HOOK, [NeuronReadout(3), NeuronReadout(7)])
    assert widget.tokens == tokens and widget.prompt == "Hello there"
    torch.testing.assert_close(widget.series(), expected)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"prompt": ""}, "the prompt is empty"),
        ({"prompt": "word " * 400}, "context is 128 tokens"),
    ],
)
def test_bad_prompt_answers_with_an_error_and_keeps_the_view(live, payload, message):
    widget, sent = live
    before = (list(widget.tokens), widget.series().clone())
    reply = answer(widget, sent, {"id": 7, "type": "set", "payload": payload})
    assert reply["id"] == 7 and reply["ok"] is False and message in reply["error"]
    assert widget.tokens == before[0] and torch.equal(widget.series(), before[1])


def test_unexpected_exception_is_reported_with_traceback(live, monkeypatch):
    widget, sent = live
    reply = answer(widget, sent, {"id": 8, "type": "set", "payload": {"prompt": "x", "bogus": 1}})  # a misspelled input: said so
    assert reply["ok"] is False and reply["error"] == "TokenHighlights has no input 'bogus': the view can change prompt."

    def broken(*args):
        raise TypeError("a bug deep inside")

    monkeypatch.setattr(widget, "compute", broken)
    sent.clear()
    reply = answer(widget, sent, {"id": 9, "type": "set", "payload": {"prompt": "x"}})
    assert reply["ok"] is False and reply["error"].startswith("TypeError") and "last_traceback" in reply["error"]
    assert "Traceback" in widget.last_traceback


def test_static_view_cannot_edit_prompt():
    reply = colored_tokens(["a"], [1.0]).handle_request({"id": 1, "type": "set", "payload": {"prompt": "x"}})
    assert reply["ok"] is False and "TokenHighlights.from_model" in reply["error"]


def test_from_model_with_a_vector_and_sae(toy):
    from tests.unit.core.test_compute import TinySAE

    sae = TinySAE(64, 16, hook_name=HOOK)
    widget = TokenHighlights.from_model(toy, "The cat", directions=[(sae, 2), torch.ones(64)])
    assert widget.series_names == ["feature 2", "direction"] and widget.title == HOOK
    with pytest.raises(InterpWidgetsError, match="pass hook="):
        TokenHighlights.from_model(toy, "The cat", directions=3)


def test_lazy_top_level_api():
    assert iw.TokenHighlights is TokenHighlights
    assert iw.colored_tokens is colored_tokens


def test_a_series_that_is_zero_everywhere_says_so():
    widget = colored_tokens(["a", "b"], [0.0, 0.0])
    assert "0 at every token of this prompt (it never fires here)" in widget.to_static_html()
    assert "never fires" in widget.to_text()
    assert "never fires" not in colored_tokens(["a", "b"], [0.0, 1.0]).to_static_html()


def test_multi_series_share_one_scale_and_the_legend_says_which():
    # Series 0 is all positive, series 1 has negatives: a per-series scale would switch kinds.
    values = [[1.0, -2.0], [2.0, 4.0]]  # [n_tokens, n_labels]
    shared = colored_tokens_multi(["a", "b"], values, ["pos", "mixed"])
    assert shared.shared_scale
    for index in (0, 1):
        shared.active_series = index
        assert "diverging around 0" in shared.to_static_html() and "one scale for all series" in shared.to_static_html()
    own = colored_tokens_multi(["a", "b"], values, ["pos", "mixed"], shared_scale=False)
    assert "sequential: orange = high; scale of this series" in own.to_static_html()
    own.active_series = 1
    assert "diverging around 0" in own.to_static_html()


def test_snapshot_has_lighter_hues_for_dark_themes():
    snapshot = colored_tokens(["lo", "hi"], [-1.0, 1.0]).to_static_html()
    assert 'body[data-jp-theme-light="false"] .iw-s .n8{background:rgba(94, 166, 232, 0.850)}' in snapshot
    assert ".iw-s .n8{background:rgba(33, 102, 172, 0.850)}" in snapshot
