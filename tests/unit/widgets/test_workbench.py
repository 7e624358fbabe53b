"""The workbench (iw.explore): tabs around one selection, built when first shown, caught up only when what they read changed."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.patching.default_pair import corrupt_prompt, patching_pair
from interp_widgets.compute.patching.tasks import differing_positions
from interp_widgets.widgets._base import BaseWidget
from interp_widgets.widgets._wire import from_wire
from interp_widgets.widgets.registry import BENCH_TABS, WIDGETS

PROMPT = "salt and pepper, bread and butter"
OTHER = "The cat sat on the mat and the dog sat on the rug"


def ask(widget, type_, **payload):
    return widget.handle_request({"kind": "request", "id": "t", "type": type_, "payload": payload})


@pytest.fixture(scope="module")
def parts():
    return iw.load_model(), {"4x": iw.load_sae("4x")}


@pytest.fixture
def counted(monkeypatch):
    """Every recompute (BaseWidget._apply) and every message a view sends to the front-end, by view class."""
    computes, sends = [], []
    apply, send = BaseWidget._apply, BaseWidget.send

    def counting_apply(self, inputs):
        computes.append(type(self).__name__)
        return apply(self, inputs)

    def counting_send(self, *args, **kwargs):
        sends.append(type(self).__name__)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(BaseWidget, "_apply", counting_apply)
    monkeypatch.setattr(BaseWidget, "send", counting_send)
    return computes, sends


def test_every_bench_tab_is_a_registered_view_with_from_selection():
    names = {row.name for row in WIDGETS}
    for tab in BENCH_TABS:
        assert tab.name in names
        assert callable(getattr(getattr(iw, tab.name), "from_selection", None)), tab.name
    assert len({tab.label for tab in BENCH_TABS}) == len(BENCH_TABS)


def test_only_the_first_tab_is_computed_at_open(parts, counted):
    computes, _ = counted
    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    assert list(bench.views) == ["Highlights"] and computes == ["TokenHighlights"]
    assert [tab.label for tab in bench.tabs_shown] == [tab.label for tab in BENCH_TABS]
    assert bench.current is bench.views["Highlights"] and bench.current.prompt == PROMPT


def test_hidden_views_catch_up_once_and_up_to_date_tabs_cost_nothing(parts, counted):
    computes, sends = counted
    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    grid, attention = bench.show("Lens grid"), bench.show("Attention")
    bench.show("Highlights")
    computes.clear()
    bench.prompt_box.value = OTHER  # the bench's prompt box: the selection changes once
    assert bench.selection.prompt == OTHER and computes == ["TokenHighlights"], "a hidden view recomputed"
    assert grid.prompt == PROMPT
    computes.clear()
    bench.show("Lens grid")
    assert computes == ["LogitLensGrid"] and grid.prompt == OTHER and grid.tokens == parts[0].to_str_tokens(OTHER)
    bench.show("Highlights")
    computes.clear(), sends.clear()
    bench.show("Lens grid")  # up to date: nothing computed, nothing sent
    assert computes == [] and sends == []
    bench.feature_box.value = 7  # the grid does not read the feature: showing it again computes nothing
    computes.clear()
    bench.show("Attention")
    bench.show("Lens grid")
    assert computes == ["AttentionView"] or computes == [], computes  # attention caught up on the prompt only if stale
    assert "LogitLensGrid" not in computes


def test_a_feature_picked_in_the_browser_moves_dashboard_and_highlights(parts):
    model, saes = parts
    bench = iw.explore(model, saes, prompt=PROMPT, index_tokens=64 * 20)
    reply = ask(bench.show("Browser"), "select", feature=12)
    assert reply["ok"], reply
    assert bench.selection.feature == 12 and bench.feature_box.value == 12
    assert bench.show("Dashboard").feature == 12
    highlights = bench.show("Highlights")
    with torch.inference_mode():
        expected = saes["4x"].encode(model.run_with_cache(PROMPT)[1]["blocks.0.hook_resid_post"][0])[:, 12]
    torch.testing.assert_close(from_wire(highlights.values)[0], expected)


def test_a_prompt_typed_in_a_view_reaches_the_others(parts):
    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    norms = bench.show("Norms")
    assert ask(norms, "set", prompt=OTHER)["ok"]
    assert bench.prompt_box.value == OTHER
    assert bench.show("Highlights").prompt == OTHER and bench.show("Patching").clean_prompt == OTHER


def test_model_only_bench_and_names(parts):
    bench = iw.explore(parts[0], prompt=PROMPT)
    assert [tab.label for tab in bench.tabs_shown] == [tab.label for tab in BENCH_TABS if not tab.needs_sae]
    assert list(bench.views) == ["Norms"]
    with pytest.raises(iw.InterpWidgetsError, match="no tab 'Highlights'"):
        bench.show("Highlights")
    with pytest.raises(iw.InterpWidgetsError, match="no SAE"):
        bench.selection.current_sae
    named = iw.explore("default", prompt=PROMPT)
    assert named.selection.model.cfg.n_layers == parts[0].cfg.n_layers


def test_patching_defaults_swap_one_token_and_measure_the_top_answers(parts):
    model = parts[0]
    corrupt = corrupt_prompt(model, OTHER)
    assert len(differing_positions(model, OTHER, corrupt)) == 1
    same, (answer, wrong) = patching_pair(model, OTHER, corrupt)
    assert same == corrupt
    with torch.inference_mode():
        clean_logits = model(OTHER)[0, -1]
        corrupt_logits = model(corrupt)[0, -1]
    assert answer == int(clean_logits.argmax())
    expected_wrong = int(corrupt_logits.argmax()) if int(corrupt_logits.argmax()) != answer else int(clean_logits.topk(2).indices[1])
    assert wrong == expected_wrong


def test_the_bench_leaves_a_static_snapshot_of_the_tab_on_screen(parts):
    bench = iw.explore(parts[0], parts[1], prompt='a <b>bold</b> & "quoted" prompt', index_tokens=64 * 20)
    data, _ = bench._repr_mimebundle_()
    page = data["text/html"]
    assert "static snapshot" in page and "<script" not in page.lower() and "<b>bold" not in page and "&lt;" in page and "&amp;" in page
    assert bench.views["Highlights"].to_static_html() in page and "showing Highlights" in data["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in data and "application/vnd.interp-widgets.view+json" in data
    bench.show("Norms")
    assert bench.views["Norms"].to_static_html() in bench.to_static_html()


def test_a_hidden_view_that_cannot_follow_says_why_when_shown_and_keeps_its_view(parts):
    bench = iw.explore(parts[0], prompt=PROMPT)
    patching = bench.show("Patching")
    bench.show("Norms")
    bench.selection.choose(prompt="")  # no token to corrupt: patching cannot follow
    assert patching.clean_prompt == PROMPT and patching._linked_error == ""  # hidden: nothing tried yet
    bench.show("Patching")
    assert "prompt is empty" in patching._linked_error and patching.clean_prompt == PROMPT
    bench.show("Norms")
    bench.selection.choose(prompt=OTHER)
    bench.show("Patching")
    assert patching._linked_error == "" and patching.clean_prompt == OTHER
