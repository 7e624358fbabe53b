"""SteeringView: its traits are compute.steering.steer's results; requests re-generate; bad input keeps the view."""

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.steering.steer import Steer, generate, sweep
from interp_widgets.compute.steering.strength import largest_activation, strength_limit, sweep_summary
from interp_widgets.models.loaders import feature_catalogue
from interp_widgets.widgets.steering import SteeringView
from tests.widget_requests import FrontEnd, request

PROMPT = "The weather today is"


@pytest.fixture(scope="module")
def embedded():
    return iw.load_model()


@pytest.fixture(scope="module")
def german(embedded):
    entry = next(f for f in feature_catalogue() if f["concept"] == "German text")
    return iw.load_sae(entry["sae"]), entry["feature"]


def assert_shows(widget, result):
    assert widget.unsteered_tokens == result.unsteered.tokens and widget.steered_tokens == result.steered.tokens
    np.testing.assert_allclose(widget.steered_logprobs.numpy(), result.steered.logprobs, atol=1e-5)
    np.testing.assert_allclose(widget.steered_other.numpy(), result.steered.other_logprobs, atol=1e-5)
    np.testing.assert_allclose(widget.unsteered_other.numpy(), result.unsteered.other_logprobs, atol=1e-5)
    np.testing.assert_allclose(widget.steered_activations.numpy(), result.steered.activations, atol=1e-4)
    assert widget.first_divergence == (-1 if result.first_divergence is None else result.first_divergence)
    assert not widget.generating


def test_the_view_shows_both_runs_and_a_slider_move_regenerates(embedded, german):
    steer = Steer(None, german, 0.0)
    view = SteeringView.from_model(embedded, PROMPT, steer, max_new_tokens=12)
    assert_shows(view, generate(embedded, PROMPT, [steer], max_new_tokens=12))
    assert view.steered_tokens == view.unsteered_tokens  # strength 0
    limit = view.steers[0]["limit"]
    assert limit == pytest.approx(strength_limit(embedded, PROMPT, steer)) and limit >= 2 * largest_activation(embedded, PROMPT, steer)
    reply = request(view, "set", {"strengths": [20.0]})
    assert reply["ok"], reply
    assert_shows(view, generate(embedded, PROMPT, [Steer(None, german, 20.0)], max_new_tokens=12))
    assert view.steered_tokens != view.unsteered_tokens and view.steers[0]["strength"] == 20.0
    reply = request(view, "set", {"methods": ["set"], "seed": 3, "temperature": 0.7, "max_new_tokens": 8})
    assert reply["ok"], reply
    assert_shows(view, generate(embedded, PROMPT, [Steer(None, german, 20.0, "set")], max_new_tokens=8, temperature=0.7, seed=3))


def test_tokens_stream_in_before_the_generation_ends(embedded, german):
    view = SteeringView.from_model(embedded, PROMPT, Steer(None, german, 10.0), max_new_tokens=6)
    seen = []
    view.observe(lambda change: seen.append((len(change["new"]), view.generating)), names=["steered_tokens"])
    assert request(view, "set", {"strengths": [15.0]})["ok"]
    streamed = [n for n, generating in seen if generating]
    assert streamed[:3] == [1, 2, 3]  # one token at a time
    assert streamed[-1] == 6 and len(view.steered_tokens) == 6 and not view.generating


@pytest.mark.parametrize("payload, message", [
    ({"strengths": [float("inf")]}, "finite number"),
    ({"strengths": ["strong"]}, "finite number"),
    ({"strengths": [1.0, 2.0]}, "one value per steer"),
    ({"methods": ["scale"]}, "add, set, cap"),
    ({"max_new_tokens": 1000}, "context"),
    ({"sweep_points": 99}, "sweep_points"),
    ({"prompt": ""}, "empty"),
])
def test_bad_input_answers_with_an_error_and_keeps_the_view(embedded, german, payload, message):
    view = SteeringView.from_model(embedded, PROMPT, Steer(None, german, 10.0), max_new_tokens=6)
    before = (list(view.steered_tokens), view.steered_logprobs.clone(), [dict(s) for s in view.steers], view.max_new_tokens, view.prompt)
    reply = request(view, "set", payload)
    assert not reply["ok"] and message in reply["error"]
    assert (view.steered_tokens, view.steers, view.max_new_tokens, view.prompt) == (before[0], before[2], before[3], before[4])
    torch.testing.assert_close(view.steered_logprobs, before[1])
    with pytest.raises(iw.InterpWidgetsError):
        view.set(**payload)


def test_the_sweep_equals_compute_sweep(embedded):
    sae = iw.load_sae("4x")
    entry = next(f for f in feature_catalogue() if f["sae"] == "4x")
    steer = Steer(None, (sae, entry["feature"]), 5.0)
    view = SteeringView.from_model(embedded, PROMPT, steer, max_new_tokens=6, sweep_points=3)
    limit = max(view.steers[0]["limit"], 5.0)  # the slider's range, stretched to the strength when that is larger
    expected = sweep(embedded, PROMPT, [steer], [-limit, 0.0, limit], max_new_tokens=6)
    summary = sweep_summary(expected)
    np.testing.assert_allclose(view.sweep_strengths.numpy(), [-limit, 0.0, limit], rtol=1e-6)
    for name, trait in (("activation", "sweep_activation"), ("logprob", "sweep_logprob"), ("logprob_unsteered", "sweep_logprob_unsteered")):
        np.testing.assert_allclose(getattr(view, trait).numpy(), summary[name], atol=1e-4)
    assert view.sweep_tokens == [r.steered.tokens for r in expected]
    assert_shows(view, generate(embedded, PROMPT, [steer], max_new_tokens=6))


def test_snapshot_and_text_show_both_completions_escaped(embedded, german):
    view = SteeringView.from_model(embedded, "<script>alert(1)</script> Das", Steer(None, german, 25.0), max_new_tokens=8)
    page, text = view.to_static_html(), view.to_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    for token in view.steered_tokens + view.unsteered_tokens:
        assert token.replace("\n", "") in text.replace("\\n", "")
    assert "default:" in text and "steered:" in text and "feature" in text
    assert page.count("<span") >= len(view.steered_tokens) + len(view.unsteered_tokens)


def test_a_linked_view_follows_the_selection(embedded, german):
    selection = iw.Selection(embedded, saes={"1x": german[0]}, sae="1x", feature=german[1], prompt=PROMPT, index_tokens=2048)
    view = SteeringView.from_selection(selection, strength=12.0, max_new_tokens=5)
    assert view.steers[0]["label"] == f"feature {german[1]}"
    selection.choose(feature=7, prompt="Once upon a time")
    assert view.steers[0]["label"] == "feature 7" and view.prompt == "Once upon a time"
    assert_shows(view, generate(embedded, "Once upon a time", [Steer(None, (german[0], 7), 12.0)], max_new_tokens=5))


def test_the_six_layer_model_steers_the_selections_feature():
    model = iw.load_model("embedded-6l")
    entry = feature_catalogue("embedded-6l")[0]
    sae = iw.load_sae(f"embedded-6l/{entry['sae']}")
    selection = iw.Selection(model, saes={entry["sae"]: sae}, feature=entry["feature"], prompt=PROMPT, index_tokens=2048)
    view = SteeringView.from_selection(selection, strength=15.0, max_new_tokens=6)
    assert view.engine == "kv-cache" and view.steers[0]["hook"] == "blocks.2.hook_resid_post"
    assert_shows(view, generate(model, PROMPT, [Steer(None, (sae, entry["feature"]), 15.0)], max_new_tokens=6))
    assert request(view, "set", {"strengths": [-15.0]})["ok"]
    assert_shows(view, generate(model, PROMPT, [Steer(None, (sae, entry["feature"]), -15.0)], max_new_tokens=6))


def test_a_newer_request_stops_the_older_generation(embedded, german):
    view = SteeringView.from_model(embedded, PROMPT, Steer(None, german, 0.0), max_new_tokens=48)
    front_end = FrontEnd(view)
    for request_id, strength in (("a", 20.0), ("b", -20.0)):
        front_end.send("set", request_id, strengths=[strength])
    by_id = front_end.by_id(2)
    view.close()
    assert by_id["a"].get("superseded") and by_id["b"]["ok"]
    assert_shows(view, generate(embedded, PROMPT, [Steer(None, german, -20.0)], max_new_tokens=48))
