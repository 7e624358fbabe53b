"""Each steer is checked and prepared once per generation (not once for its site, once for its range and once to
generate), and the token-by-token generator takes keywords."""

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.steering import steer as steer_module
from interp_widgets.compute.steering.steer import Steer, generate, generate_tokens, prepare_steer
from interp_widgets.compute.steering.strength import largest_activation
from interp_widgets.widgets import steering as steering_widget
from interp_widgets.widgets.steering import SteeringView

PROMPT = "The weather today is"
HOOK = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def embedded():
    return iw.load_model()


@pytest.fixture()
def prepared_count(monkeypatch):
    """How often a steer is prepared, wherever the call comes from (the view, the range, the generator)."""
    calls = []

    def counting(model, steer):
        calls.append(steer)
        return prepare_steer(model, steer)

    monkeypatch.setattr(steer_module, "prepare_steer", counting)
    monkeypatch.setattr(steering_widget, "prepare_steer", counting)
    import interp_widgets.compute.steering.strength as strength_module

    monkeypatch.setattr(strength_module, "prepare_steer", counting)
    return calls


def test_the_view_prepares_each_steer_once_per_generation(embedded, prepared_count):
    steers = [Steer(HOOK, torch.ones(256), 2.0), Steer(HOOK, torch.arange(256.0), -1.0)]
    view = SteeringView.from_model(embedded, PROMPT, steers, max_new_tokens=3, sweep_points=3)
    assert len(prepared_count) == 2  # one per steer: site, slider range and generation share it
    prepared_count.clear()
    view.set(strengths=[1.0, 0.5])
    assert len(prepared_count) == 2
    expected = generate(embedded, PROMPT, [Steer(HOOK, torch.ones(256), 1.0), Steer(HOOK, torch.arange(256.0), 0.5)], max_new_tokens=3)
    assert view.steered_tokens == expected.steered.tokens and view.unsteered_tokens == expected.unsteered.tokens


def test_a_prepared_steer_gives_the_same_range_and_generation(embedded):
    steer = Steer(HOOK, torch.ones(256), 3.0)
    ready = prepare_steer(embedded, steer)
    assert largest_activation(embedded, PROMPT, ready) == pytest.approx(largest_activation(embedded, PROMPT, steer))
    def drained(steers):
        steps = generate_tokens(embedded, PROMPT, steers, max_new_tokens=4)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value[0]

    from_steer, from_ready = drained([steer]), drained([ready])
    assert from_ready.steered.ids == from_steer.steered.ids and from_ready.unsteered.ids == from_steer.unsteered.ids
    assert from_ready.steered.activations.flatten().tolist() == pytest.approx(from_steer.steered.activations.flatten().tolist())


def test_the_generator_takes_keywords_not_nine_positions(embedded):
    steer = Steer(HOOK, torch.ones(256), 3.0)
    with pytest.raises(TypeError):
        generate_tokens(embedded, PROMPT, [steer], None, 0, 4)  # the old positional form
    steps = generate_tokens(embedded, PROMPT, [steer], strengths=[0.0, 3.0], max_new_tokens=2, temperature=0.0, seed=1)
    events = []
    while True:
        try:
            events.append(next(steps))
        except StopIteration as done:
            results = done.value
            break
    assert len(events) == 2 and len(results) == 2 and results[1].steered.strengths[0] == 3.0


def test_the_generator_is_not_called_stream():
    """`stream` is the residual stream's word in this package."""
    import interp_widgets.compute.steering as steering

    assert not hasattr(steering, "stream") and not hasattr(steer_module, "stream")
    assert "generate_tokens" in steering.__all__ and "prepare_steer" in steering.__all__
