"""Residual-stream widgets' state: built from models, answering requests as the front-end would."""

import pytest
import torch

from interp_widgets.compute.residual.norms import residual_norms
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models import toy_model
from interp_widgets.widgets import ResidualNorms
from interp_widgets.widgets._wire import from_wire
from tests.widget_requests import request

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
    reply = request(view, "set", {"prompt": "Hello there"}, id="a-1")
    assert reply["ok"] and view.prompt == "Hello there" and view.tokens[1:] == [str(t) for t in toy.to_str_tokens("Hello there", prepend_bos=False)]
    before = from_wire(view.mean_norms).clone()
    reply = request(view, "set", {"include_bos": True, "mid": True}, id="a-2")
    assert reply["ok"] and view.include_bos and view.mid
    assert view.labels == ["0_pre", "0_mid", "1_pre", "1_mid", "final_post"]
    assert not torch.equal(from_wire(view.mean_norms)[0, [0, 2, 4]], before[0])  # BOS now counted
    reply = request(view, "set", {"prompt": "word " * 300}, id="a-3")
    assert not reply["ok"] and "context is 128 tokens" in reply["error"] and view.prompt == "Hello there"


def test_norms_view_overlays_models_and_prompts(toy):
    other = toy_model(seed=1)
    overlaid = ResidualNorms.from_model([toy, other], PROMPT, names=["seed 0", "seed 1"])
    assert overlaid.series_names == ["seed 0", "seed 1"] and from_wire(overlaid.mean_norms).shape == (2, 3)
    prompts = ResidualNorms.from_model(toy, [PROMPT, "Another prompt"])
    assert prompts.series_names[1:] == ["Another prompt", "mean of 2 prompts"]
    means = from_wire(prompts.mean_norms)
    torch.testing.assert_close(means[2], means[:2].mean(0))
    assert prompts.fits[2]["factor"] == pytest.approx(__import__("interp_widgets").compute.residual.norms.exponential_fit(means[2]).factor, rel=1e-5)
    with pytest.raises(InterpWidgetsError, match="different numbers of layers"):
        ResidualNorms.from_model([toy, toy_model(n_layers=3)], PROMPT)
    with pytest.raises(InterpWidgetsError, match="names for 2 series"):
        ResidualNorms.from_model([toy, other], PROMPT, names=["one"])


def test_logit_lens_grid_holds_top_k_and_follows_a_target():
    import interp_widgets as iw
    from interp_widgets.compute.residual.lens import logit_lens
    from interp_widgets.widgets import LogitLensGrid

    model = iw.load_model()
    prompt = "The cat sat on the mat, and the dog sat on the"
    view = LogitLensGrid.from_model(model, prompt, k=4)
    lens = logit_lens(model, model.to_tokens(prompt), k=4)
    assert torch.equal(from_wire(view.top_ids).long(), lens.top_ids)
    torch.testing.assert_close(from_wire(view.top_probs), lens.top_probs)
    assert view.get_state("top_ids")["top_ids"]["dtype"] == "int32" and view.labels == ["0_pre", "1_pre", "final_post"]
    assert all(str(int(i)) in view.vocab for i in lens.top_ids.flatten())
    final_top = view.vocab[str(int(lens.top_ids[-1, -1, 0]))]
    from interp_widgets.widgets._snapshot import visible

    assert view.to_text().splitlines()[-1].endswith(f"{visible(final_top)[:8]:>8} {float(lens.top_probs[-1, -1, 0]):.2f}")

    reply = request(view, "set", {"target_token": " mat"}, id="x-1")
    assert reply["ok"] and view.target_token == " mat"
    rank = from_wire(view.target_rank)
    assert rank.shape == (3, len(view.tokens)) and int(rank.min()) >= 0
    reply = request(view, "set", {"target_token": "Baskervilles"}, id="x-2")
    assert not reply["ok"] and "is not one token: the tokenizer splits it into" in reply["error"]
    assert "try ' Baskervilles'" in reply["error"] and view.target_token == " mat"
    reply = request(view, "set", {"prompt": "Der Hund"}, id="x-3")
    assert reply["ok"] and "".join(view.tokens[1:]) == "Der Hund" and from_wire(view.target_rank).shape == (3, len(view.tokens))
    view.set_target_token("")
    assert from_wire(view.target_rank).numel() == 0
    assert "<script" not in view.to_static_html()
