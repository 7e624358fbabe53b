"""The activation index and dashboards equal a brute-force computation over the same tokens."""

import pytest
import torch

from interp_widgets.compute.features.dashboard import feature_dashboard, feature_table, features_on_prompt, features_on_token
from interp_widgets.compute.features.index import ActivationIndex, build_index
from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.errors import InterpWidgetsError

HOOK = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def setup():
    import interp_widgets as iw

    model, sae = iw.load_model(), iw.load_sae("1x")
    tokens = iw.models.validation_tokens(64, max_tokens=64 * 24, bos=model.tokenizer.bos_token_id)
    steps = []
    index = build_index(model, sae, tokens=tokens, batch=8, progress=lambda done, total: steps.append((done, total)))
    with torch.inference_mode():
        codes = sae.encode(activations_at(model, tokens, HOOK)).float().clone()
    codes = codes.clone()
    codes[:, 0] = 0  # BOS left out
    return model, sae, tokens, index, codes, steps


def test_index_holds_every_nonzero_code(setup):
    model, sae, tokens, index, codes, steps = setup
    assert steps[-1] == (24, 24) and len(steps) == 3
    assert index.positions.numel() == int((codes > 0).sum())
    for f in (0, 51, 158, 255):
        torch.testing.assert_close(index.dense(f), codes[..., f])
    assert index.n_tokens == 24 * 63
    flat = codes.reshape(-1, codes.shape[-1])  # [tokens, d_sae]
    for f in range(index.d_sae):  # every feature's run: its positions ascending, each with its value (3 batches merged)
        positions, values = index.feature(f)
        expected = flat[:, f].nonzero()[:, 0]
        assert torch.equal(positions, expected), f
        torch.testing.assert_close(values, flat[expected, f])


def test_dashboard_equals_brute_force(setup):
    model, sae, tokens, index, codes, _ = setup
    f = 51
    dash = feature_dashboard(index, f, model, sae, k=5, n_bins=4, per_bin=2, seed=3)
    column = codes[..., f]
    values = column[column > 0]
    assert dash.density == pytest.approx(values.numel() / (24 * 63)) and dash.max == pytest.approx(float(values.max()))
    assert [e.value for e in dash.top] == pytest.approx(values.sort(descending=True).values[:5].tolist())
    for example in dash.top:
        assert float(column[example.sequence, example.position]) == pytest.approx(example.value)
        assert example.tokens[example.center] == int(tokens[example.sequence, example.position])
        assert example.values[example.center] == pytest.approx(example.value)
    edges = torch.linspace(0, float(values.max()), 5)
    for b, found in enumerate(dash.bins):
        inside = (values > edges[b]) & (values <= edges[b + 1]) if b else (values <= edges[1])
        assert found.count == int(inside.sum()) and len(found.examples) == min(2, found.count)
        assert all(edges[b] - 1e-6 <= e.value <= edges[b + 1] + 1e-6 for e in found.examples)
    assert sum(bin_.count for bin_ in dash.bins) == values.numel() == int(dash.histogram_counts.sum())
    again = feature_dashboard(index, f, k=5, n_bins=4, per_bin=2, seed=3)
    assert [e.position for b in again.bins for e in b.examples] == [e.position for b in dash.bins for e in b.examples]  # seeded
    # tokens it fires on most: mean code over every occurrence (3 or more)
    ids, flat = tokens[:, 1:].reshape(-1), column[:, 1:].reshape(-1)
    means = {t: float(flat[ids == t].mean()) for t in ids.unique().tolist() if int((ids == t).sum()) >= 3}
    best = sorted(means, key=lambda t: -means[t])[:3]
    assert [t for t, *_ in dash.top_tokens[:3]] == best
    assert dash.logit_lens is not None and len(dash.logit_lens.top) == 8


def test_table_and_searches_equal_brute_force(setup):
    model, sae, tokens, index, codes, _ = setup
    table = feature_table(index)
    fired = codes[:, 1:] > 0
    torch.testing.assert_close(table.density, fired.sum(dim=(0, 1)).float() / (24 * 63))
    torch.testing.assert_close(table.max, codes.amax(dim=(0, 1)))
    f = 51
    ids, flat = tokens.reshape(-1), codes[..., f].reshape(-1)
    totals = torch.zeros(4096).index_add_(0, ids, flat)
    assert int(table.top_tokens[f, 0]) == int(totals.argmax())
    and_id = model.tokenizer(" and", add_special_tokens=False)["input_ids"][0]
    found = features_on_token(index, and_id, k=5)
    occurrences = tokens[:, 1:] == and_id
    brute = codes[:, 1:][occurrences].mean(dim=0)
    assert [f for f, *_ in found] == brute.argsort(descending=True)[:5].tolist()
    prompt = "Der Hund schläft und die Katze"
    on_prompt = features_on_prompt(model, sae, prompt, HOOK, k=3)
    with torch.inference_mode():
        prompt_codes = sae.encode(activations_at(model, model.to_tokens(prompt), HOOK)[0, 1:])
    assert [f for f, *_ in on_prompt] == prompt_codes.amax(dim=0).argsort(descending=True)[:3].tolist()
    assert [p for *_, p in on_prompt] == [1 + int(prompt_codes[:, f].argmax()) for f, *_ in on_prompt]
    with pytest.raises(InterpWidgetsError, match="out of range"):
        feature_dashboard(index, 10**6)
    absent = sorted(set(range(4096)) - set(tokens[:, 1:].reshape(-1).tolist()))[0]
    with pytest.raises(InterpWidgetsError, match="does not occur"):
        features_on_token(index, absent)


def test_save_and_memory_map(setup, tmp_path):
    _, _, _, index, _, _ = setup
    loaded = ActivationIndex.load(index.save(tmp_path / "index"), mmap=True)
    torch.testing.assert_close(loaded.dense(51), index.dense(51))
    assert loaded.hook == index.hook and loaded.d_sae == index.d_sae


def test_max_tokens_applies_to_given_tokens_too(setup):
    model, sae, tokens, index, codes, _ = setup
    capped = build_index(model, sae, tokens=tokens, max_tokens=64 * 10 + 5, progress=False)
    assert capped.tokens.shape == (10, 64) and torch.equal(capped.tokens, tokens[:10])
    for f in (0, 51):
        torch.testing.assert_close(capped.dense(f), codes[:10, :, f])
    assert build_index(model, sae, tokens=tokens[:3], max_tokens=None, progress=False).tokens.shape == (3, 64)
    with pytest.raises(InterpWidgetsError, match="max_tokens"):
        build_index(model, sae, tokens=tokens, max_tokens=0, progress=False)


def test_the_held_out_default_lives_in_models(setup):
    """compute needs its data passed in (it never reaches into models/); models.held_out_index indexes the
    embedded held-out split, the same tokens validation_tokens gives."""
    import interp_widgets as iw

    model, sae, tokens, index, codes, _ = setup
    with pytest.raises(InterpWidgetsError, match="held_out_index"):
        build_index(model, sae, progress=False)
    held_out = iw.models.held_out_index(model, sae, max_tokens=64 * 24, context=64, progress=False)
    assert torch.equal(held_out.tokens, tokens)
    assert torch.equal(held_out.indptr, index.indptr) and torch.equal(held_out.positions, index.positions)
