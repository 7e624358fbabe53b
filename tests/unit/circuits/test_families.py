"""The edge graph across the model-family matrix: exact where the block structure decomposes (parallel attention,
grouped and multi-query attention, rotary, gated MLPs, soft caps), a clear refusal where it does not (post-norm)."""

import pytest
import torch

from interp_widgets.compute.circuits import edge_attribution, faithfulness_curve, prepare
from interp_widgets.errors import InterpWidgetsError
from tests.unit.circuits.conftest import random_pairs
from tests.unit.models.families.zoo import family_model

WORKS = ["neox", "llama", "gemma", "gptj", "falcon", "phi", "bloom", "native-gqa", "native-softcap", "native-attn-only",
         "native-gated", "native-rms-rotary"]
REFUSED = ["gemma2", "olmo2"]  # a norm after the attention / MLP output: heads do not add into the stream


@pytest.mark.parametrize("family", WORKS)
def test_full_graph_is_the_clean_run_and_empty_graph_the_corrupt_run(family):
    model, _ = family_model(family)
    pairs = random_pairs(model, n=2)
    prep = prepare(model, pairs)
    scores = edge_attribution(model, pairs, prepared=prep)
    assert torch.isfinite(scores.scores).all() and float(scores.scores.abs().max()) > 0
    n_kv = getattr(model.cfg, "n_key_value_heads", None) or model.cfg.n_heads
    assert sum(node.kind == "k_input" and node.layer == 0 for node in scores.graph.receivers) == n_kv
    curve = faithfulness_curve(model, pairs, scores, sizes=[0, scores.graph.n_edges], prepared=prep)
    torch.testing.assert_close(curve.recovered, torch.tensor([0.0, 1.0]), atol=1e-3, rtol=0)


@pytest.mark.parametrize("family", REFUSED)
def test_post_norm_blocks_are_refused_with_the_reason(family):
    model, _ = family_model(family)
    with pytest.raises(InterpWidgetsError, match="does not add the sum of its heads"):
        prepare(model, random_pairs(model, n=1))
