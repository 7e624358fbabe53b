"""QK attribution and head loadings on the model families of the shared matrix (tests/unit/models/families/zoo.py):
learned and rotary positions (halves, adjacent pairs, partial rotary), grouped-query attention,
RMSNorm, parallel blocks, sandwich norms with an attention soft-cap, skip and cross-layer transcoders.
On each: the scores' softmax over the keys (after the soft-cap) is the model's pattern, and an edge's
head parts sum to the graph's edge; per-head q/k norms (Qwen 3, Gemma 3, OLMo 2) and attention whose pieces are not
read (its own rotary, GPT-Neo's unscaled scores, BLOOM's ALiBi) are refused by name; head loadings work there too."""

import pytest
import torch

from interp_widgets.compute.attribution.attention_paths import edge_head_loadings, freeze, graph_node
from interp_widgets.compute.attribution.attribute import attribute
from interp_widgets.compute.attribution.qk import block_maths, qk_attributions
from interp_widgets.errors import InterpWidgetsError
from tests.unit.attribution.test_families import cross_layer_transcoder, load, skip_transcoders, topk_transcoders

PROMPT = "The cat sat on the mat and the dog ran"
FAMILIES = ["gpt2", "neox", "llama", "gemma2", "native-rms-rotary", "native-gqa", "mistral", "qwen2", "gemma"]
PER_HEAD_NORMS = ["qwen3", "gemma3", "olmo2"]
# attention whose pieces the package does not read (compute/core/block_maths.py): a rotary of its own, GPT-Neo's unscaled
# scores, BLOOM's ALiBi, ... QK refuses rather than guess the scale or the positions
UNREAD = ["phi", "gptj", "neo", "bloom", "falcon", "olmo", "stablelm", "granite", "phi3", "opt"]


def transcoders_for(name, model):
    if name == "llama":
        return skip_transcoders(model)
    if name == "neox":
        return cross_layer_transcoder(model)
    return topk_transcoders(model)


@pytest.mark.parametrize("name", FAMILIES)
def test_scores_give_the_models_pattern_and_head_parts_sum_to_edges(name):
    model = load(name)
    transcoders = transcoders_for(name, model)
    try:
        frozen = freeze(model, transcoders, PROMPT)
    except InterpWidgetsError as error:
        pytest.fail(f"{name}: {error}")
    n, L = frozen.n, model.cfg.n_layers
    for layer in range(L):
        results = [qk_attributions(model, transcoders, PROMPT, layer, n - 1, key, frozen=frozen) for key in range(n)]
        cap = getattr(block_maths(model, layer), "softcap", None)
        for head in range(model.cfg.n_heads):
            scores = torch.tensor([result[head].score for result in results])
            for result in results:
                assert float(result[head].pairs.sum()) == pytest.approx(result[head].score, rel=1e-5, abs=1e-5)
            capped = cap * torch.tanh(scores / cap) if cap else scores
            pattern = frozen.replacement.run.pattern[layer, head, n - 1, :n]
            visible = pattern > 0  # a sliding window hides the rest
            torch.testing.assert_close(capped[visible].softmax(0), pattern[visible] / pattern[visible].sum(), rtol=1e-4, atol=1e-5)
    assert_head_parts_sum_to_the_strongest_logit_edges(model, transcoders, frozen)


def assert_head_parts_sum_to_the_strongest_logit_edges(model, transcoders, frozen):
    """The five strongest edges into the top logit and the strongest into a last-layer feature, split by head, sum to the edges
    (the graph holds BOS as circuit-tracer does; the frozen prompt keeps every source)."""
    graph = attribute(model, transcoders, PROMPT)
    logit = graph.adjacency.shape[0] - graph.logit_tokens.shape[0]
    late = [i for i in range(graph.features.shape[0]) if int(graph.features[i, 0]) == graph.n_layers - 1]
    for target, top in [(logit, 5)] + [(late[0], 3)] * bool(late):
        row = graph.adjacency[target, :logit]
        for source in row.abs().argsort(descending=True)[:top].tolist():
            split = edge_head_loadings(frozen, graph_node(graph, target), graph_node(graph, source))
            assert split.total == pytest.approx(float(graph.adjacency[target, source]), rel=1e-4, abs=1e-5 * float(row.abs().max()))


@pytest.mark.parametrize("name", PER_HEAD_NORMS)
def test_per_head_query_and_key_norms_are_refused_by_name(name):
    model = load(name)
    transcoders = topk_transcoders(model)
    try:
        frozen = freeze(model, transcoders, PROMPT)
    except InterpWidgetsError as error:
        pytest.skip(f"{name}: attribution itself refuses this family ({error})")
    with pytest.raises(InterpWidgetsError, match="normalises each head's queries and keys"):
        qk_attributions(model, transcoders, PROMPT, 0, frozen.n - 1, 1, frozen=frozen)
    assert_head_parts_sum_to_the_strongest_logit_edges(model, transcoders, frozen)  # head loadings need no q or k: they work here


@pytest.mark.parametrize("name", UNREAD)
def test_attention_the_package_cannot_read_is_refused_by_name(name):
    model = load(name)
    transcoders = topk_transcoders(model)
    frozen = freeze(model, transcoders, PROMPT)
    with pytest.raises(InterpWidgetsError, match="needs the model's attention pieces"):
        qk_attributions(model, transcoders, PROMPT, 0, frozen.n - 1, 1, frozen=frozen)
    assert_head_parts_sum_to_the_strongest_logit_edges(model, transcoders, frozen)  # head loadings need no rotation: they work here
