"""FeatureAblation, LogitLensBars and DirectionAblation through their request handlers."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.ablation.removal import leave_one_out, pairwise_removal, remove_tokens
from interp_widgets.compute.ablation.direction import direction_ablation
from interp_widgets.widgets._wire import from_wire
from tests.widget_requests import FrontEnd, ask

HOOK = "blocks.0.hook_resid_post"
PROMPT = "salt and pepper, bread and butter, fish and chips"


@pytest.fixture(scope="module")
def model_and_sae():
    return iw.load_model(), iw.load_sae("4x")


def test_feature_ablation_clicks_match_the_maths(model_and_sae):
    model, sae = model_and_sae
    view = iw.FeatureAblation.from_model(model, PROMPT, (sae, 495), name="4x")
    expected = leave_one_out(model, PROMPT, HOOK, (sae, 495))
    assert view.target == expected.target and view.clean == pytest.approx(expected.clean, abs=1e-5)
    drops = from_wire(view.drops)
    torch.testing.assert_close(drops[1 : view.target], expected.drop[1 : view.target])
    assert len(view.pairs["positions"]) == min(5, view.target - 1) >= 2
    pairs = pairwise_removal(model, PROMPT, HOOK, (sae, 495), target=view.target, top_k=5)  # the widget's numbers are the maths'
    assert view.pairs["positions"] == pairs.positions
    torch.testing.assert_close(from_wire(view.pairs["single"]), pairs.single)
    torch.testing.assert_close(from_wire(view.pairs["interaction"]), pairs.interaction.nan_to_num(0.0))
    torch.testing.assert_close(from_wire(view.pairs["joint"]), pairs.joint.nan_to_num(0.0))

    reply = ask(view, "toggle", position=view.target - 1)
    assert reply["ok"], reply
    reply = ask(view, "toggle", position=1)
    value = remove_tokens(model, PROMPT, HOOK, (sae, 495), [1, view.target - 1], view.target)
    assert reply["result"]["value"] == pytest.approx(value, abs=1e-5) and view.removed == [1, view.target - 1]
    assert ask(view, "toggle", position=1)["result"]["removed"] == [view.target - 1]

    reply = ask(view, "set", target=3)
    assert reply["ok"] and view.target == 3 and view.removed == [] and view.removed_value is None
    bad = ask(view, "set", target=0)
    assert not bad["ok"] and "out of range" in bad["error"]
    bad = ask(view, "set", feature=10**6)
    assert not bad["ok"] and "out of range" in bad["error"] and view.feature == 495
    assert ask(view, "set", mode="replace", replacement=" the")["ok"] and view.mode == "replace"
    bad = ask(view, "set", mode="replace", replacement=" pepper mill")
    assert not bad["ok"] and "not one token" in bad["error"] and view.replacement == " the"
    assert ask(view, "set", prompt="fish and chips and")["ok"] and view.tokens[-1] == " and"
    assert "static snapshot" in view.to_static_html() and "drop" in view.to_text()


def test_feature_ablation_errors_name_the_fix(model_and_sae):
    model, sae = model_and_sae
    with pytest.raises(iw.InterpWidgetsError, match="out of range"):
        iw.FeatureAblation.from_model(model, PROMPT, (sae, 10**6))
    with pytest.raises(iw.InterpWidgetsError, match="pass hook"):
        iw.FeatureAblation.from_model(model, PROMPT, 3)
    view = iw.FeatureAblation.from_model(model, PROMPT, 3, hook=HOOK)
    assert not ask(view, "set", prompt="")["ok"]
    assert "empty" in ask(view, "set", prompt="")["error"]
    long = " word" * (model.cfg.n_ctx + 5)
    assert "context" in ask(view, "set", prompt=long)["error"]


def test_logit_lens_bars_filter_and_where(model_and_sae):
    model, sae = model_and_sae
    bars = iw.LogitLensBars.from_model(model, (sae, 495), prompt="bread and butter", k=5)
    assert len(bars.top) == 5 and len(bars.bottom) == 5 and bars.ln_applied
    assert ask(bars, "set", exclude_outliers=True)["ok"] and bars.exclude_outliers
    shown = {t for _, t, _ in bars.top + bars.bottom}
    assert not shown & {t for _, t, _ in bars.left_out}
    token_id = bars.top[0][1]
    reply = ask(bars, "where", token_id=token_id)
    assert reply["ok"]
    with torch.inference_mode():
        expected = model(model.to_tokens("bread and butter"))[0].softmax(-1)[:, token_id]
    torch.testing.assert_close(from_wire(bars.where_values), expected, atol=1e-5, rtol=0)
    assert "outside the vocabulary" in ask(bars, "where", token_id=10**7)["error"]


def test_direction_ablation_view(model_and_sae):
    model, sae = model_and_sae
    view = iw.DirectionAblation.from_model(model, PROMPT, (sae, 495))
    result = direction_ablation(model, PROMPT, HOOK, (sae, 495))
    decrease = from_wire(view.decrease)
    assert decrease[0].isnan()
    torch.testing.assert_close(decrease[1:], result.drop)
    assert view.largest[0][1] == view.tokens[view.largest[0][0]]
    assert [value for _, _, value in view.largest] == pytest.approx([drop for _, _, drop in result.largest_drops(10)])
    position, _, drop = view.largest[0]
    assert drop == pytest.approx(float(decrease[position]))  # the list and the colours read the same number
    assert ask(view, "set", prompt="cats and dogs")["ok"] and view.prompt == "cats and dogs"


def test_a_newer_request_stops_the_older_computation_which_fills_in_meanwhile(model_and_sae):
    """Requests run on the widget's worker thread: a long map shows its progress, and a newer
    prompt stops it mid-way (its reply says superseded); only the newer answer stays."""
    import time

    model, _ = model_and_sae
    direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    view = iw.FeatureAblation.from_model(model, "bread and butter", direction, hook="blocks.1.hook_resid_post")
    view.PROGRESS_AFTER_S = 0.0
    front_end = FrontEnd(view)
    replies = front_end.replies
    long_prompt = " ".join(["the cat sat on the mat and the dog ran to the park"] * 14)
    front_end.send("set", "old", prompt=long_prompt)
    deadline = time.time() + 60  # a guard against a hang, not a judgment of speed
    while not view.progress and not replies and time.time() < deadline:
        time.sleep(0.01)
    assert view.progress.startswith("computing the map"), (view.progress, replies)
    partial = from_wire(view.drops)
    assert partial[1:4].isfinite().all() and partial[view.target - 2].isnan()  # filled in from the left
    front_end.send("set", "new", prompt="cats and dogs and")
    by_id = front_end.by_id(2)
    assert by_id["old"]["ok"] is False and by_id["old"]["superseded"], by_id["old"]
    assert by_id["new"]["ok"] is True and view.prompt == "cats and dogs and" and view.progress == ""
    assert from_wire(view.drops)[1 : view.target].isfinite().all()


def test_switching_the_sae_in_the_view(model_and_sae):
    model, sae4 = model_and_sae
    saes = {"1x": iw.load_sae("1x"), "4x": sae4}
    view = iw.FeatureAblation.from_model(model, PROMPT, ("4x", 495), saes=saes)
    assert view.sae_names == ["1x", "4x"] and view.sae_name == "4x" and "4x feature 495" in view.feature_label
    assert ask(view, "set", feature=51)["ok"]
    assert ask(view, "set", sae="1x")["ok"] and view.sae_name == "1x" and view.feature == 51
    expected = leave_one_out(model, PROMPT, HOOK, (saes["1x"], 51))
    assert view.target == expected.target and view.clean == pytest.approx(expected.clean, abs=1e-5)
    assert "no SAE named" in ask(view, "set", sae="16x")["error"] and view.sae_name == "1x"
    with pytest.raises(iw.InterpWidgetsError, match="no SAE named"):
        iw.FeatureAblation.from_model(model, PROMPT, ("2x", 3), saes=saes)


def test_closing_a_widget_ends_its_worker_thread(model_and_sae):
    import threading
    import time

    model, sae = model_and_sae
    view = iw.FeatureAblation.from_model(model, PROMPT, (sae, 495))
    FrontEnd(view).send("set", "a", target=3)
    name = "FeatureAblation-requests"
    deadline = time.time() + 30
    while view.target != 3 and time.time() < deadline:
        time.sleep(0.01)
    before = sum(t.name == name for t in threading.enumerate())
    view.close()
    while sum(t.name == name for t in threading.enumerate()) >= before and time.time() < deadline:
        time.sleep(0.01)
    assert sum(t.name == name for t in threading.enumerate()) == before - 1
