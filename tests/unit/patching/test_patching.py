"""Activation patching equals transformer-lens' patching module, in both directions, fast path and hooks."""

import functools

import pytest
import torch

from interp_widgets.compute.patching.activation import LogitDiff, patch, token_pair
from interp_widgets.errors import InterpWidgetsError
from tests.widget_requests import ask

ORACLE = {
    "resid_pre": "get_act_patch_resid_pre",
    "attn_out": "get_act_patch_attn_out",
    "mlp_out": "get_act_patch_mlp_out",
    "head_out": "get_act_patch_attn_head_out_all_pos",
    "head_out_by_pos": "get_act_patch_attn_head_out_by_pos",
}


def random_pair(model, n=9, seed=0):
    generator = torch.Generator().manual_seed(seed)
    clean = torch.randint(1, model.cfg.d_vocab, (1, n), generator=generator)
    clean[0, 0] = model.tokenizer.bos_token_id
    corrupt = clean.clone()
    corrupt[0, 3] = (clean[0, 3] + 7) % model.cfg.d_vocab
    return clean, corrupt


def oracle(model, component, direction, clean, corrupt, metric):
    from transformer_lens import patching

    model.eval()
    source, target = (clean, corrupt) if direction == "denoise" else (corrupt, clean)
    with torch.inference_mode():
        _, cache = model.run_with_cache(source)
    function = getattr(patching, ORACLE[component])
    return function(model, target, cache, lambda logits: metric(logits[:, -1])[0])


@pytest.mark.parametrize("component", list(ORACLE))
@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_equals_transformer_lens_patching(toy, component, direction):
    clean, corrupt = random_pair(toy)
    metric = LogitDiff(5, 11)
    ours = patch(toy, clean[0], corrupt[0], metric, component, direction)
    expected = oracle(toy, component, direction, clean, corrupt, metric)
    assert ours.values.shape == expected.shape
    torch.testing.assert_close(ours.values, expected.float().cpu(), atol=1e-4, rtol=0)
    hooks = patch(toy, clean[0], corrupt[0], metric, component, direction, fast=False)
    torch.testing.assert_close(hooks.values, expected.float().cpu(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("component", ["resid_pre", "head_out_by_pos"])
def test_embedded_model_both_directions_and_normalisation(component):
    import interp_widgets as iw

    model = iw.load_model()
    clean, corrupt = random_pair(model, n=12, seed=1)
    metric = LogitDiff(int(clean[0, 5]), int(corrupt[0, 3]))
    for direction in ("denoise", "noise"):
        ours = patch(model, clean[0], corrupt[0], metric, component, direction)
        torch.testing.assert_close(ours.values, oracle(model, component, direction, clean, corrupt, metric).float().cpu(), atol=1e-4, rtol=0)
    resid = patch(model, clean[0], corrupt[0], metric, "resid_pre", "denoise")
    # patching the whole stream at the first layer and the changed position restores the clean run exactly
    assert float(resid.normalised[0, 3]) == pytest.approx(1.0, abs=1e-4)
    assert float(resid.normalised[0, 5]) == pytest.approx(0.0, abs=1e-4)  # a position where nothing differs


def test_user_metric_is_checked_and_pairs_must_match(toy):
    clean, corrupt = random_pair(toy)
    result = patch(toy, clean[0], corrupt[0], lambda logits: logits[:, -1, 5] - logits[:, -2, 5], "attn_out")
    assert result.values.shape == (toy.cfg.n_layers, clean.shape[1])
    with pytest.raises(InterpWidgetsError, match="one number per run"):
        patch(toy, clean[0], corrupt[0], lambda logits: logits[:, -1, 5].sum(), "attn_out")
    with pytest.raises(InterpWidgetsError, match="equal lengths"):
        token_pair(toy, "The cat sat on the mat", "The cat sat on the big mat")
    with pytest.raises(InterpWidgetsError, match="component must be one of"):
        patch(toy, clean[0], corrupt[0], LogitDiff(1, 2), "resid_post")
    with pytest.raises(InterpWidgetsError, match="is not one token"):
        patch(toy, clean[0], corrupt[0], (" catastrophically", " the"), "attn_out")


def test_attribution_patching_is_exact_for_a_linear_metric_at_the_last_layer_and_close_elsewhere(toy):
    from interp_widgets.compute.patching.activation import attribution_patch

    clean, corrupt = random_pair(toy, seed=2)
    metric = LogitDiff(5, 11)
    for direction in ("denoise", "noise"):
        estimate = attribution_patch(toy, clean[0], corrupt[0], metric, "mlp_out", direction)
        exact = patch(toy, clean[0], corrupt[0], metric, "mlp_out", direction)
        assert estimate.clean == pytest.approx(exact.clean, abs=1e-4) and estimate.corrupt == pytest.approx(exact.corrupt, abs=1e-4)
        # the last block's MLP output reaches the logits through the final LayerNorm only: nearly linear
        last = toy.cfg.n_layers - 1
        assert torch.corrcoef(torch.stack([estimate.values[last], exact.values[last]]))[0, 1] > 0.95
        heads = attribution_patch(toy, clean[0], corrupt[0], metric, "head_out_by_pos", direction)
        assert heads.values.shape == (toy.cfg.n_layers, clean.shape[1], toy.cfg.n_heads)
    chosen = patch(toy, clean[0], corrupt[0], metric, "head_out", "denoise", cells=[(0, 1), (1, 2)])
    full = patch(toy, clean[0], corrupt[0], metric, "head_out", "denoise")
    assert chosen.values.isnan().sum() == chosen.values.numel() - 2
    assert float(chosen.values[1, 2]) == pytest.approx(float(full.values[1, 2]), abs=1e-5)
    with pytest.raises(InterpWidgetsError, match="outside the head_out grid"):
        patch(toy, clean[0], corrupt[0], metric, "head_out", cells=[(5, 0)])


def test_patching_view_through_its_requests():
    import interp_widgets as iw
    from interp_widgets.compute.patching import tasks
    from interp_widgets.widgets._wire import from_wire

    model = iw.load_model()
    pair = tasks.docstring_pair(model)
    view = iw.PatchingView.from_model(model, pair.clean, pair.corrupt, pair.metric)
    denoise = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", "denoise")
    noise = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", "noise")
    torch.testing.assert_close(from_wire(view.denoise), denoise.normalised)
    torch.testing.assert_close(from_wire(view.noise), noise.normalised - 1)
    assert view.differing == tasks.differing_positions(model, pair.clean, pair.corrupt)
    request = functools.partial(ask, view)
    position = view.differing[0]
    reply = request("inspect", direction="denoise", cell=[0, position])
    assert reply["ok"] and view.selected["metric"] == pytest.approx(float(denoise.values[0, position]), abs=1e-3)
    assert len(view.selected["top"]) == 5
    assert request("set", component="head_out")["ok"] and view.axes == ["layer", "head"]
    assert from_wire(view.denoise).shape == (model.cfg.n_layers, model.cfg.n_heads)
    bad = request("set", clean=pair.clean, corrupt=pair.corrupt + " extra words")
    assert not bad["ok"] and "equal lengths" in bad["error"] and view.corrupt_prompt == pair.corrupt
    assert "same" in request("set", clean=pair.clean, corrupt=pair.clean)["error"]
    assert "outside" in request("inspect", direction="noise", cell=[9, 0])["error"]
    assert "static snapshot" in view.to_static_html() and "strongest cell" in view.to_text()
    assert "cannot be changed from the view" in request("set", model=None)["error"]  # only the EDITABLE inputs
    assert [c["name"] for c in view.get_state("components")["components"]][:2] == ["resid_pre", "attn_out"]  # the registry, as data
    from interp_widgets.compute.patching.activation import attribution_patch

    assert request("set", method="attribution")["ok"] and view.method == "attribution"
    estimate = attribution_patch(model, pair.clean, pair.corrupt, pair.metric, "head_out", "denoise")
    torch.testing.assert_close(from_wire(view.denoise), estimate.normalised)
    assert request("inspect", direction="denoise", cell=[1, 1])["ok"]  # a click patches that cell exactly
    exact = patch(model, pair.clean, pair.corrupt, pair.metric, "head_out", "denoise", cells=[(1, 1)])
    assert view.selected["metric"] == pytest.approx(float(exact.values[1, 1]), abs=1e-3)
    assert "method must be" in request("set", method="guess")["error"] and view.method == "attribution"


def test_ioi_on_the_deeper_embedded_model_moves_from_the_subject_to_the_end():
    """What notebook 03 shows: the 6-layer model solves the IOI pair, and the denoising map of the
    stream sits at the second mention of the subject in the first layers and at the last position
    in the last ones (heads in between carry it across)."""
    import interp_widgets as iw
    from interp_widgets.compute.patching import tasks

    model = iw.load_model("embedded-6l")
    pair = tasks.ioi_pair(model, seed=0)
    result = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", "denoise")
    assert result.clean > 2 and result.corrupt < 0, (result.clean, result.corrupt)
    hooked = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", "denoise", fast=False)  # learned positions too
    torch.testing.assert_close(result.values, hooked.values, atol=1e-4, rtol=0)
    tokens = model.to_str_tokens(pair.clean)
    subject_again = max(i for i, t in enumerate(tokens) if t == pair.wrong)  # the second mention of the subject
    values = result.normalised
    assert float(values[0, subject_again]) == pytest.approx(1.0, abs=1e-3)
    assert float(values[-1, -1]) > 0.8 and abs(float(values[-1, subject_again])) < 0.2, values
    heads = patch(model, pair.clean, pair.corrupt, pair.metric, "head_out", "denoise").normalised
    assert float(heads.max()) > 0.3, heads  # some single head carries a good part of it


@pytest.mark.parametrize("fast", [True, False])
def test_patching_reports_progress_between_batches_and_stops_when_told(monkeypatch, fast):
    import interp_widgets as iw
    from interp_widgets.compute.patching import engines as patching_engines
    from interp_widgets.compute.patching import tasks
    from interp_widgets.errors import Superseded

    monkeypatch.setattr(patching_engines, "ROWS_PER_CHUNK", 100)  # several batches on a short pair
    model = iw.load_model()
    pair = tasks.docstring_pair(model)
    seen = []
    result = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", fast=fast, progress=lambda done, total, what: seen.append((done, total, what)))
    total = result.values.numel()
    assert len(seen) > 2 and [done for done, _, _ in seen] == sorted(done for done, _, _ in seen) and seen[-1][1] == total
    assert all(what == "patching (denoise)" for _, _, what in seen)
    asked = []
    with pytest.raises(Superseded):  # a newer request: the remaining batches are not run
        patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", fast=fast, should_stop=lambda: asked.append(1) or len(asked) > 1)
    assert len(asked) == 2


def test_ioi_on_the_deeper_model_does_not_generalise_to_new_sentence_shapes():
    """What notebook 03's section 6 says: right on its training shapes, no better than chance on
    held-out shapes (leaning to the repeated name), and a held-out pair leaves no gap to patch."""
    import interp_widgets as iw
    from interp_widgets.compute.patching import tasks
    from interp_widgets.compute.patching.task_accuracy import IOI_HELDOUT_NAMES, IOI_HELDOUT_TEMPLATES, ioi_accuracy
    model = iw.load_model("embedded-6l")
    seen = ioi_accuracy(model, n=200, seed=0)
    unseen = ioi_accuracy(model, n=200, seed=0, templates=IOI_HELDOUT_TEMPLATES, names=IOI_HELDOUT_NAMES)
    assert seen["accuracy"] >= 0.85 and unseen["accuracy"] <= 0.55 and unseen["logit_diff"] < 0, (seen, unseen)
    pair = tasks.ioi_pair(model, seed=0, templates=IOI_HELDOUT_TEMPLATES)
    result = patch(model, pair.clean, pair.corrupt, pair.metric, "resid_pre", "denoise")
    assert result.clean <= result.corrupt, (result.clean, result.corrupt)
