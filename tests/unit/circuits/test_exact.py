"""Exact edge patching against a hand-written hook loop and transformer-lens' faithfulness; circuits and the
faithfulness curve (the full graph recovers 1, the empty graph 0)."""

import pytest
import torch

from interp_widgets.compute.circuits import (
    edge_attribution, edge_effects, edge_graph, faithfulness, faithfulness_curve, greedy, pair_batch, patched_metric, prepare,
    threshold, top_n,
)
from interp_widgets.errors import InterpWidgetsError
from tests.unit.circuits.conftest import random_pairs, transformer_lens_attribution


def _bias(model, name, layer, heads, d_head):
    try:
        return getattr(model, name)[layer]
    except AttributeError:
        return torch.zeros(heads, d_head)


def hand_patched_metric(model, base, other, patched, answer, wrong):
    """One pair, a plain loop: every receiver's input rebuilt head by head and sender by sender, the projections
    recomputed from scratch; the edges in `patched` ({(s, r)}) carry the `other` run's sender values."""
    graph = edge_graph(model)
    group = graph.group

    def senders(cache):
        values = [cache["blocks.0.hook_resid_pre"][0]]
        for layer in range(graph.n_layers):
            values += [cache[f"blocks.{layer}.attn.hook_z"][0, :, h] @ model.W_O[layer, h] for h in range(graph.n_heads)]
            if graph.has_mlp:
                values.append(cache[f"blocks.{layer}.hook_mlp_out"][0])
        return values

    with torch.no_grad():
        _, cache = model.run_with_cache(other)
    theirs = senders(cache)
    live, stream = {}, {}

    def rebuilt(r, residual):
        out = residual.clone()
        for s in range(len(graph.senders)):
            if (s, r) in patched:
                out = out + theirs[s] - live[s]
        return out

    def on_resid_pre(layer):
        def hook(x, hook):
            stream["pre"] = x[0].clone()
            if layer == 0:
                live[0] = x[0].clone()
        return hook

    def on_z(layer):
        def hook(z, hook):
            for h in range(graph.n_heads):
                live[graph.layers[layer].heads.start + h] = z[0, :, h] @ model.W_O[layer, h]
        return hook

    def on_projection(layer, which, first, n):
        W = {"q": model.W_Q, "k": model.W_K, "v": model.W_V}[which][layer]
        if W.shape[0] != n:
            W = W[::group]
        b = _bias(model, f"b_{which.upper()}", layer, n, W.shape[-1])
        b = b[::group] if b.shape[0] != n else b

        def hook(x, hook):
            x = x.clone()
            for h in range(n):
                x[0, :, h] = model.blocks[layer].ln1(rebuilt(first + h, stream["pre"])) @ W[h] + b[h]
            return x
        return hook

    def on_mlp_in(layer):
        def hook(x, hook):
            return model.blocks[layer].ln2(rebuilt(graph.layers[layer].mlp_in, stream["mid"]))[None]
        return hook

    def remember(key):
        def hook(x, hook):
            stream[key] = x[0].clone()
        return hook

    def on_mlp_out(layer):
        def hook(x, hook):
            live[graph.layers[layer].mlp] = x[0].clone()
        return hook

    def on_final(x, hook):
        return rebuilt(len(graph.receivers) - 1, x[0])[None]

    hooks = []
    for layer, slots in enumerate(graph.layers):
        hooks.append((f"blocks.{layer}.hook_resid_pre", on_resid_pre(layer)))
        hooks += [(f"blocks.{layer}.attn.hook_q", on_projection(layer, "q", slots.q.start, graph.n_heads)),
                  (f"blocks.{layer}.attn.hook_k", on_projection(layer, "k", slots.k.start, graph.n_kv_heads)),
                  (f"blocks.{layer}.attn.hook_v", on_projection(layer, "v", slots.v.start, graph.n_kv_heads)),
                  (f"blocks.{layer}.attn.hook_z", on_z(layer))]
        if graph.has_mlp:
            hooks += [(f"blocks.{layer}.hook_resid_mid", remember("mid")), (f"blocks.{layer}.mlp.hook_in", on_mlp_in(layer)),
                      (f"blocks.{layer}.hook_mlp_out", on_mlp_out(layer))]
    hooks.append((f"blocks.{graph.n_layers - 1}.hook_resid_post", on_final))
    with torch.no_grad(), model.hooks(fwd_hooks=hooks):
        logits = model(base)
    return float(logits[0, -1, answer] - logits[0, -1, wrong])


@pytest.fixture(scope="module")
def gqa():
    from tests.unit.models.families.zoo import native_family

    return native_family("native-gqa")


@pytest.mark.parametrize("which", ["toy", "gqa"])
def test_exact_edge_patching_equals_a_hand_written_hook_loop(which, toy, gqa):
    model = toy if which == "toy" else gqa
    pairs = random_pairs(model, n=1)
    prep = prepare(model, pairs)
    graph = prep.graph
    generator = torch.Generator().manual_seed(1)
    masks = torch.rand(3, *graph.valid.shape, generator=generator) < torch.tensor([0.1, 0.5, 0.9])[:, None, None]
    masks &= graph.valid
    ours = patched_metric(prep, masks, into="clean")
    batch = pair_batch(model, pairs)
    for mask, value in zip(masks, ours):
        patched = {tuple(e) for e in mask.nonzero().tolist()}
        assert float(value) == pytest.approx(hand_patched_metric(model, batch.clean, batch.corrupt, patched, 5, 7), abs=2e-4, rel=1e-4)
    # single edges into the corrupt run, among them one into a key input (shared by a group of query heads under GQA)
    k_receiver = graph.layers[1].k.start
    edges = [(0, k_receiver), (graph.layers[0].heads.start + 1, graph.layers[1].v.start), (3, len(graph.receivers) - 1)]
    effects = edge_effects(model, pairs, edges, prepared=prep)
    for (s, r), effect in zip(edges, effects):
        hand = hand_patched_metric(model, batch.corrupt, batch.clean, {(s, r)}, 5, 7) - float(prep.corrupt_metric[0])
        assert float(effect) == pytest.approx(hand, abs=2e-4, rel=1e-4)
    assert float(effects.abs().max()) > 1e-4


def test_full_graph_recovers_one_and_the_empty_graph_zero(six_layer, docstring_pairs):
    scores = edge_attribution(six_layer, docstring_pairs)
    curve = faithfulness_curve(six_layer, docstring_pairs, scores, sizes=[0, 10, scores.graph.n_edges])
    assert float(curve.recovered[0]) == pytest.approx(0.0, abs=1e-4)
    assert float(curve.recovered[-1]) == pytest.approx(1.0, abs=1e-4)
    assert float(curve.metric[-1]) == pytest.approx(curve.clean_metric, abs=1e-3)
    assert 0.05 < float(curve.recovered[1]) < 1.2  # ten edges already carry part of it
    greedy_curve = faithfulness_curve(six_layer, docstring_pairs, scores, sizes=[0, scores.graph.n_edges], selection="greedy")
    torch.testing.assert_close(greedy_curve.recovered, torch.tensor([0.0, 1.0]), atol=1e-4, rtol=0)


def test_per_position_circuits_also_span_zero_to_one(toy):
    pairs = random_pairs(toy, n=2)
    scores = edge_attribution(toy, pairs, per_position=True)
    n = int(scores.valid.sum())
    curve = faithfulness_curve(toy, pairs, scores, sizes=[0, n // 3, n])
    assert float(curve.recovered[0]) == pytest.approx(0.0, abs=1e-4) and float(curve.recovered[-1]) == pytest.approx(1.0, abs=1e-4)
    single = faithfulness(toy, pairs, top_n(scores, n // 3))
    assert single == pytest.approx(float(curve.recovered[1]), abs=1e-5)


def test_faithfulness_equals_transformer_lens_faithfulness(gpt2_shaped):
    attribution_patching = transformer_lens_attribution()
    pairs = random_pairs(gpt2_shaped, n=1, length=6)
    scores = edge_attribution(gpt2_shaped, pairs)
    circuit = top_n(scores, 40)
    batch = pair_batch(gpt2_shaped, pairs)
    tl_circuit = [(u.to_transformer_lens(p), v.to_transformer_lens(p)) for u, v, _ in circuit.edges() for p in range(6)]
    theirs = attribution_patching.faithfulness(gpt2_shaped, batch.clean, batch.corrupt,
                                               lambda logits: logits[0, -1, 5] - logits[0, -1, 7], tl_circuit).recovered
    assert faithfulness(gpt2_shaped, pairs, circuit) == pytest.approx(theirs, abs=1e-4)


def test_circuits_by_top_n_threshold_and_greedy(toy):
    scores = edge_attribution(toy, random_pairs(toy, n=2))
    top = top_n(scores, 12)
    magnitudes = scores.scores.abs()[scores.valid]
    assert top.n_edges == 12 and float(scores.scores.abs()[top.kept].min()) >= float(magnitudes.sort().values[-12])
    cut = float(magnitudes.sort().values[-12])
    assert threshold(scores, cut).kept.equal(top.kept)
    graph = scores.graph
    circuit = greedy(scores, 30)
    senders = {s for s, _ in circuit.kept.nonzero().tolist()}
    for s, r in circuit.kept.nonzero().tolist():  # every kept edge feeds the logits or a component already in the circuit
        component = graph.receiver_component(r)
        assert not component or senders & set(component)
    with pytest.raises(InterpWidgetsError, match="selection"):
        faithfulness_curve(toy, random_pairs(toy, n=2), scores, selection="best")


def test_the_curve_is_the_same_however_the_runs_are_batched(toy):
    pairs = random_pairs(toy, n=3)
    prep = prepare(toy, pairs)
    scores = edge_attribution(toy, pairs, prepared=prep)
    sizes = [0, 3, 10, 30, 100, scores.graph.n_edges]
    wide = faithfulness_curve(toy, pairs, scores, sizes=sizes, prepared=prep)
    narrow = faithfulness_curve(toy, pairs, scores, sizes=sizes, prepared=prep, max_rows=3)  # one circuit per pass
    torch.testing.assert_close(wide.recovered, narrow.recovered, atol=1e-5, rtol=1e-5)
    assert [faithfulness(toy, pairs, top_n(scores, k), prepared=prep) for k in (3, 30)] == pytest.approx(
        [float(wide.recovered[1]), float(wide.recovered[3])], abs=1e-5)


def test_greedy_order_is_the_greedy_definition(toy):
    """Each step: the largest-|score| edge among those whose receiver's component is already in (the logits at first)."""
    from interp_widgets.compute.circuits import greedy_order

    scores = edge_attribution(toy, random_pairs(toy, n=2))
    graph = scores.graph
    S, R = len(graph.senders), len(graph.receivers)
    joined, available, expected = {S}, graph.valid.clone(), []
    for _ in range(graph.n_edges):
        open_receivers = torch.tensor([bool(set(graph.receiver_component(r) or [S]) & joined) for r in range(R)])
        best = int(torch.where(available & open_receivers[None], scores.scores.abs(), torch.tensor(-1.0)).flatten().argmax())
        expected.append(best)
        available.view(-1)[best] = False
        joined.add(best // R)
    assert greedy_order(scores).tolist() == expected
