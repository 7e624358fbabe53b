"""One selection mapping per view: each view declares once (`SELECTION`) how the shared Selection maps onto its
inputs; the base class builds `from_selection` and `follow` from it; names mean one thing in every view; following
goes through `set`'s undo path and changes nothing by itself."""

import dataclasses
import importlib

import pytest
import torch

import interp_widgets as iw
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import BaseWidget
from interp_widgets.widgets.registry import BENCH_TABS, WIDGETS, module_of
from interp_widgets.widgets.selection import SELECTED, Selection, reads
from tests.widget_requests import ask

PROMPT = "salt and pepper, bread and butter"
OTHER = "The cat sat on the mat and the dog sat on the rug"
MEANING = {"sae": str, "feature": int, "prompt": str, "target": int, "target_token": str}
"""What an input of each of these names holds, in every view (the selection's meaning)."""


def widget_class(name):
    return getattr(importlib.import_module(module_of(name)), name)


@pytest.fixture(scope="module")
def parts():
    model = iw.load_model()
    saes = {"1x": iw.load_sae("1x"), "4x": iw.load_sae("4x")}
    selection = Selection(model, saes, sae="4x", feature=495, prompt=PROMPT, index_tokens=64 * 20)
    return model, saes, selection


@pytest.fixture(scope="module")
def views(parts):
    """Every bench view, built from one selection."""
    _, _, selection = parts
    return {tab.name: widget_class(tab.name).from_selection(selection) for tab in BENCH_TABS}


def state(widget):
    """The view's synced traits (tensors cloned) and its inputs."""
    values = {}
    for name in widget.trait_names(sync=True):
        if name.startswith("_"):  # the banner's message (`_linked_error`) is the point of a failed follow
            continue
        value = getattr(widget, name)
        values[name] = value.clone() if isinstance(value, torch.Tensor) else repr(value)
    return values, widget.inputs


def same_state(a, b):
    (traits_a, inputs_a), (traits_b, inputs_b) = a, b
    assert inputs_a is inputs_b
    for name, value in traits_a.items():
        other = traits_b[name]
        if isinstance(value, torch.Tensor):
            assert value.shape == other.shape and torch.equal(value.nan_to_num(), other.nan_to_num()), name
        else:
            assert value == other, name


def test_no_view_writes_its_own_from_selection_or_follow():
    """The base class builds both from the declaration; a view only says how it is built (`from_selected`)."""
    for row in WIDGETS:
        cls = widget_class(row.name)
        assert "from_selection" not in vars(cls) and "follow" not in vars(cls), row.name
        for held in cls.SELECTION.values():
            assert reads(held) <= set(SELECTED), (row.name, held)  # a choice or a value derived from choices
    assert all(widget_class(tab.name).SELECTION for tab in BENCH_TABS)


def test_a_view_without_a_declaration_says_how_to_build_it(parts):
    with pytest.raises(InterpWidgetsError, match="HistogramView does not read a selection"):
        iw.HistogramView.from_selection(parts[2])


def test_every_declared_name_is_an_input_that_set_takes(views):
    for name, view in views.items():
        inputs = view.inputs.input_names()
        for input_name in type(view).SELECTION:
            assert input_name in inputs, (name, input_name)


def test_input_names_mean_one_thing_in_every_view(views):
    """`feature` is an index, `target` a position, `sae` a name: never a (sae, index) pair, a vector or a token."""
    for name, view in views.items():
        for field in dataclasses.fields(view.inputs):
            value = getattr(view.inputs, field.name)
            if field.name in MEANING and value is not None:
                assert isinstance(value, MEANING[field.name]) and not isinstance(value, bool), (name, field.name, value)
            assert not isinstance(value, Selection), f"{name} holds the live selection in its input {field.name}"
            assert type(value).__name__ != "_TabLink", name


def test_following_only_says_what_changes(parts, views):
    """`follow` is a pure mapping: it changes no trait and no input of the view (that is `set`'s work)."""
    model, saes, selection = parts
    other = Selection(model, saes, sae="4x", feature=12, prompt=OTHER, target=3, index_tokens=64 * 20)
    other.set_index("4x", selection.index())
    for name, view in views.items():
        before = state(view)
        changes = view.follow(other, set(SELECTED))
        assert changes, name
        same_state(before, state(view))
        assert set(changes) <= set(type(view).SELECTION), name


def test_a_follow_that_fails_changes_nothing_and_says_why(parts, views, monkeypatch):
    """PatchingView's metric label and the browser's selected row used to change outside the undo path."""
    model, saes, _ = parts
    selection = Selection(model, saes, sae="4x", feature=495, prompt=PROMPT, index_tokens=64 * 20)
    selection.set_index("4x", parts[2].index())
    patching, browser = iw.PatchingView.from_selection(selection), iw.FeatureBrowser.from_selection(selection)
    kept = state(patching), state(browser)

    def failing(*args, **kwargs):
        raise InterpWidgetsError("the kernel could not compute this")

    monkeypatch.setattr(patching, "compute", failing)
    monkeypatch.setattr(browser, "compute", failing)
    selection.choose(prompt=OTHER, feature=12)
    same_state(kept[0], state(patching))
    same_state(kept[1], state(browser))
    assert patching._linked_error.endswith("the kernel could not compute this") and browser.selected == 495
    monkeypatch.undo()
    selection.choose(target=2)  # the next choice catches up on what could not be followed
    assert patching.clean_prompt == OTHER and patching.metric_label != kept[0][0]["metric_label"] and not patching._linked_error
    assert browser.selected == 12 and not browser._linked_error


def test_a_pick_in_the_browser_goes_through_set_and_publishes(parts):
    model, saes, _ = parts
    selection = Selection(model, saes, sae="4x", feature=495, prompt=PROMPT, index_tokens=64 * 20)
    selection.set_index("4x", parts[2].index())
    browser = iw.FeatureBrowser.from_selection(selection)
    density = browser.density.clone()
    assert ask(browser, "select", feature=7)["ok"]
    assert browser.selected == 7 and browser.inputs.feature == 7 and selection.feature == 7
    assert browser.density is not None and torch.equal(browser.density, density)  # the same table, one row moved
    assert not ask(browser, "select", feature=10**6)["ok"] and browser.selected == 7 and selection.feature == 7
    selection.sae = "1x"  # the 1x SAE has no feature 7? it does (256): a new table, the row kept
    assert browser.label.startswith("1x") and browser.selected == 7
    selection.choose(sae="4x", feature=1000)
    selection.sae = "1x"  # feature 1000 is not in the 1x SAE: its table, no row selected (the browser is not in error)
    assert browser.label.startswith("1x") and browser.selected == -1 and not browser._linked_error


def test_misspelled_inputs_name_the_valid_ones(views):
    bars = views["LogitLensBars"]
    with pytest.raises(InterpWidgetsError, match=r"no input 'exclude_outlier' \(did you mean 'exclude_outliers'\?\)"):
        bars.set(exclude_outlier=True)
    reply = ask(bars, "set", exclude_outlier=True)
    assert not reply["ok"] and reply["error"] == "LogitLensBars has no input 'exclude_outlier': the view can change exclude_outliers, prompt."
    reply = ask(views["FeatureAblation"], "set", traget=3)
    assert not reply["ok"] and "no input 'traget'" in reply["error"] and "target" in reply["error"]


def test_renamed_inputs_take_their_one_meaning(parts, views):
    """A direction (a (sae, index) pair or a vector) is `direction`, never `feature`; the lens grid's token is `target_token`."""
    model, saes, _ = parts
    bars, ablation = views["LogitLensBars"], views["DirectionAblation"]
    bars.set(direction=(saes["4x"], 12), name="4x")
    assert bars.label == "4x feature 12"
    vector = saes["4x"].W_dec[12].detach().clone()
    ablation.set(direction=vector, name="")
    assert ablation.label.startswith("direction") and ablation.inputs.direction is vector
    highlights = views["TokenHighlights"]
    highlights.set(directions=[(saes["4x"], 3), (saes["4x"], 4)])
    assert highlights.series_names == ["4x feature 3", "4x feature 4"] and highlights.values.shape[0] == 2
    assert set(iw.LogitLensGrid.SELECTION) == {"prompt"} and "target_token" in views["LogitLensGrid"].inputs.input_names()
    explorer = iw.FeatureAblation.from_model(model, PROMPT, sae="4x", feature=495, saes=saes)
    assert explorer.feature_label.startswith("4x feature 495")


def test_base_widget_declares_nothing():
    assert BaseWidget.SELECTION == {}
