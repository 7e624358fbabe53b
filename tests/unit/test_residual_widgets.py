"""Residual-stream widgets' state: built from models, answering requests as the front-end would."""

import pytest
import torch

from interp_widgets.compute.residual import residual_norms
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models import toy_model
from interp_widgets.widgets import ResidualNorms
from interp_widgets.widgets._wire import from_wire

PROMPT = "The residual stream is a shared memory."


def test_norms_view_holds_the_computed_norms_and_fit(toy):
    view = ResidualNorms.from_model(toy, PROMPT)
    expected = residual_norms(toy, toy.to_tokens(PROMPT))
    torch.testing.assert_close(from_wire(view.mean_norms)[0], expected.mean())
    torch.testing.assert_close(from_wire(view.position_norms), expected.stream[:, 0])
    assert view.labels == ["0_pre", "1_pre", "final_post"]
    assert view.fits[0]["factor"] == pytest.approx(expected.fit().factor)
    assert len(view.tokens) == from_wire(view.position_norms).shape[1]
    assert "growth x" in view.to_text() and "<script" not in view.to_static_html()


def test_norms_view_requests_prompt_options_and_errors(toy):
    view = ResidualNorms.from_model(toy, PROMPT)
    reply = view.handle_request({"kind": "request", "id": "a-1", "type": "set_prompt", "payload": {"prompt": "Hello there"}})
    assert reply["ok"] and view.prompt == "Hello there" and view.tokens[1:] == [str(t) for t in toy.to_str_tokens("Hello there", prepend_bos=False)]
    before = from_wire(view.mean_norms).clone()
    reply = view.handle_request({"kind": "request", "id": "a-2", "type": "set_options", "payload": {"include_bos": True, "mid": True}})
    assert reply["ok"] and view.include_bos and view.mid
    assert view.labels == ["0_pre", "0_mid", "1_pre", "1_mid", "final_post"]
    assert not torch.equal(from_wire(view.mean_norms)[0, [0, 2, 4]], before[0])  # BOS now counted
    reply = view.handle_request({"kind": "request", "id": "a-3", "type": "set_prompt", "payload": {"prompt": "word " * 300}})
    assert not reply["ok"] and "context is 128 tokens" in reply["error"] and view.prompt == "Hello there"


def test_norms_view_overlays_models_and_prompts(toy):
    other = toy_model(seed=1)
    overlaid = ResidualNorms.from_model([toy, other], PROMPT, names=["seed 0", "seed 1"])
    assert overlaid.series_names == ["seed 0", "seed 1"] and from_wire(overlaid.mean_norms).shape == (2, 3)
    prompts = ResidualNorms.from_model(toy, [PROMPT, "Another prompt"])
    assert len(prompts.series_names) == 2 and prompts.series_names[1] == "Another prompt"
    with pytest.raises(InterpWidgetsError, match="different numbers of layers"):
        ResidualNorms.from_model([toy, toy_model(n_layers=3)], PROMPT)
    with pytest.raises(InterpWidgetsError, match="names for 2 series"):
        ResidualNorms.from_model([toy, other], PROMPT, names=["one"])
