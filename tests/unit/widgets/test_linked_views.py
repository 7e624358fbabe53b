"""Linked views through one Selection: a pick in any view moves the others (through their request handlers)."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.ablation.removal import leave_one_out
from interp_widgets.compute.features.dashboard import feature_dashboard
from interp_widgets.widgets._wire import from_wire
from tests.widget_requests import ask

HOOK = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def linked():
    model = iw.load_model()
    saes = {"1x": iw.load_sae("1x"), "4x": iw.load_sae("4x")}
    selection = iw.Selection(model, saes, sae="4x", feature=495, prompt="salt and pepper, bread and butter", index_tokens=64 * 30)
    views = {
        "browser": iw.FeatureBrowser.from_selection(selection, compare_to=saes["1x"], compare_label="vs 1x"),
        "dashboard": iw.FeatureDashboard.from_selection(selection),
        "highlights": iw.TokenHighlights.from_selection(selection),
        "explorer": iw.FeatureAblation.from_selection(selection),
        "bars": iw.LogitLensBars.from_selection(selection),
        "ablation": iw.DirectionAblation.from_selection(selection),
    }
    return model, saes, selection, views


def test_a_row_click_in_the_browser_moves_every_view(linked):
    model, saes, selection, views = linked
    reply = ask(views["browser"], "select", feature=12)
    assert reply["ok"], reply
    assert selection.feature == 12 and views["browser"].selected == 12 and views["dashboard"].feature == 12
    assert views["explorer"].feature == 12 and "feature 12" in views["bars"].label and "feature 12" in views["ablation"].label
    with torch.inference_mode():
        expected = saes["4x"].encode(model.run_with_cache(selection.prompt)[1][HOOK][0])[:, 12]
    torch.testing.assert_close(from_wire(views["highlights"].values)[0], expected)
    index = iw.models.held_out_index(model, saes["4x"], max_tokens=64 * 30)
    assert views["dashboard"].top[0]["value"] == pytest.approx(feature_dashboard(index, 12).top[0].value)
    assert not ask(views["browser"], "select", feature=10**6)["ok"] and selection.feature == 12


def test_picks_in_other_views_publish_too(linked):
    model, saes, selection, views = linked
    assert ask(views["explorer"], "set", feature=495)["ok"]
    assert selection.feature == 495 and views["dashboard"].feature == 495 and views["browser"].selected == 495
    top = views["dashboard"].top[0]
    reply = ask(views["dashboard"], "open_example", sequence=top["sequence"], position=top["position"])
    assert reply["ok"], reply
    explorer = views["explorer"]
    assert explorer.prompt == selection.prompt == reply["result"]["prompt"]
    if reply["result"]["target"] >= 0:  # the text re-tokenizes to the same tokens: the example's token is the target
        assert explorer.target == reply["result"]["target"]
        assert explorer.clean == pytest.approx(top["value"], abs=1e-4)
        assert explorer.clean == pytest.approx(leave_one_out(model, selection.prompt, HOOK, (saes["4x"], 495), explorer.target).clean, abs=1e-5)
    assert ask(views["highlights"], "set", prompt="fish and chips")["ok"]
    assert selection.prompt == "fish and chips" and views["explorer"].prompt == "fish and chips" and views["ablation"].prompt == "fish and chips"
    assert ask(views["browser"], "search_token", token=" and")["ok"] and views["browser"].results
    assert ask(views["browser"], "search_prompt", prompt="Der Hund und die Katze")["ok"]
    assert "not one token" in ask(views["browser"], "search_token", token=" andante")["error"]
    selection.sae = "1x"  # from code: feature 495 does not exist in the 1x SAE (256 features): the views say so
    assert "out of range" in views["dashboard"]._linked_error and "1x" in views["browser"].label
    selection.choose(sae="1x", feature=51)  # a valid pair: every view follows, the errors clear
    assert views["dashboard"].label.startswith("1x feature 51") and views["dashboard"]._linked_error == ""
    assert views["explorer"].feature == 51 and from_wire(views["browser"].mcs).numel() == 256
