"""circuit-tracer's graph JSON both ways: our file round-trips, is valid for circuit-tracer's own
pydantic schema (frontend/graph_models.py, in .venv-circuit-tracer built by
scripts/setup-circuit-tracer.sh), and every node equals the one circuit-tracer's constructors make;
labels from a file stay text; bad files get clear errors."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.attribution.attribute import attribute
from interp_widgets.compute.attribution.drawn import drawn_graph
from interp_widgets.compute.attribution.graph_file import from_circuit_tracer, load_graph_json
from interp_widgets.compute.attribution.graph_json import save_graph_json, to_circuit_tracer
from interp_widgets.errors import InterpWidgetsError
from tests.parts import MISSING
from tests.widget_requests import request

CIRCUIT_TRACER = Path(__file__).parents[3] / ".venv-circuit-tracer" / "bin" / "python"

CHECK = r"""
import json, sys
from circuit_tracer.frontend.graph_models import Model, Node
data = json.load(open(sys.argv[1]))
model = Model.model_validate(data)  # the schema itself
layers = int(max(n["layer"] for n in data["nodes"] if n["feature_type"] == "logit")) - 1
for ours in model.nodes:  # each node as circuit-tracer's own constructors make it
    layer, pos = ours.layer, ours.ctx_idx
    if ours.feature_type == "cross layer transcoder":
        theirs = Node.feature_node(int(layer), pos, int(ours.node_id.split("_")[1]), influence=ours.influence, activation=ours.activation)
    elif ours.feature_type == "mlp reconstruction error":
        theirs = Node.error_node(int(layer), pos, influence=ours.influence)
    elif ours.feature_type == "embedding":
        theirs = Node.token_node(pos, int(ours.node_id.split("_")[1]), influence=ours.influence)
    else:
        token = ours.clerp[len('Output "'):ours.clerp.rindex('" (p=')]
        theirs = Node.logit_node(pos, ours.feature, token, layers, target_logit=ours.is_target_logit, token_prob=ours.token_prob)
    assert ours.model_dump() == theirs.model_dump(), (ours.model_dump(), theirs.model_dump())
ids = {n.node_id for n in model.nodes}
assert all(link["source"] in ids and link["target"] in ids for link in model.links)
assert all(all(i in ids for i in group[1:]) for group in model.qParams.supernodes)
print(len(model.nodes), len(model.links), len(model.qParams.supernodes))
"""


WRITE = r"""
import sys
from circuit_tracer.frontend.graph_models import Link, Metadata, Model, Node, QParams
nodes = [Node.token_node(0, 50256, influence=0.9), Node.token_node(1, 464, influence=0.5),
         Node.feature_node(0, 1, 37, influence=0.2, activation=3.5), Node.feature_node(1, 1, 4001, influence=0.1, activation=1.25),
         Node.error_node(0, 1, influence=0.4), Node.logit_node(1, 262, " the", 2, target_logit=True, token_prob=0.31)]
ids = [n.node_id for n in nodes]
links = [Link(source=ids[s], target=ids[t], weight=w).model_dump() for s, t, w in [(1, 2, 0.5), (2, 3, -1.5), (4, 5, 2.0), (3, 5, 0.75)]]
meta = Metadata(slug="ct", scan="test", transcoder_list=[], prompt_tokens=["<bos>", "The"], prompt="The")
model = Model(metadata=meta, qParams=QParams(pinnedIds=[], supernodes=[["pair", ids[2], ids[3]]], linkType="both", clickedId="", sg_pos=""),
              nodes=nodes, links=links)
open(sys.argv[1], "w").write(model.model_dump_json(indent=2))
"""


def circuit_tracer_python():
    if not CIRCUIT_TRACER.exists():
        if os.environ.get("IW_REQUIRE_CIRCUIT_TRACER"):
            pytest.fail("IW_REQUIRE_CIRCUIT_TRACER is set but .venv-circuit-tracer is missing: run scripts/setup-circuit-tracer.sh")
        pytest.skip(f"{MISSING}circuit-tracer's environment (scripts/setup-circuit-tracer.sh builds it)")
    return str(CIRCUIT_TRACER)


@pytest.fixture(scope="module")
def drawn():
    model, transcoders = iw.load_model(), iw.load_transcoders("embedded")
    graph = attribute(model, transcoders, "Mr and Mrs Dursley, of number four, Privet Drive. Mr and Mrs Dursley, of number four, Privet")
    drawn = drawn_graph(graph, graph.prune(0.8, 0.98))
    drawn.supernodes = [["first features", *[i for i in range(drawn.n_nodes) if drawn.kinds[i] == 1][:3]]]
    return drawn


def test_round_trip_keeps_every_node_edge_and_supernode(drawn, tmp_path):
    back = load_graph_json(save_graph_json(drawn, tmp_path / "g.json"))
    for name in ("kinds", "rows", "positions", "features", "activations", "sources", "targets", "weights"):
        assert torch.equal(getattr(back, name), getattr(drawn, name)), name
    not_logit = drawn.kinds != 3  # circuit-tracer writes no influence for logit nodes
    assert torch.equal(back.influence[not_logit], drawn.influence[not_logit])
    assert back.labels == drawn.labels and back.supernodes == drawn.supernodes and back.n_layers == drawn.n_layers
    assert back.prompt == drawn.prompt and back.token_strings == drawn.token_strings
    assert to_circuit_tracer(back, "g") == json.loads((tmp_path / "g.json").read_text())  # and back again: the same file


def test_our_file_is_valid_for_circuit_tracers_schema(drawn, tmp_path):
    python = circuit_tracer_python()
    path = save_graph_json(drawn, tmp_path / "g.json")
    done = subprocess.run([python, "-c", CHECK, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [str(drawn.n_nodes), str(drawn.weights.numel()), "1"]


def test_a_file_written_by_circuit_tracers_classes_loads(tmp_path):
    done = subprocess.run([circuit_tracer_python(), "-c", WRITE, str(tmp_path / "ct.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    graph = load_graph_json(tmp_path / "ct.json")
    assert graph.kinds.tolist() == [0, 0, 1, 1, 2, 3] and graph.rows.tolist() == [0, 0, 1, 2, 1, 3] and graph.n_layers == 2
    assert graph.features.tolist() == [50256, 464, 37, 4001, -1, 262]  # feature indices from the ids, not the paired numbers
    assert graph.activations.tolist() == [0.0, 0.0, 3.5, 1.25, 0.0, pytest.approx(0.31)]
    assert graph.sources.tolist() == [1, 2, 4, 3] and graph.targets.tolist() == [2, 3, 5, 5] and graph.weights.tolist() == [0.5, -1.5, 2.0, 0.75]
    assert graph.supernodes == [["pair", 2, 3]] and graph.labels[5] == 'Output " the" (p=0.310)' and graph.token_strings == ["<bos>", "The"]
    view = iw.GraphView.from_graph(graph)
    assert view.counts == "6 nodes (2 features), 4 edges" and view.supernodes == [["pair", 2, 3]]


def test_a_files_labels_are_text_in_the_view(drawn, tmp_path):
    data = to_circuit_tracer(drawn, "evil")
    for node in data["nodes"]:
        if node["feature_type"] in ("cross layer transcoder", "embedding"):
            node["clerp"] = '<img src=x onerror="alert(1)">'
    data["metadata"]["prompt_tokens"][1] = "<script>alert(2)</script>"
    (tmp_path / "evil.json").write_text(json.dumps(data))
    view = iw.GraphView.from_json(tmp_path / "evil.json")
    assert '<img src=x onerror="alert(1)">' in view.labels and "<script>alert(2)</script>" in view.token_strings
    snapshot = view.to_static_html()
    assert "<img" not in snapshot and "<script" not in snapshot and "&lt;img" in snapshot
    assert not view.can_intervene and "strongest paths" in view.to_text()


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "is a JSON object"),
    ('{"metadata": {}, "nodes": []}', "has no 'links'"),
    ('{"metadata": {}, "nodes": [{"node_id": "a", "feature_type": "mlp", "ctx_idx": 0}], "links": []}', 'feature_type "mlp"'),
    ('{"metadata": {}, "nodes": [], "links": [{"source": "a", "target": "b", "weight": 1}]}', "no such node"),
    ("{not json", "is not valid JSON"),
])
def test_bad_files_get_clear_errors(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(InterpWidgetsError, match=message):
        load_graph_json(tmp_path / "bad.json")


def test_a_file_graph_without_a_model_cannot_attribute_a_new_prompt(drawn):
    view = iw.GraphView.from_graph(from_circuit_tracer(to_circuit_tracer(drawn)))
    reply = request(view, "set", {"prompt": "new text"}, id=1)
    assert reply["ok"] is False and "came from a file" in reply["error"]
