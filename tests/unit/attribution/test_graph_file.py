"""Hostile graph files: each malformed shape ends in one clear InterpWidgetsError naming the field
and the node (never a raw ValueError, TypeError, OverflowError, UnicodeDecodeError, RecursionError
or a silently wrong graph); layers and positions beyond the file's prompt (and the model's) are
refused; the node and link budget; a graph whose links all weigh 0 still draws."""

import json

import pytest

import interp_widgets as iw
from interp_widgets.compute.attribution.graph_file import MAX_LINKS, MAX_NODES, from_circuit_tracer, load_graph_json
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.transcoder import Transcoder

TOKENS = ["<bos>", "The", " cat"]


def node(node_id, feature_type, layer, ctx_idx, **fields):
    return {"node_id": node_id, "feature": 0, "layer": layer, "ctx_idx": ctx_idx, "feature_type": feature_type, "token_prob": 0.0,
            "is_target_logit": False, "run_idx": 0, "reverse_ctx_idx": 0, "jsNodeId": node_id, "clerp": "", "influence": 0.5,
            "activation": None, **fields}


def valid():
    """A small valid circuit-tracer file of a 2-layer model: tokens, two features, an error node, a logit."""
    nodes = [node("E_1_0", "embedding", "E", 0), node("E_7_1", "embedding", "E", 1), node("E_9_2", "embedding", "E", 2),
             node("0_5_1", "cross layer transcoder", "0", 1, activation=2.5), node("1_11_2", "cross layer transcoder", "1", 2, activation=1.0),
             node("0_0_2", "mlp reconstruction error", "0", 2), node("3_4_2", "logit", "3", 2, feature=4, token_prob=0.4, influence=None)]
    links = [{"source": "E_7_1", "target": "0_5_1", "weight": 0.5}, {"source": "0_5_1", "target": "1_11_2", "weight": -1.5},
             {"source": "1_11_2", "target": "3_4_2", "weight": 2.0}, {"source": "0_0_2", "target": "3_4_2", "weight": 0.25}]
    return {"metadata": {"slug": "t", "scan": "s", "transcoder_list": [], "prompt_tokens": list(TOKENS), "prompt": "The cat"},
            "qParams": {"pinnedIds": [], "supernodes": [["pair", "0_5_1", "1_11_2"]], "linkType": "both", "clickedId": "", "sg_pos": ""},
            "nodes": nodes, "links": links}


def changed(path, value):
    """`valid()` with the field at `path` (keys and indices) set to `value`."""
    data = valid()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


FEATURE = ("nodes", 3)  # node 3 is '0_5_1'
BAD = {  # name: (file, what the message must say)
    "metadata a list": (changed(("metadata",), []), "metadata is a list, not a JSON object"),
    "metadata a string": (changed(("metadata",), "x"), "metadata is \"x\", not a JSON object"),
    "nodes an object": (changed(("nodes",), {}), "has nodes an object, not a list"),
    "nodes a number": (changed(("nodes",), 3), "has nodes 3, not a list"),
    "links a string": (changed(("links",), "x"), "has links \"x\", not a list"),
    "qParams a list": (changed(("qParams",), [1]), "qParams is a list, not a JSON object"),
    "a node a list": (changed(("nodes", 3), [1, 2]), "node 3 is a list, not a JSON object"),
    "a node a number": (changed(("nodes", 3), 7), "node 3 is 7, not a JSON object"),
    "a link a string": (changed(("links", 1), "x"), "link 1 is \"x\", not a JSON object"),
    "prompt_tokens a string": (changed(("metadata", "prompt_tokens"), "The cat"), "prompt_tokens \"The cat\", not a list"),
    "a prompt token a number": (changed(("metadata", "prompt_tokens", 1), 5), "metadata.prompt_tokens[1] is 5, not a string"),
    "prompt a number": (changed(("metadata", "prompt"), 5), "prompt 5, not a string"),
    "node_id a number": (changed((*FEATURE, "node_id"), 5), "node 3 has node_id 5"),
    "node_id missing": (changed((*FEATURE, "node_id"), None), "node 3 has node_id null"),
    "feature_type a list": (changed((*FEATURE, "feature_type"), ["logit"]), "node 3 (\"0_5_1\") has feature_type a list"),
    "ctx_idx a string": (changed((*FEATURE, "ctx_idx"), "1"), "node 3 (\"0_5_1\") has ctx_idx \"1\", not a whole number"),
    "ctx_idx null": (changed((*FEATURE, "ctx_idx"), None), "has ctx_idx null"),
    "ctx_idx a list": (changed((*FEATURE, "ctx_idx"), [1]), "has ctx_idx a list, not a whole number"),
    "ctx_idx NaN": (changed((*FEATURE, "ctx_idx"), float("nan")), "has ctx_idx NaN"),
    "ctx_idx Infinity": (changed((*FEATURE, "ctx_idx"), float("inf")), "has ctx_idx Infinity"),
    "ctx_idx 2^31": (changed((*FEATURE, "ctx_idx"), 2**31), "has ctx_idx 2147483648"),
    "ctx_idx 2^31-1": (changed((*FEATURE, "ctx_idx"), 2**31 - 1), "the prompt has 3 tokens"),
    "ctx_idx a float": (changed((*FEATURE, "ctx_idx"), 1.0), "has ctx_idx 1.0, not a whole number"),
    "ctx_idx a bool": (changed((*FEATURE, "ctx_idx"), True), "has ctx_idx true, not a whole number"),
    "ctx_idx negative": (changed((*FEATURE, "ctx_idx"), -1), "has ctx_idx -1, not a whole number from 0 to 2"),
    "ctx_idx past the prompt": (changed((*FEATURE, "ctx_idx"), 3), "has ctx_idx 3, not a whole number from 0 to 2"),
    "layer a word": (changed((*FEATURE, "layer"), "first"), "node 3 (\"0_5_1\") has layer \"first\""),
    "layer null": (changed((*FEATURE, "layer"), None), "has layer null"),
    "layer a list": (changed((*FEATURE, "layer"), [0]), "has layer a list"),
    "layer NaN": (changed((*FEATURE, "layer"), float("nan")), "has layer NaN"),
    "layer 2^31": (changed((*FEATURE, "layer"), 2**31), "has layer 2147483648"),
    "layer '2147483648'": (changed((*FEATURE, "layer"), "2147483648"), "has layer 2147483648"),
    "layer a bool": (changed((*FEATURE, "layer"), True), "has layer true"),
    "layer -1": (changed((*FEATURE, "layer"), "-1"), "has layer -1, not a whole number from 0 to 1 (the graph has 2 layers)"),
    "layer past the logits": (changed((*FEATURE, "layer"), "2"), "has layer 2, not a whole number from 0 to 1"),
    "logits on layer 999999999": (changed(("nodes", 6, "layer"), "999999999"), "node 6 (\"3_4_2\") has layer 999999999, not a whole number from 1 to 513"),
    "logits on layer 2147483647": (changed(("nodes", 6, "layer"), "2147483647"), "has layer 2147483647, not a whole number from 1 to 513"),
    "activation a string": (changed((*FEATURE, "activation"), "big"), "node 3 (\"0_5_1\") has activation \"big\", not a finite number"),
    "activation NaN": (changed((*FEATURE, "activation"), float("nan")), "has activation NaN"),
    "activation Infinity": (changed((*FEATURE, "activation"), float("-inf")), "has activation -Infinity"),
    "activation past float32": (changed((*FEATURE, "activation"), 1e39), "has activation 1e+39"),
    "activation a bool": (changed((*FEATURE, "activation"), True), "has activation true"),
    "influence a list": (changed((*FEATURE, "influence"), [0.5]), "has influence a list, not a finite number"),
    "token_prob a string": (changed(("nodes", 6, "token_prob"), "0.4"), "node 6 (\"3_4_2\") has token_prob \"0.4\""),
    "weight a string": (changed(("links", 2, "weight"), "2"), "link 2 has weight \"2\", not a finite number"),
    "weight NaN": (changed(("links", 2, "weight"), float("nan")), "link 2 has weight NaN"),
    "weight null": (changed(("links", 2, "weight"), None), "link 2 has weight null"),
    "a link's source a list": (changed(("links", 0, "source"), ["E_7_1"]), "link 0 joins a list -> \"0_5_1\", but the file has no such node"),
    "clerp a number": (changed((*FEATURE, "clerp"), 5), "has clerp 5, not a string"),
    "feature index a word": (changed((*FEATURE, "node_id"), "0_five_1"), "has feature index \"five\""),
    "logit vocabulary id 2^31": (changed(("nodes", 6, "feature"), 2**31), "has feature (vocabulary id) 2147483648"),
    "supernodes a string": (changed(("qParams", "supernodes"), "pair"), "qParams has supernodes \"pair\", not a list"),
    "a supernode a string": (changed(("qParams", "supernodes"), ["pair"]), "qParams.supernodes[0] is \"pair\", not a list of strings"),
    "a supernode holding a number": (changed(("qParams", "supernodes"), [["pair", 3]]), "qParams.supernodes[0] is a list holding a non-string"),
    "two nodes with one node_id": (changed(("nodes", 4, "node_id"), "0_5_1"), "node 4 (\"0_5_1\") repeats the node_id of node 3"),
}
BAD["logits on two layers"] = (changed(("nodes",), [*valid()["nodes"], node("4_8_2", "logit", "4", 2, feature=8)]), "put logits on layers [3, 4]")
BAD["an activation of 1e400"] = (json.loads(json.dumps(valid()).replace('"activation": 2.5', '"activation": 1e400')), "has activation Infinity")


@pytest.mark.parametrize("name", list(BAD))
def test_each_malformed_shape_is_one_clear_error_naming_field_and_node(name):
    data, message = BAD[name]
    with pytest.raises(InterpWidgetsError) as caught:
        from_circuit_tracer(data)
    assert message in str(caught.value)
    assert str(caught.value).startswith("graph file: ")


def test_the_valid_file_loads(tmp_path):
    graph = from_circuit_tracer(valid())
    assert graph.n_layers == 2 and graph.rows.tolist() == [0, 0, 0, 1, 2, 1, 3] and graph.features.tolist() == [1, 7, 9, 5, 11, -1, 4]
    assert graph.supernodes == [["pair", 3, 4]] and graph.weights.tolist() == [0.5, -1.5, 2.0, 0.25] and "note" not in graph.metadata


@pytest.mark.parametrize("raw, message", [
    (b'{"metadata": \xff\xfe}', "is not valid UTF-8/UTF-16"),  # invalid UTF-8
    (b"\xff\xfe{\x00\"\x00a", "is not valid UTF-8/UTF-16"),  # UTF-16 with its byte-order mark, cut mid-character
    (b"[" * 100_000 + b"]" * 100_000, "nests its JSON too deeply"),
    (b'{"metadata": {"prompt_tokens": ["a"]}, "nodes": [{"node_id": "E_1_0", "feature_type": "embedding", "layer": "E", "ctx_idx": 0, '
     b'"activation": 1e99999}], "links": []}', "has activation Infinity"),  # such literals read as inf
    (b'{"metadata": {"prompt_tokens": ["a"]}, "nodes": [{"node_id": "E_1_0", "feature_type": "embedding", "layer": "E", "ctx_idx": ' + b"9" * 5000 + b"}], \"links\": []}",
     "is not valid JSON"),  # an integer too long for Python to read
    (b"{not json", "is not valid JSON"),
])
def test_undecodable_files_get_clear_errors(tmp_path, raw, message):
    (tmp_path / "bad.json").write_bytes(raw)
    with pytest.raises(InterpWidgetsError, match=message):
        load_graph_json(tmp_path / "bad.json")


def test_a_utf16_file_and_lone_surrogates_read_as_text(tmp_path):
    data = valid()
    data["metadata"]["prompt"] = "The \ud800 cat"
    data["nodes"][3]["clerp"] = "half \udc00 a pair"
    (tmp_path / "g16.json").write_text(json.dumps(data), encoding="utf-16")
    graph = load_graph_json(tmp_path / "g16.json")
    assert graph.prompt == "The \ufffd cat" and graph.labels[3] == "half \ufffd a pair"
    json.dumps(graph.labels).encode("utf-8")  # travels to the browser


@pytest.fixture(scope="module")
def transcoders(toy):
    return [Transcoder(toy.cfg.d_model, 16, k=4, layer=layer) for layer in range(toy.cfg.n_layers)]


@pytest.mark.parametrize("path, value, message", [
    ((*FEATURE, "node_id"), "0_16_1", "has feature index 16, not a whole number from 0 to 15 (layer 0's transcoder has 16 features)"),
    ((*FEATURE, "layer"), "-1", "has layer -1, not a whole number from 0 to 1"),  # once silently the last transcoder
    (("nodes", 6, "layer"), "5", "describe a 4-layer model (logits on layer 5), but the model has 2 layers"),
    (("nodes", 6, "feature"), 10**6, "has feature (vocabulary id) 1000000, not a whole number from -1 to"),
    (("nodes", 1, "node_id"), "E_999999_1", "has vocabulary id 999999"),
])
def test_with_a_model_the_file_must_fit_it(toy, transcoders, path, value, message):
    assert toy.cfg.n_layers == 2
    with pytest.raises(InterpWidgetsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_circuit_tracer(changed(path, value), toy, transcoders)
    from_circuit_tracer(valid(), toy, transcoders)  # the file itself fits


def test_with_a_model_the_prompt_fits_its_context(toy):
    data = valid()
    data["metadata"]["prompt_tokens"] = ["a"] * (toy.cfg.n_ctx + 1)
    with pytest.raises(InterpWidgetsError, match=f"more than the {toy.cfg.n_ctx:,} positions the model reads"):
        from_circuit_tracer(data, toy)
    with pytest.raises(InterpWidgetsError, match="3 transcoders for a 2-layer graph"):
        from_circuit_tracer(valid(), toy, [None] * 3)


def test_the_view_checks_a_file_against_its_model(toy, transcoders, tmp_path):
    data = valid()
    data["nodes"].append(node("0_99_1", "cross layer transcoder", "0", 1, activation=1.0))  # past the transcoders' 16 features
    (tmp_path / "g.json").write_text(json.dumps(data))
    with pytest.raises(InterpWidgetsError, match="feature index 99"):
        iw.GraphView.from_json(tmp_path / "g.json", model=toy, transcoders=transcoders)
    iw.GraphView.from_json(tmp_path / "g.json")  # without the model there is no width to check


def test_the_node_budget_refuses_before_reading_nodes_and_the_link_budget_keeps_the_strongest(tmp_path):
    data = valid()
    data["nodes"] = [{}] * (MAX_NODES + 1)  # refused by count: no node is looked at
    with pytest.raises(InterpWidgetsError, match=f"{MAX_NODES + 1:,} nodes, over the budget of {MAX_NODES:,}"):
        from_circuit_tracer(data)
    graph = from_circuit_tracer(valid(), max_links=2)
    assert graph.weights.tolist() == [-1.5, 2.0] and graph.sources.tolist() == [3, 4]  # the strongest, in the file's order
    assert graph.metadata["note"].startswith("the 2 strongest of the file's 4 links")
    view = iw.GraphView.from_graph(graph)
    assert "the 2 strongest of the file's 4 links" in view.counts
    assert MAX_LINKS >= 100_000


def test_the_byte_budget_refuses_before_parsing(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(valid()))
    with pytest.raises(InterpWidgetsError, match="over the 0 MB budget"):
        load_graph_json(path, max_bytes=100)
    assert load_graph_json(path).n_nodes == 7


def test_all_link_weights_zero_still_draws():
    data = valid()
    for link in data["links"]:
        link["weight"] = 0.0
    view = iw.GraphView.from_graph(from_circuit_tracer(data))
    assert "<svg" in view.to_static_html() and view.to_svg().startswith("<svg")
    assert "strongest paths" in view.to_text()


def big_graph(n_features, n_links):
    data = valid()
    data["nodes"] += [node(f"{i % 2}_{i}_{i % 3}", "cross layer transcoder", str(i % 2), i % 3, activation=1.0, influence=i / n_features)
                      for i in range(100, 100 + n_features)]
    ids = [n["node_id"] for n in data["nodes"]]
    data["links"] += [{"source": ids[7 + i % n_features], "target": "3_4_2", "weight": 1.0 + i % 7} for i in range(n_links)]
    return data


def test_the_snapshot_is_capped():
    view = iw.GraphView.from_graph(from_circuit_tracer(big_graph(20_000, 20_000)))
    snapshot = view.to_static_html()
    assert snapshot.count("<circle") <= 2_000 and snapshot.count("<line") <= 2_000
    assert len(snapshot) < 600_000, len(snapshot)
    assert "the 2,000 most influential of 20,007 nodes" in snapshot
