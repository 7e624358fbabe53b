"""Reading a graph file: circuit-tracer's JSON checked once, at the door, before anything is built.

A graph file comes from anywhere (circuit-tracer, Neuronpedia, a colleague), so it is untrusted
input: nothing it holds may crash the kernel with a raw Python error, freeze the page, or be drawn
as a silently wrong picture. `from_circuit_tracer` checks the parsed file against circuit-tracer's
schema (`frontend/graph_models.py`) and a budget in one pass, and an error names the field and the
node (`node 12 ('3_45_2'): ctx_idx is 2.5, not a whole number from 0 to 7`):

    file       at most `max_bytes`; JSON in UTF-8 (or UTF-16/32, as JSON allows); an object
    metadata   an object; prompt a string; prompt_tokens a list of at most MAX_POSITIONS strings
    nodes      a list of at most `max_nodes` objects with unique string node_ids
    node       feature_type one of FEATURE_TYPES; ctx_idx a whole number below len(prompt_tokens);
               layer a whole number (or its string): 0 <= layer < n_layers for features and errors,
               "E" for embeddings, n_layers + 1 for every logit (n_layers <= MAX_LAYERS); a feature's
               index, a token's or logit's vocabulary id whole numbers below 2^31; activation,
               influence and token_prob null or finite (as float32) numbers; clerp a string
    links      a list of objects: source and target node ids of the file, weight a finite number;
               beyond `max_links` only the strongest are kept, and the graph says so (`metadata["note"]`)
    qParams    an object if present; supernodes a list of [name, node_id, ...] lists of strings
    model      (when given) the graph's layers are the model's, its prompt fits the context, ids
               fit the vocabulary, and feature indices fit each layer's transcoder

Strings stay plain text (views show them as text only); a lone surrogate (an invalid `\\ud800`
escape) becomes U+FFFD so the text can travel to the browser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

import torch

from interp_widgets.compute.attribution.drawn import ERROR, FEATURE, LOGIT, TOKEN, DrawnGraph
from interp_widgets.errors import InterpWidgetsError

FEATURE_TYPES = {"cross layer transcoder": FEATURE, "transcoder": FEATURE, "mlp reconstruction error": ERROR,
                 "embedding": TOKEN, "logit": LOGIT}
MAX_BYTES = 160 * 2**20  # a 100,000-node, 500,000-link file is about 70 MB
MAX_NODES = 100_000  # a view draws 10^5 nodes smoothly; 10^6 took 30 s to parse and 1.7 GB
MAX_LINKS = 500_000
MAX_LAYERS = 512  # more than any released model has
MAX_POSITIONS = 16_384
LARGEST_ID = 2**31 - 1  # node arrays are int32
LARGEST_FLOAT = 3.4028234663852886e38  # float32's largest finite value
_WHOLE = re.compile(r"-?[0-9]{1,12}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(value: Any) -> str:
    """A value as the file wrote it, shortened (NaN and Infinity as JSON writes them; a list or an object by its kind)."""
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    text = json.dumps(value, allow_nan=True, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: str) -> str:
    """`value` with lone surrogates (which no UTF encoding can carry to the browser) as U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", value)


def _fail(where: str | tuple[int, Any], message: str) -> InterpWidgetsError:
    """The error; `where` is a place ("metadata", "link 3") or a node's (number, node_id), written out only here."""
    if isinstance(where, tuple):
        where = f"node {where[0]} ({_shown(where[1])})"
    return InterpWidgetsError(f"graph file: {where} {message}")


def _whole(value: Any, field: str, where: Any, low: int, high: int, why: str = "", strings: bool = False) -> int:
    """A whole number `low <= value <= high` (a JSON integer; with `strings`, also its decimal string)."""
    if strings and isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(where, f"has {field} {_shown(value)}, not a whole number from {low} to {high}{why}.")
    return value


def _number(value: Any, field: str, where: Any, required: bool = False) -> float:
    """A finite number that float32 holds; null (unless `required`) reads as 0."""
    if value is None and not required:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= LARGEST_FLOAT:
        raise _fail(where, f"has {field} {_shown(value)}, not a finite number (float32: |x| <= 3.4e38).")
    return float(value)


def _object(value: Any, where: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"is {_shown(value)}, not a JSON object.")
    return value


def _need(record: dict[str, Any], name: str, where: Any) -> Any:
    if name not in record:
        raise _fail(where, f"has no {name!r}: a circuit-tracer graph file has metadata, nodes and links, each node a "
                           "node_id, feature_type, layer and ctx_idx.")
    return record[name]


def _list(value: Any, field: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"has {field} {_shown(value)}, not a list.")
    return value


def read_json(path: str | Path, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed JSON of a graph file no larger than `max_bytes`."""
    path = Path(path)
    if not path.is_file():
        raise InterpWidgetsError(f"{path} does not exist: pass the path of a circuit-tracer graph .json file.")
    size = path.stat().st_size
    if size > max_bytes:
        raise InterpWidgetsError(f"{path} is {size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB budget for a graph file "
                                 "(about 100,000 nodes): prune the graph before saving it, or pass max_bytes=... to read it anyway.")
    try:
        return json.loads(path.read_bytes())  # JSON's own encodings: UTF-8, UTF-16 or UTF-32, found from the first bytes
    except UnicodeDecodeError as error:
        raise InterpWidgetsError(f"{path} is not valid UTF-8/UTF-16 text ({error.reason} at byte {error.start}): "
                                 "save the graph file again as UTF-8 JSON.") from None
    except RecursionError:
        raise InterpWidgetsError(f"{path} nests its JSON too deeply to be a circuit-tracer graph file.") from None
    except ValueError as error:
        raise InterpWidgetsError(f"{path} is not valid JSON ({str(error)[:200]}): pass a circuit-tracer graph file.") from None


def _layer_of(node: dict[str, Any], kind: int, where: Any) -> int | None:
    """A node's layer number: a logit's at most MAX_LAYERS + 1, a feature's or an error's any 32-bit number
    (checked against the graph's layers once they are known); None for an embedding ("E")."""
    if kind == TOKEN:
        return None
    low, high = (1, MAX_LAYERS + 1) if kind == LOGIT else (-LARGEST_ID - 1, LARGEST_ID)
    return _whole(_need(node, "layer", where), "layer", where, low, high, strings=True)


def _model_limits(model: Any) -> tuple[int | None, int | None, int | None]:
    """The model's (n_layers, n_ctx, d_vocab), each None where its config does not say."""
    values = [getattr(getattr(model, "cfg", None), name, None) for name in ("n_layers", "n_ctx", "d_vocab")]
    n_layers, n_ctx, d_vocab = (value if isinstance(value, int) and not isinstance(value, bool) else None for value in values)
    return n_layers, n_ctx, d_vocab


def from_circuit_tracer(data: Any, model: Any = None, transcoders: Sequence[Any] = (), max_nodes: int = MAX_NODES,
                        max_links: int = MAX_LINKS) -> DrawnGraph:
    """A circuit-tracer graph (the parsed JSON) as a `DrawnGraph`, checked at the door (see the module
    docstring); with the `model` (and `transcoders`) it will be used with, against those too. Labels are
    the file's `clerp` strings (plain text) or built from the node's place."""
    if not isinstance(data, dict):
        raise InterpWidgetsError(f"a circuit-tracer graph is a JSON object, got {type(data).__name__}.")
    metadata = _object(_need(data, "metadata", "the file"), "metadata")
    nodes = _list(_need(data, "nodes", "the file"), "nodes", "the file")
    links = _list(_need(data, "links", "the file"), "links", "the file")
    if len(nodes) > max_nodes:
        raise InterpWidgetsError(f"graph file: {len(nodes):,} nodes, over the budget of {max_nodes:,} that a view draws smoothly: "
                                 "prune the graph (circuit-tracer's node_threshold) or pass max_nodes=... to load it anyway.")
    tokens = _list(metadata.get("prompt_tokens", []), "prompt_tokens", "metadata")
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise _fail(f"metadata.prompt_tokens[{i}]", f"is {_shown(token)}, not a string.")
    tokens = [_text(token) for token in tokens]
    prompt = metadata.get("prompt", "")
    if not isinstance(prompt, str):
        raise _fail("metadata", f"has prompt {_shown(prompt)}, not a string.")
    model_layers, n_ctx, d_vocab = _model_limits(model) if model is not None else (None, None, None)
    n_pos_limit = min(MAX_POSITIONS, n_ctx or MAX_POSITIONS)
    if len(tokens) > n_pos_limit:
        raise _fail("metadata", f"has {len(tokens):,} prompt_tokens, more than the {n_pos_limit:,} positions "
                                f"{'the model reads' if n_ctx else 'a graph file may have'}.")
    # pass 1: each node's own fields, and the layers the file uses
    checked = []
    seen: dict[str, int] = {}
    for number, node in enumerate(nodes):
        where = f"node {number}"
        node = _object(node, where)
        node_id = _need(node, "node_id", where)
        if not isinstance(node_id, str) or not node_id:
            raise _fail(where, f"has node_id {_shown(node_id)}, not a non-empty string.")
        where = (number, node_id)  # type: ignore[assignment]
        if node_id in seen:
            raise _fail(where, f"repeats the node_id of node {seen[node_id]}: links could not tell them apart.")
        seen[node_id] = number
        kind_name = _need(node, "feature_type", where)
        if not isinstance(kind_name, str) or kind_name not in FEATURE_TYPES:
            raise _fail(where, f"has feature_type {_shown(kind_name)}; known: {sorted(FEATURE_TYPES)}.")
        if not tokens:
            raise _fail(where, "has a ctx_idx, but metadata.prompt_tokens is empty: the file names no token positions.")
        position = _whole(_need(node, "ctx_idx", where), "ctx_idx", where, 0, len(tokens) - 1,
                          f" (the prompt has {len(tokens)} tokens, metadata.prompt_tokens)")
        kind = FEATURE_TYPES[kind_name]
        checked.append((where, node, kind, position, _layer_of(node, kind, where)))
    logit_layers = {layer for _, _, kind, _, layer in checked if kind == LOGIT}
    inner_layers = [layer for _, _, kind, _, layer in checked if kind in (FEATURE, ERROR)]
    if len(logit_layers) > 1:
        raise _fail("nodes", f"put logits on layers {sorted(logit_layers)[:4]}: circuit-tracer writes every logit on layer n_layers + 1.")
    n_layers = next(iter(logit_layers)) - 1 if logit_layers else (max(inner_layers) + 1 if inner_layers else 0)
    if model_layers is not None and (n_layers != model_layers if logit_layers else n_layers > model_layers):
        logits = f" (logits on layer {n_layers + 1})" if logit_layers else ""
        raise _fail("nodes", f"describe a {n_layers}-layer model{logits}, but the model has {model_layers} layers: "
                             "pass the model the graph was made with.")
    if transcoders and len(transcoders) != (model_layers or n_layers):
        raise InterpWidgetsError(f"{len(transcoders)} transcoders for a {model_layers or n_layers}-layer graph: pass one per layer.")
    widths = [int(tc.W_enc.shape[1]) for tc in transcoders]
    # pass 2: what depends on the layers, and the arrays
    kinds, rows, positions, features, activations, influence, labels = [], [], [], [], [], [], []
    vocab_limit = (d_vocab or LARGEST_ID + 1) - 1
    for where, node, kind, pos, layer in checked:
        parts = node["node_id"].split("_")
        if kind in (FEATURE, ERROR):
            layer = _whole(layer, "layer", where, 0, n_layers - 1, f" (the graph has {n_layers} layers)")
        if kind == FEATURE:  # "layer_feature_pos": the feature index without circuit-tracer's scan offset
            raw = parts[1] if len(parts) == 3 else _need(node, "feature", where)
            top = widths[layer] - 1 if widths else LARGEST_ID
            feature = _whole(raw, "feature index", where, 0, top, f" (layer {layer}'s transcoder has {top + 1} features)" if widths else "",
                             strings=True)
        elif kind == ERROR:
            feature = -1
        elif kind == TOKEN:
            layer = -1
            feature = _whole(parts[1], "vocabulary id", where, 0, vocab_limit, strings=True) if len(parts) == 3 and _WHOLE.fullmatch(parts[1]) else -1
        else:
            layer = n_layers
            feature = _whole(node.get("feature", -1), "feature (vocabulary id)", where, -1, vocab_limit)
        value = _number(node.get("token_prob"), "token_prob", where) if kind == LOGIT else _number(node.get("activation"), "activation", where)
        clerp = node.get("clerp")
        if clerp is not None and not isinstance(clerp, str):
            raise _fail(where, f"has clerp {_shown(clerp)}, not a string.")
        token = tokens[pos]
        default = {FEATURE: f"L{layer} #{feature} @{pos} {token!r}", ERROR: f"error L{layer} @{pos} {token!r}",
                   TOKEN: f"token @{pos} {token!r}", LOGIT: f"logit @{pos}"}[kind]
        kinds.append(kind)
        rows.append(layer + 1)
        positions.append(pos)
        features.append(feature)
        activations.append(value)
        influence.append(_number(node.get("influence"), "influence", where))
        labels.append(_text(clerp) if clerp else default)
    sources, targets, weights = [], [], []
    for number, link in enumerate(links):
        where = f"link {number}"
        link = _object(link, where)
        source, target = _need(link, "source", where), _need(link, "target", where)
        if not isinstance(source, str) or not isinstance(target, str) or source not in seen or target not in seen:
            raise _fail(where, f"joins {_shown(source)} -> {_shown(target)}, but the file has no such node.")
        sources.append(seen[source])
        targets.append(seen[target])
        weights.append(_number(_need(link, "weight", where), "weight", where, required=True))
    note = ""
    edge_weights = torch.tensor(weights, dtype=torch.float32)
    edge_sources, edge_targets = torch.tensor(sources, dtype=torch.int32), torch.tensor(targets, dtype=torch.int32)
    if len(weights) > max_links:  # the strongest links, in the file's order
        kept = edge_weights.abs().topk(max_links).indices.sort().values
        edge_sources, edge_targets, edge_weights = edge_sources[kept], edge_targets[kept], edge_weights[kept]
        note = f"the {max_links:,} strongest of the file's {len(weights):,} links (the budget a view draws smoothly; max_links=... for more)"
    qparams = data.get("qParams") or {}
    qparams = _object(qparams, "qParams")
    supernodes = []
    for number, group in enumerate(_list(qparams.get("supernodes") or [], "supernodes", "qParams")):
        where = f"qParams.supernodes[{number}]"
        if not isinstance(group, list) or not all(isinstance(item, str) for item in group):
            raise _fail(where, f"is {_shown(group) if not isinstance(group, list) else 'a list holding a non-string'}, not a list of strings [name, node_id, ...].")
        if group:
            supernodes.append([_text(group[0]), *(seen[n] for n in group[1:] if n in seen)])
    kept_metadata = {k: v for k, v in metadata.items() if k in ("slug", "scan", "node_threshold") and isinstance(v, (str, int, float, type(None)))}
    if note:
        kept_metadata["note"] = note
    return DrawnGraph(
        prompt=_text(prompt), token_strings=tokens, n_layers=n_layers,
        kinds=torch.tensor(kinds, dtype=torch.uint8), rows=torch.tensor(rows, dtype=torch.int32),
        positions=torch.tensor(positions, dtype=torch.int32), features=torch.tensor(features, dtype=torch.int32),
        activations=torch.tensor(activations, dtype=torch.float32), influence=torch.tensor(influence, dtype=torch.float32),
        labels=labels, sources=edge_sources, targets=edge_targets, weights=edge_weights,
        graph_nodes=torch.full((len(kinds),), -1, dtype=torch.long), supernodes=supernodes, metadata=kept_metadata,
    )


def load_graph_json(path: str | Path, model: Any = None, transcoders: Sequence[Any] = (), max_nodes: int = MAX_NODES,
                    max_links: int = MAX_LINKS, max_bytes: int = MAX_BYTES) -> DrawnGraph:
    """Read a circuit-tracer graph file (from circuit-tracer, Neuronpedia, or `save_graph_json`), checked at the door;
    with the `model` and `transcoders` it will be used with, against those too."""
    return from_circuit_tracer(read_json(path, max_bytes), model, transcoders, max_nodes, max_links)
