"""GraphView.compute is a function of its inputs: the graph, the drawing and the supernodes it keeps are committed
with the traits, only when the whole computation succeeds (a failed prompt leaves the old graph whole)."""

import pytest

import interp_widgets as iw
from interp_widgets.compute.attribution.drawn import FEATURE
from interp_widgets.errors import InterpWidgetsError
from tests.widget_requests import request

PROMPT = "When Mary and John went to the store, John gave a drink to"
OTHER = "The cat sat on the mat and the dog sat on the"


@pytest.fixture(scope="module")
def setup():
    return iw.load_model(), iw.load_transcoders("embedded")


def test_a_failing_prompt_then_intervene_gives_the_old_graphs_answer(setup):
    model, transcoders = setup
    view = iw.GraphView.from_model(model, transcoders, PROMPT)
    features = [i for i in range(len(view.labels)) if int(view.node_kind[i]) == FEATURE][:3]
    assert request(view, "group", {"name": "trio", "nodes": features})["ok"]
    assert request(view, "intervene", {"nodes": features, "scale": 0.0})["ok"]
    before = view.intervention
    graph, drawn, groups, labels = view.graph, view.drawn, dict(view._groups), list(view.labels)
    # The new prompt attributes fine; pruning it then fails: nothing of the new graph may stay behind.
    with pytest.raises(InterpWidgetsError, match="node_share"):
        view.set(prompt=OTHER, node_share=2.0)
    assert view.graph is graph and view.drawn is drawn and view._groups == groups and view.labels == labels
    assert view.prompt == PROMPT and view.inputs.prompt == PROMPT
    assert request(view, "intervene", {"nodes": features, "scale": 0.0})["ok"]
    assert view.intervention == before  # the old graph's tokens with the old graph's nodes, not a mix


def test_a_failed_prompt_from_the_view_keeps_the_graph_and_a_good_one_replaces_it(setup):
    model, transcoders = setup
    view = iw.GraphView.from_model(model, transcoders, PROMPT)
    graph = view.graph
    reply = request(view, "set", {"prompt": OTHER, "edge_share": -1.0})
    assert not reply["ok"] and "edge_share" in reply["error"]
    assert view.graph is graph and view.graph.prompt == PROMPT
    assert request(view, "set", {"prompt": OTHER})["ok"]
    assert view.graph is not graph and view.graph.prompt == OTHER and view.drawn.prompt == OTHER
