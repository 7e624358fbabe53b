"""The sharded activation index over a token stream equals one in-memory index over the same tokens."""

import numpy as np
import pytest
import torch

from interp_widgets.compute.features.index import build_index
from interp_widgets.compute.features.shards import build_sharded_index, merge_top, stream_sequences
from interp_widgets.errors import InterpWidgetsError

CONTEXT = 32
TOP_K = 6


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import interp_widgets as iw

    model, sae = iw.load_model(), iw.load_sae("1x")
    bos = model.tokenizer.bos_token_id
    stream = iw.models.validation_tokens(CONTEXT, max_tokens=CONTEXT * 40, bos=bos)[:, 1:].reshape(-1)  # 40 windows' tokens
    pieces = torch.split(stream, 37)  # an id stream in odd-sized pieces
    tokens = torch.cat(list(stream_sequences(iter(pieces), CONTEXT, bos, batch=7)))
    whole = build_index(model, sae, tokens=tokens, max_tokens=None, progress=False)
    done = []
    sharded = build_sharded_index(model, sae, stream_sequences(iter(pieces), CONTEXT, bos, batch=7), tmp_path_factory.mktemp("shards"),
                                  shard_tokens=CONTEXT * 9, top_k=TOP_K, progress=done.append)
    return whole, sharded, done


def brute_top(whole, feature, k):
    """The dashboard's order: values descending, ties by earlier position (a stable sort over ascending positions)."""
    positions, values = whole.feature(feature)
    order = torch.argsort(values, descending=True, stable=True)[:k]
    return values[order], positions[order]


def test_the_stream_is_cut_into_bos_led_windows(setup):
    whole, sharded, done = setup
    assert whole.tokens.shape == (40, CONTEXT) and (whole.tokens[:, 0] == whole.tokens[0, 0]).all()
    assert sharded.shard_sequences == [9, 9, 9, 9, 4] and done == [9, 18, 27, 36, 40]
    assert sharded.n_tokens == whole.n_tokens


def test_merged_top_k_equals_the_in_memory_index(setup):
    whole, sharded, _ = setup
    firing = (whole.indptr.diff() > 0).nonzero()[:, 0]
    assert firing.numel() > 50
    for feature in firing.tolist():
        values, positions = sharded.top(feature)
        expected_values, expected_positions = brute_top(whole, feature, TOP_K)
        torch.testing.assert_close(values, expected_values, atol=0, rtol=0)
        assert torch.equal(positions, expected_positions)
    assert torch.equal(sharded.counts, whole.indptr.diff())
    peak = torch.zeros(whole.d_sae).scatter_reduce(0, whole.feature_ids(), whole.values.float(), reduce="amax")
    torch.testing.assert_close(sharded.max, peak)


def test_a_feature_read_from_the_shards_equals_the_in_memory_one(setup):
    whole, sharded, _ = setup
    busiest = int(whole.indptr.diff().argmax())
    for feature in (0, busiest):
        positions, values = sharded.feature(feature)
        expected_positions, expected_values = whole.feature(feature)
        assert torch.equal(positions, expected_positions)
        torch.testing.assert_close(values, expected_values)
    flat = int(sharded.top(busiest, 1)[1][0])
    tokens, center = sharded.context_of(flat, left=3, right=2)
    sequence, position = divmod(flat, CONTEXT)
    assert tokens[center] == int(whole.tokens[sequence, position])


def test_summaries_reload_from_disk(setup):
    from interp_widgets.compute.features.shards import ShardedIndex

    _, sharded, _ = setup
    again = ShardedIndex.load(sharded.folder)
    assert again.shard_sequences == sharded.shard_sequences
    assert torch.equal(again.top_positions, sharded.top_positions)


def test_merge_breaks_ties_by_position_and_pads():
    values = np.array([[1.0, 3.0, 3.0, -np.inf], [2.0, -np.inf, -np.inf, -np.inf]], dtype=np.float32)
    positions = np.array([[5, 9, 4, -1], [7, -1, -1, -1]])
    top_values, top_positions = merge_top(values, positions, 3)
    assert top_positions.tolist() == [[4, 9, 5], [7, -1, -1]]
    assert top_values[0].tolist() == [3.0, 3.0, 1.0]


def test_an_empty_stream_is_refused(setup, tmp_path):
    import interp_widgets as iw

    with pytest.raises(InterpWidgetsError, match="empty"):
        build_sharded_index(iw.load_model(), iw.load_sae("1x"), iter([]), tmp_path / "none")
