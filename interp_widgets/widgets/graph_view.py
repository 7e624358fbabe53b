"""Attribution graph view: a prompt's pruned graph drawn on a canvas, explored and intervened on.

Nodes sit by layer (rows: tokens at the bottom, logits on top) and token position (columns); edges
are coloured by sign (orange: excites, blue: inhibits) with width by |weight|. Hover a node for its
label, activation and, for a feature, its top contexts (an activation index's, where one is given,
else its logit-lens tokens); click to pin it and to show only its ancestors or descendants; name a
group of pinned nodes as a supernode; "intervene" scales the pinned features in the real model
(compute.attribution.intervene) and lists how the top logits move. A clicked feature is published to
a linked `Selection` (as the SAE named for its layer's transcoder), so the dashboard and the ablation
explorer follow. The graph is pruned in the kernel (compute.attribution.graph) and sent as arrays.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.attribution.attention_paths import FrozenPrompt, drawn_node, edge_head_loadings, freeze
from interp_widgets.compute.attribution.attribute import attribute
from interp_widgets.compute.attribution.graph import AttributionGraph
from interp_widgets.compute.attribution.intervene import intervene
from interp_widgets.compute.attribution.qk import node_words, qk_attribution
from interp_widgets.compute.attribution.drawn import ERROR, FEATURE, DrawnGraph, decoder_directions, drawn_graph, logit_lens_tokens, strongest_paths, top_contexts
from interp_widgets.compute.attribution.graph_file import load_graph_json
from interp_widgets.compute.attribution.graph_json import save_graph_json
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.features.index import ActivationIndex
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.transcoder import Transcoder
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop, request_handler

NODE_ARRAYS = {"node_kind": "kinds", "node_row": "rows", "node_pos": "positions", "node_feature": "features", "node_activation": "activations",
               "node_influence": "influence", "edge_source": "sources", "edge_target": "targets", "edge_weight": "weights"}
"""trait -> DrawnGraph field"""
SNAPSHOT_NODES = 2_000  # the static snapshot draws at most this many nodes (the most influential) ...
SNAPSHOT_EDGES = 2_000  # ... and edges (the strongest between them): 10^6 nodes once wrote 54 MB into the notebook
EXCITES, INHIBITS = _colors.hex_color(_colors.POSITIVE_RGB), _colors.hex_color(_colors.NEGATIVE_RGB)  # an edge's colour in the snapshot, as live


@dataclasses.dataclass(frozen=True, eq=False)
class GraphInputs(Inputs):
    """The graph of `prompt` through `transcoders`, or a `graph` computed elsewhere; pruning shares; indexes for contexts."""

    model: Model | None
    transcoders: tuple[Transcoder, ...]
    prompt: str
    node_share: float = 0.8
    edge_share: float = 0.98
    max_features: int | None = None
    graph: AttributionGraph | DrawnGraph | None = None  # an AttributionGraph, or a DrawnGraph (already pruned, e.g. from a file); None: attribute the prompt
    indexes: tuple[ActivationIndex, ...] = ()  # one activation index per layer (for top contexts), or none

    EDITABLE = ("prompt", "node_share", "edge_share")
    RESETS = {"prompt": {"graph": None}}


class GraphView(BaseWidget):
    """An attribution graph on a canvas: hover, pin, ancestors/descendants, supernodes, interventions."""

    node_kind = Array(torch.uint8, help="[N] 0 token, 1 feature, 2 error, 3 logit")
    node_row = Array(torch.int32, help="[N] 0 tokens, l + 1 layer l, n_layers + 1 logits")
    node_pos = Array(torch.int32, help="[N] token position")
    node_feature = Array(torch.int32, help="[N] feature index (vocab id for tokens and logits, -1 errors)")
    node_activation = Array(torch.float32, help="[N] activation (a logit's probability)")
    node_influence = Array(torch.float32, help="[N] cumulative influence share, 0 = most influential")
    edge_source = Array(torch.int32, help="[E]")
    edge_target = Array(torch.int32, help="[E]")
    edge_weight = Array(torch.float32, help="[E] direct effect")
    labels = traitlets.List(traitlets.Unicode(), default_value=[], help="Per node: its short label (token, feature L<layer>F<index>, error, logit).").tag(sync=True)
    contexts = traitlets.List(traitlets.Unicode(), default_value=[], help="Per node: a feature's top contexts or logit-lens tokens, one line each (empty for other nodes).").tag(sync=True)
    contexts_from = traitlets.Unicode("", help="Where the contexts come from (an activation index, the logit lens, or '').").tag(sync=True)
    token_strings = traitlets.List(traitlets.Unicode(), default_value=[], help="The prompt's tokens (the graph's bottom row).").tag(sync=True)
    n_layers = traitlets.Int(0, help="Layers of the model (the rows between the tokens and the logits).").tag(sync=True)
    prompt = traitlets.Unicode("", help="The prompt the graph attributes (editable in the view).").tag(sync=True)
    node_share = traitlets.Float(0.8, help="Pruning: keep the nodes carrying this cumulative share of the influence on the logits.").tag(sync=True)
    edge_share = traitlets.Float(0.98, help="Pruning: keep the edges carrying this cumulative share of the influence.").tag(sync=True)
    supernodes = traitlets.List(traitlets.List(), default_value=[], help="[[name, node, node, ...]] named groups of drawn nodes.").tag(sync=True)
    intervention = traitlets.Dict(key_trait=traitlets.Unicode(), default_value={}, help='The last intervention: {"description", "rows": [[token, clean p, new p, clean logit, new logit]]}.').tag(sync=True)
    attention = traitlets.Dict(key_trait=traitlets.Unicode(), default_value={}, help='Why a head attends where it does (the last "why attend?"): '
                               '{"description", "score", "weight", "pairs": [[query label, key label, part, query feature or null, key feature or null]], '
                               '"query": [[label, part]], "key": [[label, part]]}; a feature is [layer, index, position].').tag(sync=True)
    can_intervene = traitlets.Bool(False, help="Whether interventions can be run (the model and one transcoder per layer are at hand).").tag(sync=True)
    counts = traitlets.Unicode("", help="How many nodes and edges are drawn, in words.").tag(sync=True)
    scores = traitlets.Unicode("", help="The graph's replacement and completeness scores (circuit-tracer's), in words; '' for a graph from a file.").tag(sync=True)
    title = traitlets.Unicode("Attribution graph", help="Title shown above the graph.").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        self.drawn: DrawnGraph | None = None
        self.graph: AttributionGraph | None = None  # the full graph of the current prompt, when computed here
        self._groups: dict[str, list[str]] = {}  # supernode name -> circuit-tracer node ids (they survive re-pruning)
        self._frozen_prompt: tuple[tuple, FrozenPrompt] | None = None  # the prompt's frozen model, for head loadings and QK
        super().__init__(**kwargs)

    @classmethod
    def from_model(cls, model: Any, transcoders: Sequence[Any], prompt: str, node_share: float = 0.8, edge_share: float = 0.98,
                   max_features: int | None = None, indexes: Sequence[Any] | None = None, **kwargs: Any) -> "GraphView":
        """Attribute `prompt` (compute.attribution.attribute) and draw the graph pruned to the shares."""
        return cls.computed(GraphInputs(model, tuple(transcoders), prompt, node_share, edge_share, max_features, None, tuple(indexes or ())), **kwargs)

    @classmethod
    def from_graph(cls, graph: AttributionGraph | DrawnGraph, model: Any = None, transcoders: Sequence[Any] = (), node_share: float = 0.8,
                   edge_share: float = 0.98, indexes: Sequence[Any] | None = None, **kwargs: Any) -> "GraphView":
        """Draw a graph computed elsewhere; with the model and its transcoders, interventions run too."""
        if not isinstance(graph, (AttributionGraph, DrawnGraph)):
            raise InterpWidgetsError(f"from_graph takes an AttributionGraph or a DrawnGraph, got {type(graph).__name__}: "
                                     "use GraphView.from_json(path) for a file.")
        inputs = GraphInputs(model, tuple(transcoders), graph.prompt, node_share, edge_share, None, graph, tuple(indexes or ()))
        return cls.computed(inputs, **kwargs)

    @classmethod
    def from_json(cls, path: str | Path, model: Any = None, transcoders: Sequence[Any] = (), **kwargs: Any) -> "GraphView":
        """Open a circuit-tracer / Neuronpedia graph file, checked at the door (compute.attribution.graph_file), against the
        model and transcoders too when given; `max_nodes`, `max_links`, `max_bytes` raise its budget. Labels show as text."""
        budget = {name: kwargs.pop(name) for name in ("max_nodes", "max_links", "max_bytes") if name in kwargs}
        return cls.from_graph(load_graph_json(path, model, transcoders, **budget), model, transcoders, **kwargs)

    @classmethod
    def from_selected(cls, selection: Any, selected: dict[str, Any], transcoders: Sequence[Any] = (), use_index: bool = True,
                      **options: Any) -> "GraphView":
        """`from_selection(selection, transcoders)`: a clicked feature selects its transcoder (an SAE of the selection) and
        index. Where the selection holds every transcoder as an SAE, features show top contexts from its activation
        indexes (built once per transcoder over `selection.index_tokens` tokens; `use_index=False`: logit lens)."""
        if not transcoders:
            raise InterpWidgetsError("pass the model's transcoders: GraphView.from_selection(selection, transcoders=iw.load_transcoders(...)).")
        names = [next((name for name, sae in selection.saes.items() if sae is tc), None) for tc in transcoders]
        if use_index and "indexes" not in options and all(names):
            options["indexes"] = [selection.index(sae=name) for name in names]
        return cls.from_model(selection.model, transcoders, selected["prompt"], **options)

    SELECTION = {"prompt": "prompt"}
    """The graph of the selection's prompt (a prompt typed here is published)."""

    # ---- compute ---------------------------------------------------------------------------

    def compute(self, inputs: GraphInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """Attribute (or reuse the graph), prune, and shape the drawn graph into traits."""
        graph = inputs.graph
        if graph is None:
            if inputs.model is None or not inputs.transcoders:
                raise InterpWidgetsError("this graph came from a file: to attribute a new prompt, build the view with "
                                         "GraphView.from_json(path, model=..., transcoders=...) or GraphView.from_model.")
            cached = self.graph
            same = cached is not None and cached.prompt == inputs.prompt and getattr(self.inputs, "model", None) is inputs.model
            graph = cached if same and getattr(self.inputs, "max_features", None) == inputs.max_features else attribute(
                inputs.model, list(inputs.transcoders), inputs.prompt, max_features=inputs.max_features)
        groups = dict(self._groups)
        if isinstance(graph, AttributionGraph):
            full, drawn = graph, drawn_graph(graph, graph.prune(inputs.node_share, inputs.edge_share))
        else:
            if self.drawn is graph and (inputs.node_share, inputs.edge_share) != (self.node_share, self.edge_share):
                raise InterpWidgetsError("a graph loaded from a file is already pruned: its shares cannot change here.")
            full, drawn = None, graph
            for group in graph.supernodes:  # a file's supernodes
                groups.setdefault(str(group[0]), [graph.node_ids()[n] for n in group[1:]])
        contexts, source = self._contexts(inputs, drawn)
        traits: dict[str, Any] = {name: getattr(drawn, field) for name, field in NODE_ARRAYS.items()}
        traits.update(graph=full, drawn=drawn, _groups=groups)  # the view's kernel-side state: committed with the traits, on success only
        n_features = int((drawn.kinds == FEATURE).sum())
        total = f" of {graph.n_active_features} active" if isinstance(graph, AttributionGraph) else ""
        traits.update(labels=list(drawn.labels), contexts=contexts, contexts_from=source, token_strings=list(drawn.token_strings),
                      n_layers=drawn.n_layers, intervention={}, attention={}, supernodes=self._supernode_indices(drawn, groups),
                      can_intervene=inputs.model is not None and len(inputs.transcoders) == drawn.n_layers,
                      scores=graph_scores_text(graph) if isinstance(graph, AttributionGraph) else "",
                      counts=f"{drawn.n_nodes} nodes ({n_features} features{total}), {drawn.weights.numel()} edges"
                             + (f" ({drawn.metadata['note']})" if drawn.metadata.get("note") else ""))
        return traits

    def _contexts(self, inputs: GraphInputs, drawn: DrawnGraph) -> tuple[list[str], str]:
        """Each feature node's top contexts (from `inputs.indexes`) or logit-lens tokens (from its decoder row)."""
        out = [""] * drawn.n_nodes
        features = [i for i in range(drawn.n_nodes) if drawn.kinds[i] == FEATURE]
        if not features or inputs.model is None or len(inputs.transcoders) != drawn.n_layers:
            return out, ""
        layers, indices = drawn.rows[features] - 1, drawn.features[features]
        if inputs.indexes:
            for node, layer, feature in zip(features, layers.tolist(), indices.tolist()):
                out[node] = "\n".join(_snapshot.one_line(line) for line in top_contexts(inputs.indexes[layer], inputs.model, feature))
            return out, "top activating contexts (activation index)"
        rows = decoder_directions(inputs.transcoders, layers.tolist(), indices.tolist())
        for node, (up, down) in zip(features, logit_lens_tokens(inputs.model, rows)):
            quoted = lambda tokens: " ".join(f"'{_snapshot.one_line(t)}'" for t in tokens)  # noqa: E731
            out[node] = f"promotes {quoted(up)}\nsuppresses {quoted(down)}"
        return out, "logit lens of the feature's decoder direction"

    def _supernode_indices(self, drawn: DrawnGraph, groups: dict[str, list[str]] | None = None) -> list[list[Any]]:
        where = {node_id: i for i, node_id in enumerate(drawn.node_ids())}
        groups = [[name, *(where[n] for n in ids if n in where)] for name, ids in (self._groups if groups is None else groups).items()]
        return [group for group in groups if len(group) > 1]

    # ---- actions ---------------------------------------------------------------------------

    def _drawn(self) -> DrawnGraph:
        if self.drawn is None:
            raise InterpWidgetsError("the view has no graph yet.")
        return self.drawn

    @request_handler("group")
    def group(self, name: str, nodes: Sequence[int]) -> dict[str, Any]:
        """Name the drawn nodes `nodes` a supernode (an empty list removes the group `name`)."""
        drawn = self._drawn()
        name = str(name).strip()
        if not name:
            raise InterpWidgetsError("a supernode needs a name: type one next to the pinned nodes.")
        ids = drawn.node_ids()
        if nodes:
            self._groups[name] = [ids[n] for n in drawn.check_nodes(list(nodes))]
        else:
            self._groups.pop(name, None)
        self.supernodes = self._supernode_indices(drawn)
        drawn.supernodes = self.supernodes
        return {"supernodes": len(self.supernodes)}

    @request_handler("select")
    def select(self, node: int) -> dict[str, Any]:
        """Publish a feature node to the linked selection: its layer's transcoder (by name in the selection) and index."""
        drawn = self._drawn()
        (node,) = drawn.check_nodes([node])
        if drawn.kinds[node] != FEATURE:
            return {"published": False}
        return self.open_feature(int(drawn.rows[node]) - 1, int(drawn.features[node]), int(drawn.positions[node]))

    @request_handler("open_feature")
    def open_feature(self, layer: int, feature: int, position: int) -> dict[str, Any]:
        """Publish feature `feature` of layer `layer`'s transcoder at `position` to the linked selection (dashboard, explorer)."""
        if self._selection is None or self.inputs is None:
            return {"published": False}
        names = [name for name, sae in self._selection.saes.items() if 0 <= layer < len(self.inputs.transcoders) and sae is self.inputs.transcoders[layer]]
        if not names:
            raise InterpWidgetsError(f"the selection has no SAE that is layer {layer}'s transcoder: build it with "
                                     "iw.Selection(model, saes={f'transcoder L{l}': tc for l, tc in enumerate(transcoders)}).")
        self._publish(sae=names[0], feature=int(feature), target=int(position))
        return {"published": True, "sae": names[0]}

    # ---- attention: head loadings of an edge, and why a head attends (compute.attribution.attention_paths, .qk)

    def _frozen(self) -> FrozenPrompt:
        """The drawn prompt's frozen model (one forward pass and the encodings), kept while the prompt stays."""
        drawn, inputs = self._drawn(), self._need_inputs()
        if inputs.model is None or len(inputs.transcoders) != drawn.n_layers:
            raise InterpWidgetsError("head loadings and QK attribution need the model and its transcoders: "
                                     "GraphView.from_json(path, model=..., transcoders=...) or GraphView.from_model.")
        tokens = self.graph.tokens if self.graph is not None else inputs.model.to_tokens(drawn.prompt)[0]
        key = (id(inputs.model), tuple(int(t) for t in tokens), tuple(id(tc) for tc in inputs.transcoders))
        if self._frozen_prompt is None or self._frozen_prompt[0] != key:
            self._frozen_prompt = (key, freeze(inputs.model, list(inputs.transcoders), tokens))
        return self._frozen_prompt[1]

    @request_handler("edge_heads")
    def edge_heads(self, source: int, target: int) -> dict[str, Any]:
        """The drawn edge source -> target split by the head its path enters first: the strongest heads and the direct part."""
        drawn = self._drawn()
        source, target = drawn.check_nodes([source, target])
        loadings = edge_head_loadings(self._frozen(), drawn_node(drawn, target), drawn_node(drawn, source))
        return {"direct": loadings.direct, "total": loadings.total,
                "heads": [[layer, head, part] for layer, head, part in loadings.strongest(5)]}

    @request_handler("why_attend", supersedes=True)
    def why_attend(self, layer: int, head: int, query: int, key: int) -> dict[str, Any]:
        """QK attribution of head `head` of `layer` at (`query`, `key`): the strongest query x key node pairs, shown in the panel."""
        inputs, frozen = self._need_inputs(), self._frozen()
        result = qk_attribution(inputs.model, list(inputs.transcoders), frozen.replacement.run.tokens, int(layer), int(head), int(query), int(key),
                                frozen=frozen)
        tokens = [_snapshot.one_line(t) for t in self.token_strings]
        promoted: dict[tuple[int, int], str] = {}

        def promotes(layer: int, feature: int) -> str:  # a feature's logit lens: the tokens its decoder direction promotes
            if (layer, feature) not in promoted:
                (up, _), = logit_lens_tokens(inputs.model, inputs.transcoders[layer].W_dec[feature].detach().float().cpu()[None], k=3)
                promoted[(layer, feature)] = " ".join(repr(_snapshot.one_line(token)) for token in up)
            return promoted[(layer, feature)]

        words = lambda node: node_words(node, tokens) + (  # noqa: E731  a feature also says what it promotes (its logit lens)
            f" (promotes {promotes(node['layer'], node['feature'])})" if node["kind"] == "feature" else "")
        feature = lambda node: [node["layer"], node["feature"], node["position"]] if node["kind"] == "feature" else None  # noqa: E731
        marginal = lambda nodes, values: [[words(nodes[i]), float(values[i])] for i in values.abs().argsort(descending=True)[:8].tolist()]  # noqa: E731
        self.attention = {
            "description": f"head L{layer}H{head}, query {query} {tokens[query]!r} -> key {key} {tokens[key]!r}",
            "score": result.score, "weight": result.weight,
            "pairs": [[words(q), words(k), part, feature(q), feature(k)] for q, k, part in result.top_pairs(10)],
            "query": marginal(result.query_nodes, result.query_marginal), "key": marginal(result.key_nodes, result.key_marginal)}
        return {"pairs": len(self.attention["pairs"])}

    @request_handler("intervene", supersedes=True)
    def intervene(self, nodes: Sequence[int], scale: float = 0.0) -> dict[str, Any]:
        """Set the pinned feature nodes `nodes` to `scale` x their activation in the real model (pinned error nodes:
        keep `scale` x the transcoder's error there); show the top logits."""
        drawn, inputs = self._drawn(), self._need_inputs()
        if inputs.model is None or len(inputs.transcoders) != drawn.n_layers:
            raise InterpWidgetsError("interventions need the model and its transcoders: GraphView.from_json(path, model=..., transcoders=...).")
        chosen = [n for n in drawn.check_nodes(list(nodes)) if drawn.kinds[n] in (FEATURE, ERROR)]
        features = [(int(drawn.rows[n]) - 1, int(drawn.positions[n]), int(drawn.features[n])) for n in chosen if drawn.kinds[n] == FEATURE]
        errors = [(int(drawn.rows[n]) - 1, int(drawn.positions[n])) for n in chosen if drawn.kinds[n] == ERROR]
        tokens = self.graph.tokens if self.graph is not None else inputs.model.to_tokens(drawn.prompt)[0]
        result = intervene(inputs.model, list(inputs.transcoders), tokens, features, float(scale), errors)
        strings = [inputs.model.tokenizer.decode([row["token"]]) for row in result.top(10)]
        action = "ablated" if scale == 0 else f"scaled x{scale:g}"
        self.intervention = {
            "description": f"{len(features)} feature(s), {len(errors)} error node(s) {action}: " + "; ".join(drawn.labels[n] for n in chosen),
            "rows": [[text, row["clean_probability"], row["new_probability"], row["clean_logit"], row["new_logit"]]
                     for text, row in zip(strings, result.top(10))]}
        return {"features": len(chosen)}

    def save_json(self, path: str | Path, slug: str | None = None) -> Path:
        """Write the drawn graph (with its supernodes) in circuit-tracer's format, for its frontend or Neuronpedia."""
        drawn = self._drawn()
        drawn.supernodes = self.supernodes
        return save_graph_json(drawn, path, slug, node_threshold=self.node_share)

    def set_prompt(self, prompt: str) -> None:
        self.set(prompt=prompt)

    # ---- text and snapshot -----------------------------------------------------------------

    def summary(self) -> str:
        return f"{self.title}: {self.counts}"

    def to_text(self) -> str:
        drawn = self._drawn()
        lines = [f"{self.title} of {drawn.prompt!r}: {self.counts}" + (f"; {self.scores}" if self.scores else ""), "strongest paths (share of the logit's input x its probability):"]
        lines += [f"  {p['share']:.4f} {p['sign']}  {_snapshot.one_line(p['path'])}" for p in strongest_paths(drawn, 10)]
        lines += [f"supernode {group[0]!r}: " + ", ".join(drawn.labels[n] for n in group[1:]) for group in self.supernodes]
        if self.intervention:
            lines.append(f"intervention: {self.intervention['description']}")
            lines += [f"  {text!r}: p {clean:.3f} -> {new:.3f}" for text, clean, new, _, _ in self.intervention["rows"]]
        lines += self._attention_lines()
        return "\n".join(lines)

    def _attention_lines(self) -> list[str]:
        """The "why attend?" panel as text (for to_text and the snapshot)."""
        if not self.attention:
            return []
        found = self.attention
        lines = [f"why {found['description']}: score {found['score']:.4f} (attention weight {found['weight']:.3f}); strongest query x key pairs:"]
        return lines + [f"  {part:+.4f}  {query}  x  {key}" for query, key, part, _, _ in found["pairs"]]

    def to_static_html(self) -> str:
        """An SVG of the drawn graph (its SNAPSHOT_NODES most influential nodes and the SNAPSHOT_EDGES strongest
        edges between them, so a large graph leaves a small notebook) and its strongest paths as escaped text."""
        drawn = self._drawn()
        width, row_height = 900, max(12.0, min(80.0, 2400 / (drawn.n_layers + 2)))  # many layers: thinner rows
        height = row_height * (drawn.n_layers + 2)
        n_pos = max(len(drawn.token_strings), int(drawn.positions.max()) + 1 if drawn.n_nodes else 1)
        counts: dict[tuple[int, int], int] = {}
        xy = []
        for row, pos in zip(drawn.rows.tolist(), drawn.positions.tolist()):
            slot = counts[(row, pos)] = counts.get((row, pos), 0) + 1
            xy.append(((pos + 0.5) * width / n_pos + (slot - 1) % 5 * 4, height - (row + 0.5) * row_height + (slot - 1) // 5 * 4))
        shown = torch.zeros(drawn.n_nodes, dtype=torch.bool)
        shown[drawn.influence.argsort(stable=True)[:SNAPSHOT_NODES]] = True  # influence 0: the most influential
        between = (shown[drawn.sources.long()] & shown[drawn.targets.long()]).nonzero()[:, 0]
        strongest = between[drawn.weights[between].abs().argsort(descending=True, stable=True)[:SNAPSHOT_EDGES]].tolist()
        scale = float(drawn.weights.abs().max()) if drawn.weights.numel() else 0.0
        scale = scale or 1.0  # every weight 0: hairlines
        lines = [f'<line x1="{xy[s][0]:.1f}" y1="{xy[s][1]:.1f}" x2="{xy[t][0]:.1f}" y2="{xy[t][1]:.1f}" stroke="{EXCITES if w > 0 else INHIBITS}" '
                 f'stroke-width="{0.3 + 3 * abs(w) / scale:.2f}" stroke-opacity="0.5"/>'
                 for s, t, w in ((int(drawn.sources[e]), int(drawn.targets[e]), float(drawn.weights[e])) for e in strongest)]
        circles = [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{_colors.NODE_KINDS[int(k)]}"/>'
                   for (x, y), k, keep in zip(xy, drawn.kinds.tolist(), shown.tolist()) if keep]
        paths = "\n".join(f"{p['share']:.4f} {p['sign']}  {_snapshot.one_line(p['path'])}" for p in strongest_paths(drawn, 5))
        body = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(lines)}{"".join(circles)}</svg>'
                f"<div>strongest paths:</div><pre>{html.escape(paths)}</pre>"
                + (f"<pre>{html.escape(chr(10).join(self._attention_lines()))}</pre>" if self.attention else ""))
        left_out = (f" Drawn: the {SNAPSHOT_NODES:,} most influential of {drawn.n_nodes:,} nodes and the {len(strongest):,} strongest "
                    "edges between them." if drawn.n_nodes > SNAPSHOT_NODES else "")
        footer = html.escape(f"{self.counts}{'; ' + self.scores if self.scores else ''}. Rows: tokens (bottom), layers, logits (top); columns: positions. "
                             f"Edges: orange excites, blue inhibits; width by |weight|.{left_out}")
        return _snapshot.page("iw-graph-view", f"{self.title} · {drawn.prompt}", body, footer)


def graph_scores_text(graph: AttributionGraph) -> str:
    """The header's line of scores: how much of the computation goes through features, not errors."""
    scores = graph.scores()
    return (f"replacement score {scores['replacement']:.2f} (influence from tokens, not errors) · "
            f"completeness score {scores['completeness']:.2f} (inputs not from errors)")
