"""The workbench (iw.explore): tabs around one selection, built when first shown, caught up only when what they read changed."""

import re

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.patching.default_pair import corrupt_prompt, patching_pair
from interp_widgets.compute.patching.tasks import differing_positions
from interp_widgets.widgets._base import BaseWidget
from interp_widgets.widgets._wire import from_wire
from interp_widgets.widgets.registry import BENCH_TABS, WIDGETS
from tests.widget_requests import ask

PROMPT = "salt and pepper, bread and butter"
OTHER = "The cat sat on the mat and the dog sat on the rug"


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


# ---- what a new user hit (issue 36) ----------------------------------------------------------

def test_the_lens_grids_target_token_ranks_a_token_and_leaves_the_selections_target(parts):
    """The grid's token to follow is `target_token`; `target` stays the selection's position (an int)."""
    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    grid = bench.show("Lens grid")
    reply = ask(grid, "set", target_token=" the")
    assert reply["ok"], reply
    assert grid.target_token == " the" and from_wire(grid.target_rank).shape == (len(grid.labels), len(grid.tokens))
    assert bench.selection.target == -1 and not grid._linked_error
    assert ask(grid, "set", target_token="")["ok"] and from_wire(grid.target_rank).numel() == 0  # a cleared box


def test_the_default_patching_pair_changes_the_answer(parts):
    """The default corruption is a swap the prediction depends on: the two runs' top next tokens differ, and the
    clean-corrupt gap is large against the metric's size (no note, the maps are drawn)."""
    from interp_widgets.widgets.workbench import DEFAULT_PROMPT

    model = parts[0]
    for prompt in (DEFAULT_PROMPT, PROMPT):
        corrupt = corrupt_prompt(model, prompt)
        assert len(differing_positions(model, prompt, corrupt)) == 1
        with torch.inference_mode():
            clean_top, corrupt_top = int(model(prompt)[0, -1].argmax()), int(model(corrupt)[0, -1].argmax())
        assert clean_top != corrupt_top, (prompt, corrupt)
    view = iw.explore(model, parts[1], index_tokens=64 * 20).show("Patching")
    assert view.gap_note == "" and abs(view.clean_metric - view.corrupt_metric) > 1.0


def test_the_patching_view_says_when_the_gap_is_too_small_to_normalise_by(parts):
    model = parts[0]
    clean, corrupt = "The cat sat on the mat and the dog sat on the rug", "The cat sat on the mar and the dog sat on the rug"
    with torch.inference_mode():
        logits = model(clean)[0, -1]
    answer, wrong = logits.topk(2).indices.tolist()
    view = iw.PatchingView.from_model(model, clean, corrupt, (answer, wrong))
    gap = view.clean_metric - view.corrupt_metric
    assert abs(gap) < 0.25 * max(abs(view.clean_metric), abs(view.corrupt_metric))
    assert "hardly differ on the metric" in view.gap_note and f"{gap:.3f}" in view.gap_note
    assert "not drawn" in view.to_text() and "The maps are not drawn" in view.to_static_html()


def test_the_feature_box_refuses_an_index_out_of_range_with_the_views_message(parts):
    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    bench.feature_box.value = 7
    assert bench.selection.feature == 7 and bench.feature_note.value == ""
    for bad in (-1, 10**9):
        bench.feature_box.value = bad
        assert bench.selection.feature == 7 and bench.feature_box.value == 7, "clamped or chosen silently"
        assert "out of range for the 4x SAE, which has 1024 features (0 to 1023)" in bench.feature_note.value
    bench.feature_box.value = 9
    assert bench.selection.feature == 9 and bench.feature_note.value == ""


def test_the_first_browser_tab_shows_the_index_progress_before_the_view(parts, monkeypatch):
    """The activation index builds in the tab with a progress line from its first frame (not a blank tab)."""
    from interp_widgets.widgets.workbench import Workbench

    put, shown, lines = Workbench._put, [], []

    def recording_put(self, index, widget):
        shown.append((type(widget).__name__, getattr(widget, "value", "")))
        if hasattr(widget, "value"):
            widget.observe(lambda change: lines.append(change["new"]), names="value")
        return put(self, index, widget)

    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    monkeypatch.setattr(Workbench, "_put", recording_put)
    bench.show("Browser")
    assert shown[0] == ("HTML", "<b>Browser</b>: building the activation index of the 4x SAE…")  # the first frame
    assert lines and re.search(r": (\d+) of \1 sequences \(100 %\)$", lines[-1]) and len(lines) <= 21  # at most every 5 %
    assert shown[-1][0] == "FeatureBrowser" and bench.selection.has_index()
    shown.clear()
    bench.show("Dashboard")  # the index is there now: straight to the view
    assert [name for name, _ in shown] == ["FeatureDashboard"]


def test_the_prompt_box_keeps_line_breaks(parts):
    import ipywidgets

    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    assert isinstance(bench.prompt_box, ipywidgets.Textarea)  # a one-line Text box drops the line breaks in the browser
    code = "def f(x):\n    return x\nprint(f(2))"
    bench.selection.choose(prompt=code)  # typed in a view
    assert bench.prompt_box.value == code and bench.prompt_box.rows == 3
    bench.prompt_box.value = code + "\n# done"
    assert bench.selection.prompt == code + "\n# done"


def test_a_dashboard_example_opens_in_the_ablation_tab_with_the_way_back(parts):
    bench = iw.explore(parts[0], parts[1], prompt=PROMPT, index_tokens=64 * 20)
    dashboard = bench.show("Dashboard")
    example = dashboard.top[0]
    reply = ask(dashboard, "open_example", sequence=example["sequence"], position=example["position"])
    assert reply["ok"], reply
    assert bench.current is bench.views["Ablation"] and bench.selection.prompt == reply["result"]["prompt"]
    assert "dashboard's example is now the prompt of every tab" in bench.example_note.value
    assert bench.back_button.layout.display != "none"
    bench.back_button.click()
    assert bench.selection.prompt == PROMPT and bench.prompt_box.value == PROMPT
    assert bench.example_note.value == "" and bench.back_button.layout.display == "none"
