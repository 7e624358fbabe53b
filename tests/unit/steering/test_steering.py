"""Steering with a key/value cache equals a plain loop that re-runs the whole sequence with a hook every step."""

import math

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.core.decoding import CachedDecoder
from interp_widgets.compute.steering.steer import Neuron, Steer, _decode, _Plan, prepare_steer, generate, generate_tokens, sweep
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.models.loaders import feature_catalogue

PROMPT = "The cat sat on the mat, and then"


@pytest.fixture(scope="module")
def embedded():
    return iw.load_model()


@pytest.fixture(scope="module")
def embedded_6l():
    return iw.load_model("embedded-6l")


def edited(x, u, strength, method):
    """The steer's formula written out for one slice `x [.., d]`."""
    along = (x @ u)[..., None]
    if method == "add":
        return x + strength * u
    if method == "set":
        return x - along * u + strength * u
    return x - torch.clamp(along - strength, min=0) * u


def reference(model, prompt, steers, n_tokens, forced=None):
    """The slow loop: the whole sequence through `run_with_hooks` at every step, greedy (or `forced` tokens).

    `steers`: (hook, unit, strength, method, positions, read). Returns ids, the log-prob of each
    token, the last-position logits of each step and each steer's activation at each step.
    """
    tokens = model.to_tokens(prompt) if isinstance(prompt, str) else prompt
    prompt_length = tokens.shape[1]
    ids, logprobs, logits_seen, reads = [], [], [], []
    for step in range(n_tokens):
        length = tokens.shape[1]
        where = {"all": slice(0, length), "prompt": slice(0, prompt_length), "generated": slice(prompt_length, length)}
        read_now = [None] * len(steers)

        def hook_for(index):
            hook, u, strength, method, positions, read = steers[index]

            def fn(activation, hook):
                activation = activation.clone()
                part = where[positions]
                activation[:, part] = edited(activation[:, part], u, strength, method)
                read_now[index] = float(read(activation[0, -1]))
                return activation
            return fn

        with torch.inference_mode():
            logits = model.run_with_hooks(tokens, fwd_hooks=[(steers[i][0], hook_for(i)) for i in range(len(steers))])[0, -1]
        token = int(logits.argmax()) if forced is None else forced[step]
        ids.append(token)
        logprobs.append(float(logits.log_softmax(-1)[token]))
        logits_seen.append(logits)
        reads.append(read_now)
        tokens = torch.cat([tokens, torch.tensor([[token]], device=tokens.device)], dim=1)
    return ids, np.array(logprobs), torch.stack(logits_seen), np.array(reads).T


def as_reference(model, steer):
    prepared = prepare_steer(model, steer)
    return (prepared.site, prepared.unit, steer.strength, steer.method, steer.positions, prepared.read)


def check_against_reference(model, steers, n_tokens=10):
    result = generate(model, PROMPT, steers, max_new_tokens=n_tokens)
    spec = [as_reference(model, s) for s in steers]
    ids, logprobs, _, reads = reference(model, PROMPT, spec, n_tokens)
    assert result.steered.ids == ids
    np.testing.assert_allclose(result.steered.logprobs, logprobs, atol=1e-4)
    np.testing.assert_allclose(result.steered.activations, reads, atol=1e-4, rtol=1e-5)
    plain_ids, plain_logprobs, _, _ = reference(model, PROMPT, [], n_tokens)
    assert result.unsteered.ids == plain_ids
    np.testing.assert_allclose(result.unsteered.logprobs, plain_logprobs, atol=1e-4)
    # each run's tokens under the other run, teacher-forced
    np.testing.assert_allclose(result.steered.other_logprobs, reference(model, PROMPT, [], n_tokens, forced=ids)[1], atol=1e-4)
    np.testing.assert_allclose(result.unsteered.other_logprobs, reference(model, PROMPT, spec, n_tokens, forced=plain_ids)[1],
                               atol=1e-4)
    return result


def test_greedy_steering_equals_the_rerun_loop_on_the_toy_model(toy):
    gen = torch.Generator().manual_seed(0)
    vector = torch.randn(toy.cfg.d_model, generator=gen)
    steers = [
        Steer("blocks.0.hook_resid_post", vector, 8.0, "add", "all"),
        Steer("blocks.1.hook_resid_mid", torch.randn(toy.cfg.d_model, generator=gen), 3.0, "set", "generated"),
        Steer("blocks.1.hook_attn_out", vector, -0.5, "cap", "prompt"),
        Steer(None, Neuron(1, 7), -6.0, "add", "all"),
        Steer("blocks.0.hook_mlp_out", -vector, 2.0, "add", "all"),
        Steer("blocks.1.hook_resid_pre", vector, 1.0, "cap", "all"),
    ]
    result = check_against_reference(toy, steers)
    assert result.engine == "kv-cache"
    assert result.first_divergence is not None  # the steers change the text, so the test can fail


@pytest.mark.parametrize("method", ["add", "set", "cap"])
def test_greedy_sae_feature_steering_equals_the_rerun_loop_on_the_embedded_model(embedded, method):
    sae = iw.load_sae("1x")
    german = next(f for f in feature_catalogue() if f["concept"] == "German text" and f["sae"] == "1x")
    strength = {"add": 20.0, "set": 15.0, "cap": 0.5}[method]
    result = check_against_reference(embedded, [Steer(None, (sae, german["feature"]), strength, method)])
    assert result.engine == "kv-cache"


def test_greedy_steering_equals_the_rerun_loop_on_the_six_layer_model(embedded_6l):
    sae = iw.load_sae("embedded-6l/4x")
    result = check_against_reference(embedded_6l, [Steer(None, (sae, 3), 30.0, "add", "generated"),
                                                   Steer(None, Neuron(4, 11), 10.0, "add", "all")])
    assert result.engine == "kv-cache"


def test_cached_decoder_logits_equal_a_full_run_at_every_step(embedded):
    """Prompt, then one token at a time, then three at once: each step's logits equal the full re-run's."""
    steer = Steer("blocks.1.hook_resid_mid", torch.ones(embedded.cfg.d_model), 4.0, "set", "all")
    prepared = [prepare_steer(embedded, steer)]
    plan = _Plan(prepared, [(4.0,)], 0, torch.device("cpu"))
    decoder = CachedDecoder(embedded, 1, 40, plan, plan.sites)
    tokens = embedded.to_tokens(PROMPT + " the dog ran off to the park with its friends")[:, :20]
    spec = [as_reference(embedded, steer)[:-1] + (lambda x: x.sum(),)]
    for start, stop in [(0, 10), (10, 11), (11, 12), (12, 15), (15, 20)]:
        with torch.inference_mode():
            fast = decoder.forward(tokens[:, start:stop], keep=stop - start)[0]
        for offset in range(stop - start):
            _, _, slow, _ = reference(embedded, tokens[:, :start + offset + 1], spec, 1)
            torch.testing.assert_close(fast[offset], slow[0], atol=1e-4, rtol=0)


def test_a_hook_the_cache_cannot_edit_runs_the_rerun_decoder_and_still_matches(toy):
    vector = torch.randn(toy.cfg.d_mlp, generator=torch.Generator().manual_seed(2))
    result = check_against_reference(toy, [Steer("blocks.0.mlp.hook_post", vector, 5.0)], n_tokens=6)
    assert result.engine == "rerun"


def test_strength_zero_gives_the_unsteered_tokens(embedded):
    sae = iw.load_sae("4x")
    for method in ("add", "cap"):
        result = generate(embedded, PROMPT, [Steer(None, (sae, 495), 0.0 if method == "add" else 1e6, method)], max_new_tokens=12)
        assert result.steered.ids == result.unsteered.ids
        assert result.first_divergence is None
        np.testing.assert_allclose(result.steered.logprobs, result.unsteered.logprobs, atol=1e-5)
    moved = generate(embedded, PROMPT, [Steer(None, (sae, 495), 40.0)], max_new_tokens=12)
    assert moved.steered.ids != moved.unsteered.ids


def test_seeded_sampling_draws_the_same_alone_or_batched(embedded):
    sae = iw.load_sae("1x")
    steer = Steer(None, (sae, 51), 10.0)
    options = dict(max_new_tokens=16, temperature=1.0, top_p=0.9, seed=7)
    rows = sweep(embedded, PROMPT, [steer], [0.0, 5.0, 10.0, 20.0], **options)
    alone = generate(embedded, PROMPT, [steer], **options)
    assert all(r.unsteered.ids == alone.unsteered.ids for r in rows)
    assert rows[2].steered.ids == alone.steered.ids  # strength 10 batched with three others, and alone
    assert rows[0].steered.ids == rows[0].unsteered.ids  # strength 0 with the same seed: the same draws
    single = _decode(embedded, embedded.to_tokens(PROMPT)[0], [prepare_steer(embedded, steer)], [None], 16, 1.0, 0.9, 7, set(), [])
    while True:  # the unsteered row decoded in a batch of one
        try:
            next(single)
        except StopIteration as done:
            assert done.value[0][0] == alone.unsteered.ids
            break
    other_seed = generate(embedded, PROMPT, [steer], **{**options, "seed": 8})
    assert other_seed.unsteered.ids != alone.unsteered.ids


def test_a_sweep_row_equals_generate_at_that_strength(embedded):
    sae = iw.load_sae("4x")
    rows = sweep(embedded, PROMPT, [Steer(None, (sae, 495), 1.0)], [-20.0, 30.0], max_new_tokens=8)
    for row, strength in zip(rows, (-20.0, 30.0)):
        alone = generate(embedded, PROMPT, [Steer(None, (sae, 495), strength)], max_new_tokens=8)
        assert row.steered.ids == alone.steered.ids and row.steered.strengths == (strength,)
        np.testing.assert_allclose(row.steered.other_logprobs, alone.steered.other_logprobs, atol=1e-4)
        np.testing.assert_allclose(row.unsteered.other_logprobs, alone.unsteered.other_logprobs, atol=1e-4)


def test_stop_tokens_and_streaming(embedded):
    events = []
    plain = generate(embedded, PROMPT, [Steer("blocks.0.hook_resid_post", torch.ones(256), 0.0)], max_new_tokens=10,
                     on_token=events.append)
    assert [e.step for e in events] == list(range(10))
    assert [e.ids[0] for e in events] == plain.unsteered.ids
    assert "".join(e.tokens[0] for e in events) == plain.unsteered.text
    assert [e.logprobs[0] for e in events] == pytest.approx(plain.unsteered.logprobs.tolist(), abs=1e-6)
    steps = generate_tokens(embedded, PROMPT, [Steer("blocks.0.hook_resid_post", torch.ones(256), 0.0)], max_new_tokens=10)
    next(steps)
    assert not torch.is_inference_mode_enabled()  # nothing leaks out of a paused generation
    steps.close()
    third = plain.unsteered.ids[2]
    stopped = generate(embedded, PROMPT, [Steer("blocks.0.hook_resid_post", torch.ones(256), 0.0)], max_new_tokens=10, stop=[third])
    assert stopped.unsteered.ids[-1] == third and len(stopped.unsteered.ids) <= 3
    text = generate(embedded, PROMPT, [Steer("blocks.0.hook_resid_post", torch.ones(256), 0.0)], max_new_tokens=10,
                    stop=plain.unsteered.text[-4:])
    assert text.unsteered.text.endswith(plain.unsteered.text[-4:]) or plain.unsteered.text[-4:] in text.unsteered.text


@pytest.mark.parametrize("steer, kwargs, message", [
    (Steer("blocks.9.hook_resid_post", torch.ones(256), 1.0), {}, "not a hook point"),
    (Steer("blocks.0.hook_resid_post", torch.ones(255), 1.0), {}, "width 256"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), math.nan), {}, "finite number"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), math.inf), {}, "finite number"),
    (Steer("blocks.0.hook_resid_post", torch.zeros(256), 1.0), {}, "zero"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), 1.0, method="scale"), {}, "add, set, cap"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), 1.0, positions="last"), {}, "all, prompt, generated"),
    (Steer(None, torch.ones(256), 1.0), {}, "needs a hook"),
    (Steer(None, Neuron(5, 0), 1.0), {}, "layers 0 to 1"),
    (Steer(None, "German", 1.0), {}, "cannot steer along str"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), 1.0), {"max_new_tokens": 300}, "context of 256"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), 1.0), {"max_new_tokens": 0}, "positive whole number"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), 1.0), {"temperature": -1.0}, "temperature"),
    (Steer("blocks.0.hook_resid_post", torch.ones(256), 1.0), {"top_p": 0.0}, "top_p"),
])
def test_bad_input_gets_a_clear_error(embedded, steer, kwargs, message):
    with pytest.raises(InterpWidgetsError, match=message):
        generate(embedded, PROMPT, [steer], **kwargs)


def test_sae_feature_errors(embedded):
    sae = iw.load_sae("4x")
    with pytest.raises(InterpWidgetsError, match="out of range"):
        generate(embedded, PROMPT, [Steer(None, (sae, sae.W_dec.shape[0]), 1.0)])
    with pytest.raises(InterpWidgetsError, match="trained on"):
        generate(embedded, PROMPT, [Steer("blocks.1.hook_resid_post", (sae, 3), 1.0)])
