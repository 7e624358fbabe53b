"""The edge graph across the model-family matrix: parallel attention, grouped and multi-query attention, rotary,
gated MLPs, soft caps and post-norm blocks (a head's share of the post-norm at the norm's own scale in that run);
a clear refusal where a block's writes do not decompose."""

import pytest
import torch

from interp_widgets.compute.circuits import Node, edge_attribution, faithfulness_curve, prepare
from interp_widgets.errors import InterpWidgetsError
from tests.unit.circuits.conftest import random_pairs
from tests.unit.models.families.zoo import family_model

import importlib.metadata

OLD_BRIDGE = int(importlib.metadata.version("transformer-lens").split(".")[0]) < 4
POST_NORM = {"gemma2", "gemma3", "olmo2"}  # transformer-lens 3.9's bridge hooks these differently: refused there, clearly
WORKS = ["neox", "llama", "gemma", "gemma2", "gemma3", "olmo2", "gptj", "falcon", "phi", "bloom", "native-gqa",
         "native-softcap", "native-attn-only", "native-gated", "native-rms-rotary"]


@pytest.mark.parametrize("family", WORKS)
def test_full_graph_is_clean_empty_graph_is_corrupt_and_the_gradients_integrate(family):
    model, _ = family_model(family)
    pairs = random_pairs(model, n=2)
    if OLD_BRIDGE and family in POST_NORM:
        with pytest.raises(InterpWidgetsError, match="cannot decompose this model"):
            prepare(model, pairs)
        return
    prep = prepare(model, pairs)
    scores = edge_attribution(model, pairs, prepared=prep)
    assert torch.isfinite(scores.scores).all() and float(scores.scores.abs().max()) > 0
    n_kv = getattr(model.cfg, "n_key_value_heads", None) or model.cfg.n_heads
    assert sum(node.kind == "k_input" and node.layer == 0 for node in scores.graph.receivers) == n_kv
    curve = faithfulness_curve(model, pairs, scores, sizes=[0, scores.graph.n_edges], prepared=prep)
    torch.testing.assert_close(curve.recovered, torch.tensor([0.0, 1.0]), atol=1e-3, rtol=0)
    # every edge out of the input, integrated along the path: the whole clean - corrupt gap (IG's completeness),
    # so the receivers' gradients are right in this family too
    gap = float(prep.clean_metric.mean() - prep.corrupt_metric.mean())
    integrated = edge_attribution(model, pairs, ig_steps=64, ig_batch=32, prepared=prep).node_scores()[Node("embed")]
    assert integrated == pytest.approx(gap, rel=0.1)


def test_a_block_whose_writes_do_not_add_up_is_refused_with_the_reason(toy):
    scaled = [("blocks.0.hook_resid_mid", lambda x, hook: 1.5 * x)]  # as a block scaling its residual write would
    with toy.hooks(fwd_hooks=scaled), pytest.raises(InterpWidgetsError, match="cannot decompose this model: blocks.0"):
        prepare(toy, random_pairs(toy, n=1))
