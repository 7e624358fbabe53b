"""EAP and EAP-IG: against transformer-lens 4.3's attribution_patch (an outside oracle), against exact patching
where the metric is linear, and EAP-IG converging as its steps grow."""

import pytest
import torch

from interp_widgets.compute.circuits import Node, edge_attribution, edge_effects, pair_batch, prepare
from interp_widgets.errors import InterpWidgetsError
from tests.unit.circuits.conftest import random_pairs, transformer_lens_attribution


def tl_metric(answer, wrong):
    return lambda logits: logits[0, -1, answer] - logits[0, -1, wrong]


def test_edge_scores_equal_transformer_lens_attribution_patch_on_a_gpt2_shaped_model(gpt2_shaped):
    attribution_patching = transformer_lens_attribution()
    pairs = random_pairs(gpt2_shaped, n=2, length=6)
    ours = edge_attribution(gpt2_shaped, pairs, per_position=True).to_transformer_lens()
    batch = pair_batch(gpt2_shaped, pairs)
    theirs = attribution_patching.attribution_patch(
        gpt2_shaped, batch.clean, batch.corrupt, tl_metric(5, 7),
        attribution_patching.EdgeAttributionConfig(granularity="edge")).edge_scores
    assert set(ours) == set(theirs) and len(ours) == 6 * edge_attribution_edges(gpt2_shaped)
    keys = list(theirs)
    a, b = torch.tensor([ours[k] for k in keys]), torch.tensor([theirs[k] for k in keys])
    torch.testing.assert_close(a, b, atol=1e-5 * float(b.abs().max()), rtol=1e-3)
    assert float(b.abs().max()) > 1e-3


def edge_attribution_edges(model):
    from interp_widgets.compute.circuits import edge_graph

    return edge_graph(model).n_edges


def test_node_scores_equal_transformer_lens_node_attribution_on_the_embedded_model(six_layer, docstring_pairs):
    attribution_patching = transformer_lens_attribution()
    pair = docstring_pairs[0]
    scores = edge_attribution(six_layer, [pair])
    batch = pair_batch(six_layer, [pair])
    answer, wrong = int(batch.answer[0]), int(batch.wrong[0])
    theirs = attribution_patching.attribution_patch(six_layer, batch.clean, batch.corrupt, tl_metric(answer, wrong)).node_scores
    summed = {}
    for node, value in theirs.items():  # theirs are per position: sum them
        key = Node(node.kind, node.layer, node.head)
        summed[key] = summed.get(key, 0.0) + value
    ours = scores.node_scores()
    assert set(ours) == set(summed)
    a, b = torch.tensor([ours[k] for k in summed]), torch.tensor(list(summed.values()))
    torch.testing.assert_close(a, b, atol=1e-4 * float(b.abs().max()), rtol=1e-3)


def test_on_a_linear_model_eap_equals_the_exact_effect_of_every_edge(linear_model):
    pairs = random_pairs(linear_model, n=2)
    prep = prepare(linear_model, pairs)
    scores = edge_attribution(linear_model, pairs, prepared=prep)
    edges = scores.graph.valid.nonzero().tolist()
    exact = edge_effects(linear_model, pairs, [tuple(e) for e in edges], prepared=prep)
    eap = torch.tensor([float(scores.scores[s, r]) for s, r in edges])
    assert float(exact.abs().max()) > 1e-3
    torch.testing.assert_close(eap, exact, atol=1e-4, rtol=1e-4)
    ig = edge_attribution(linear_model, pairs, ig_steps=4, prepared=prep)
    torch.testing.assert_close(ig.scores, scores.scores, atol=1e-5, rtol=1e-4)


def test_eap_ig_approaches_the_exact_effect_of_the_input_as_its_steps_grow(toy):
    """Patching every edge out of the input restores the clean run, so its exact effect is M(clean) - M(corrupt); the
    input's EAP-IG score (the sum over its edges) is a Riemann sum of that path integral, exact in the limit."""
    pairs = random_pairs(toy, n=2)
    prep = prepare(toy, pairs)
    exact = float(prep.clean_metric.mean() - prep.corrupt_metric.mean())
    errors = [abs(edge_attribution(toy, pairs, ig_steps=steps, prepared=prep).node_scores()[Node("embed")] - exact)
              for steps in (1, 4, 16, 64)]
    assert errors[-1] < errors[0] / 5 and errors[-1] < 0.05 * abs(exact)
    assert all(later <= earlier * 1.05 for earlier, later in zip(errors[1:], errors[2:]))


def test_per_position_scores_sum_to_the_position_summed_ones(toy):
    pairs = random_pairs(toy, n=2)
    prep = prepare(toy, pairs)
    per = edge_attribution(toy, pairs, per_position=True, prepared=prep)
    total = edge_attribution(toy, pairs, prepared=prep)
    torch.testing.assert_close(per.scores.sum(0), total.scores, atol=1e-5, rtol=1e-5)
    u, v, value = total.top(1)[0]
    assert total.score(u, v) == pytest.approx(value)


def test_metrics_probability_and_kl_and_a_function(toy):
    pairs = random_pairs(toy, n=2)
    kl = edge_attribution(toy, pairs, metric="kl")
    assert kl.clean_metric == pytest.approx(0.0, abs=1e-6) and kl.corrupt_metric > 0
    prob = edge_attribution(toy, pairs, metric="probability")
    custom = edge_attribution(toy, pairs, metric=lambda logits, p: logits[torch.arange(len(p.last)), p.last].softmax(-1)[:, 5])
    torch.testing.assert_close(prob.scores, custom.scores)


def test_bad_inputs_are_explained(toy):
    pairs = random_pairs(toy, n=1)
    with pytest.raises(InterpWidgetsError, match="ig_steps"):
        edge_attribution(toy, pairs, ig_steps=0)
    with pytest.raises(InterpWidgetsError, match="one number per row"):
        edge_attribution(toy, pairs, metric=lambda logits, p: logits.sum())
    with pytest.raises(InterpWidgetsError, match="unknown metric"):
        edge_attribution(toy, pairs, metric="accuracy")
    with pytest.raises(InterpWidgetsError, match="equal lengths"):
        edge_attribution(toy, [("The cat sat", "The cat sat on the mat", 5, 7)])
    with pytest.raises(InterpWidgetsError, match="answer"):
        edge_attribution(toy, [tuple(pairs[0][:2])])


def test_pairs_of_different_lengths_share_a_batch_by_padding(six_layer, docstring_pairs):
    from interp_widgets.compute.patching.tasks import ioi_pair

    pairs = [docstring_pairs[0], ioi_pair(six_layer, seed=0)]
    assert pair_batch(six_layer, pairs).last.unique().numel() == 2
    together = edge_attribution(six_layer, pairs)
    alone = [edge_attribution(six_layer, [pair]) for pair in pairs]
    torch.testing.assert_close(together.scores, (alone[0].scores + alone[1].scores) / 2, atol=1e-4, rtol=1e-4)
    with pytest.raises(InterpWidgetsError, match="one length"):
        edge_attribution(six_layer, pairs, per_position=True)
