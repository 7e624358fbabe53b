"""Circuit view: the model's edge graph scored by EAP (or EAP-IG), the top edges drawn, and how faithful they are.

    pair = compute.patching.tasks.docstring_pair(model)
    CircuitView.from_model(model, pair)                  # or clean=, corrupt=, answer=, wrong=

Heads and MLPs sit by layer (the input at the bottom, the logits at the top); an edge is orange when
restoring it toward the clean run raises the metric, blue when it lowers it, thicker the larger its
score. The slider beside the faithfulness curve picks how many of the top edges are drawn; every point
of the curve is exact (`compute.circuits.faithfulness_curve`). Click an edge for its exact patch effect;
hover a head for its attention pattern on the clean prompt. Linked to a `Selection`, the view publishes its
clean prompt and the hovered head (the selection's `head`, "L4H7"), so an attention view on the same
selection shows that head, on that prompt. The prompt pair is editable.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import torch
import traitlets

from interp_widgets.compute.circuits import edge_attribution, edge_effects, faithfulness_curve, prepare
from interp_widgets.compute.circuits.layout import circuit_layout
from interp_widgets.compute.core.hooks import token_strings
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.patching.default_pair import patching_pair
from interp_widgets.compute.residual.attention_patterns import pack_lower_triangle
from interp_widgets.compute.residual.head_scores import attention_patterns
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop, request_handler
from interp_widgets.widgets._charts import line_chart
from interp_widgets.widgets._colors import NEGATIVE_RGB, POSITIVE_RGB, format_value, hex_color
from interp_widgets.widgets._snapshot import page

MAX_DRAWN = 2000  # edges sent to the view (the top ones by |score|); the curve covers every edge
SNAPSHOT_EDGES = 150
GOOD_ENOUGH = 0.8  # the circuit first drawn: the smallest on the curve recovering this much


@dataclasses.dataclass(frozen=True, eq=False)
class CircuitInputs(Inputs):
    """A model, one clean / corrupt prompt pair with its answer and wrong answer, the metric and the EAP-IG steps."""

    model: Model
    prompt: str
    corrupt: str
    answer: str | int  # one-token text (" Mary"), or the token id where the text does not read back as one token (a byte token)
    wrong: str | int
    ig_steps: int = 1
    metric_name: str = "logit_difference"  # one of compute.circuits.METRICS (PatchingView's `metric` is a metric object)

    EDITABLE = ("prompt", "corrupt", "answer", "wrong", "ig_steps")
    RESETS = {}
    ALIASES = {"clean": lambda inputs, prompt: selected_pair(inputs.model, prompt)}
    """`clean`: a new clean prompt, with its default corruption and answers (`selected_pair`)."""


def selected_pair(model: Any, prompt: str, corrupt: str = "") -> dict[str, Any]:
    """`prompt` as the clean prompt, `corrupt` as given or the default one, the two runs' top answers as the metric."""
    corrupt, (answer, wrong) = patching_pair(model, prompt, corrupt)
    return {"prompt": prompt, "corrupt": corrupt, "answer": as_answer(model, answer), "wrong": as_answer(model, wrong)}


def as_answer(model: Any, token: int) -> str | int:
    """A token as the text a user would type for it, or its id where that text is not the same one token."""
    text = model.tokenizer.decode([token])
    return text if model.tokenizer(text, add_special_tokens=False)["input_ids"] == [token] else int(token)


def shown_answer(model: Any, answer: str | int) -> str:
    """An answer as text for the view (a token id through `token_strings`)."""
    return token_strings(model, [answer])[0] if isinstance(answer, int) else answer


class CircuitView(BaseWidget):
    """EAP / EAP-IG edge scores drawn as a circuit, its exact faithfulness curve, and exact edge effects on click."""

    title = traitlets.Unicode("Circuit discovery", help="Title above the view.").tag(sync=True)
    prompt = traitlets.Unicode("", help="The clean prompt (editable in the view).").tag(sync=True)
    corrupt = traitlets.Unicode("", help="The corrupt prompt, as many tokens as the clean one (editable).").tag(sync=True)
    answer = traitlets.Unicode("", help="The clean run's answer (one token; editable).").tag(sync=True)
    wrong = traitlets.Unicode("", help="The wrong answer the logit difference compares with (one token; editable).").tag(sync=True)
    ig_steps = traitlets.Int(1, help="Integrated-gradient steps: 1 is EAP, more is EAP-IG (editable).").tag(sync=True)
    method = traitlets.Unicode("", help="How the edges were scored, in words.").tag(sync=True)
    metric_label = traitlets.Unicode("", help="What the metric is.").tag(sync=True)
    clean_metric = traitlets.Float(0.0, help="The metric on the clean run.").tag(sync=True)
    corrupt_metric = traitlets.Float(0.0, help="The metric on the corrupt run.").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), [], help="The clean prompt's tokens.").tag(sync=True)
    differing = traitlets.List(traitlets.Int(), [], help="Positions where the two prompts differ.").tag(sync=True)
    n_layers = traitlets.Int(0, help="Layers of the model.").tag(sync=True)
    n_heads = traitlets.Int(0, help="Query heads per layer.").tag(sync=True)
    n_edges = traitlets.Int(0, help="Edges of the whole graph.").tag(sync=True)
    rows = traitlets.Int(1, help="Rows of the picture (input, a row of heads and one of MLPs per layer, logits).").tag(sync=True)
    sender_names = traitlets.List(traitlets.Unicode(), [], help="Senders: embed, a<layer>.h<head>, m<layer>.").tag(sync=True)
    receiver_names = traitlets.List(traitlets.Unicode(), [], help="Receivers: a<layer>.h<head>.q/.k/.v (a<l>.h<g>.k for a shared key/value head g), m<layer>.in, logits.").tag(sync=True)
    sender_xy = Array(shape=(0, 2), help="Where each sender is drawn, x across and y up in [0, 1] (`compute.circuits.layout`).")
    receiver_xy = Array(shape=(0, 2), help="Where each receiver's edges end.")
    edge_sender = Array(dtype=torch.int32, shape=(0,), help="The drawn edges' senders (indices into sender_names), largest |score| first.")
    edge_receiver = Array(dtype=torch.int32, shape=(0,), help="The drawn edges' receivers (indices into receiver_names).")
    edge_score = Array(shape=(0,), help="The drawn edges' scores (EAP / EAP-IG estimate of restoring the edge from clean into the corrupt run).")
    curve_sizes = Array(dtype=torch.int32, shape=(0,), help="Circuit sizes (top edges kept) of the faithfulness curve.")
    curve_recovered = Array(shape=(0,), help="Exact faithfulness of each: (M(circuit) - M(corrupt)) / (M(clean) - M(corrupt)).")
    circuit_size = traitlets.Int(0, help="How many top edges are drawn (the slider; one of curve_sizes).").tag(sync=True)
    patterns = Array(dtype=torch.float16, shape=(0, 0), help="Every head's attention on the clean prompt, `[layer * n_heads + head, T(T+1)/2]` lower triangles in float16.")
    selected_edge = traitlets.Dict(key_trait=traitlets.Unicode(), default_value={}, help="The clicked edge: its names, score and exact patch effect.").tag(sync=True)
    progress = traitlets.Unicode("", help="While computing: how far it is.").tag(sync=True)

    SELECTION = {"clean": "prompt"}  # and a hovered head is published as the selection's `head` (`choose_head`)
    """The clean prompt is the selection's prompt (a new one brings its default corruption and answers); a prompt typed
    here is published."""

    @classmethod
    def from_model(cls, model: Any, pair: Any = None, clean: str | None = None, corrupt: str | None = None, answer: str | None = None,
                   wrong: str | None = None, ig_steps: int = 1, metric_name: str = "logit_difference", **kwargs: Any) -> "CircuitView":
        """`pair`: a `PromptPair` (`compute.patching.tasks.ioi_pair(model)`, `docstring_pair(model)`), or give
        `clean`, `corrupt`, `answer` and `wrong` (answers as one-token text, e.g. " Mary")."""
        if pair is not None:
            clean, corrupt, answer, wrong = pair.clean, pair.corrupt, pair.answer, pair.wrong
        if clean is None or corrupt is None:
            raise InterpWidgetsError("give a prompt pair: CircuitView.from_model(model, compute.patching.tasks.ioi_pair(model)) "
                                     "or clean=, corrupt=, answer=, wrong=.")
        if answer is None or wrong is None:
            answers = selected_pair(model, clean, corrupt)
            answer, wrong = answers["answer"], answers["wrong"]
        inputs = CircuitInputs(model, clean, corrupt, answer, wrong, int(ig_steps), metric_name)
        return cls.computed(inputs, n_layers=model.cfg.n_layers, n_heads=model.cfg.n_heads, **kwargs)

    @classmethod
    def from_selected(cls, selection: Any, selected: dict[str, Any], corrupt: str = "", **options: Any) -> "CircuitView":
        """The selection's prompt as the clean one (an IOI pair when it has none), `corrupt` as given or the default
        corruption (`compute.patching.default_pair`)."""
        if selected["clean"]:
            return cls.from_model(selection.model, **_as_keywords(selected_pair(selection.model, selected["clean"], corrupt)), **options)
        from interp_widgets.compute.patching.tasks import ioi_pair

        return cls.from_model(selection.model, ioi_pair(selection.model), **options)

    def compute(self, inputs: CircuitInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """EAP / EAP-IG scores, the exact faithfulness curve of the top-n circuits, the layout and the heads' patterns."""
        model = inputs.model
        if inputs.ig_steps < 1 or inputs.ig_steps > 256:
            raise InterpWidgetsError(f"ig_steps must be 1 (EAP) to 256, got {inputs.ig_steps}.")
        pairs = [(inputs.prompt, inputs.corrupt, inputs.answer, inputs.wrong)]
        run = prepare(model, pairs, inputs.metric_name)
        scores = edge_attribution(model, pairs, ig_steps=inputs.ig_steps, prepared=run, progress=progress, should_stop=should_stop)
        curve = faithfulness_curve(model, pairs, scores, prepared=run, progress=progress, should_stop=should_stop)
        layout = circuit_layout(scores.graph)
        ranked = scores.ranked()[:MAX_DRAWN]
        n_receivers = len(scores.graph.receivers)
        reached = (curve.recovered >= GOOD_ENOUGH).nonzero()[:, 0]
        first = int(curve.sizes[reached[0]]) if len(reached) else int(curve.sizes[int(curve.recovered.argmax())])
        sizes = curve.sizes.tolist()
        size = min(max(first, 1), MAX_DRAWN)
        size = max((s for s in sizes if s <= size), default=sizes[0])
        tokens = run.pairs.clean[:1]
        patterns = attention_patterns(model, tokens)[:, 0].cpu()  # [layers, heads, T, T]
        clean_tokens, corrupt_tokens = run.pairs.clean[0].cpu(), run.pairs.corrupt[0].cpu()
        return {
            "method": scores.method, "answer": shown_answer(model, inputs.answer), "wrong": shown_answer(model, inputs.wrong),
            "metric_label": f"logit difference {shown_answer(model, inputs.answer)!r} − {shown_answer(model, inputs.wrong)!r}"
            if inputs.metric_name in ("logit_difference", "logit_diff") else inputs.metric_name,
            "clean_metric": scores.clean_metric, "corrupt_metric": scores.corrupt_metric,
            "tokens": token_strings(model, clean_tokens), "differing": (clean_tokens != corrupt_tokens).nonzero()[:, 0].tolist(),
            "n_edges": scores.graph.n_edges, "rows": layout.rows,
            "sender_names": [n.name for n in scores.graph.senders], "receiver_names": [n.name for n in scores.graph.receivers],
            "sender_xy": layout.sender_xy, "receiver_xy": layout.receiver_xy,
            "edge_sender": (ranked // n_receivers).to(torch.int32), "edge_receiver": (ranked % n_receivers).to(torch.int32),
            "edge_score": scores.scores.flatten()[ranked].float(),
            "curve_sizes": curve.sizes.to(torch.int32), "curve_recovered": curve.recovered.float(), "circuit_size": int(size),
            "patterns": pack_lower_triangle(patterns).flatten(0, 1).to(torch.float16), "selected_edge": {},
            "circuit_run": run, "circuit_scores": scores, "circuit_curve": curve,
        }

    def set_pair(self, clean: str, corrupt: str, answer: str, wrong: str) -> None:
        """A new prompt pair (same number of tokens) and its answers: everything is recomputed."""
        self.set(prompt=clean, corrupt=corrupt, answer=answer, wrong=wrong)

    def set_ig_steps(self, ig_steps: int) -> None:
        """1 for EAP, more for EAP-IG."""
        self.set(ig_steps=int(ig_steps))

    def inspect_edge(self, index: int) -> dict[str, Any]:
        """Patch the drawn edge `index` exactly (clean value into the corrupt run): its effect beside its score."""
        self._need_inputs()
        if not 0 <= int(index) < len(self.edge_score):
            raise InterpWidgetsError(f"edge {index} is not drawn: choose 0 to {len(self.edge_score) - 1}.")
        s, r = int(self.edge_sender[index]), int(self.edge_receiver[index])
        exact = float(edge_effects(self.inputs.model, None, [(s, r)], prepared=self.circuit_run)[0])
        gap = self.clean_metric - self.corrupt_metric
        self.selected_edge = {"index": int(index), "sender": self.sender_names[s], "receiver": self.receiver_names[r],
                              "score": float(self.edge_score[index]), "exact": exact, "fraction": exact / gap if gap else float("nan")}
        return self.selected_edge

    @request_handler("head")
    def choose_head(self, layer: int, head: int) -> dict[str, Any]:
        """Publish a hovered head to the linked selection (the attention view shows it): "L<layer>H<head>"."""
        if not 0 <= int(layer) < self.n_layers or not 0 <= int(head) < self.n_heads:
            raise InterpWidgetsError(f"no head L{layer}H{head}: this model has layers 0 to {self.n_layers - 1} and heads 0 to {self.n_heads - 1}.")
        self._publish(head=f"L{int(layer)}H{int(head)}")
        return {"published": self._selection is not None}

    @request_handler("edge")
    def _request_edge(self, index: int) -> dict[str, Any]:
        return self.inspect_edge(index)

    # ---- text and snapshot ----------------------------------------------------------------

    def recovered_at(self, size: int | None = None) -> float:
        """The exact faithfulness of the drawn circuit (or of the curve point `size`)."""
        sizes = self.curve_sizes.tolist()
        size = self.circuit_size if size is None else size
        return float(self.curve_recovered[sizes.index(size)]) if size in sizes else float("nan")

    def summary(self) -> str:
        return f"{self.method}, {self.circuit_size} of {self.n_edges} edges drawn"

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.method}; {self.metric_label} clean {self.clean_metric:.3f}, corrupt {self.corrupt_metric:.3f}",
                 f"  top {self.circuit_size} of {self.n_edges} edges recover {format_value(self.recovered_at())} of the gap"]
        for i in range(min(10, len(self.edge_score))):
            s, r = int(self.edge_sender[i]), int(self.edge_receiver[i])
            lines.append(f"  {self.sender_names[s]} -> {self.receiver_names[r]}: {float(self.edge_score[i]):+.4f}")
        return "\n".join(lines)

    def _graph_svg(self, width: int = 560, height: int = 420) -> str:
        n = min(self.circuit_size, SNAPSHOT_EDGES, len(self.edge_score))
        if n == 0:
            return ""
        biggest = float(self.edge_score[:n].abs().max()) or 1.0
        def at(xy: torch.Tensor) -> tuple[float, float]:
            return 20 + float(xy[0]) * (width - 40), height - 10 - float(xy[1]) * (height - 20)
        parts, used = [], set()
        for i in range(n):
            s, r = int(self.edge_sender[i]), int(self.edge_receiver[i])
            used.add(s)
            (x1, y1), (x2, y2) = at(self.sender_xy[s]), at(self.receiver_xy[r])
            value = float(self.edge_score[i])
            colour = hex_color(POSITIVE_RGB if value > 0 else NEGATIVE_RGB)
            parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
                         f'stroke-width="{0.5 + 4 * abs(value) / biggest:.2f}" stroke-opacity="0.7"/>')
        for s, name in enumerate(self.sender_names):
            x, y = at(self.sender_xy[s])
            fill = "#222" if s in used else "#bbb"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}"/>')
            if s in used:
                parts.append(f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" font-size="9" fill="#222">{html.escape(name)}</text>')
        lx, ly = at(torch.tensor([0.5, (self.rows - 0.5) / self.rows]))
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" text-anchor="middle" fill="#222">logits</text>')
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                f'role="img" aria-label="circuit">{"".join(parts)}</svg>')

    def to_static_html(self) -> str:
        curve = line_chart([str(int(s)) for s in self.curve_sizes.tolist()], [("faithfulness", self.curve_recovered.tolist())],
                           "faithfulness (exact) against edges kept")
        rows = "".join(
            f"<tr><td>{html.escape(self.sender_names[int(self.edge_sender[i])])}</td><td>{html.escape(self.receiver_names[int(self.edge_receiver[i])])}</td>"
            f"<td>{float(self.edge_score[i]):+.4f}</td></tr>" for i in range(min(10, len(self.edge_score))))
        body = (f"<div>{html.escape(self.metric_label)}: clean {self.clean_metric:.3f}, corrupt {self.corrupt_metric:.3f}; "
                f"top {self.circuit_size} of {self.n_edges} edges recover {html.escape(format_value(self.recovered_at()))} of the gap "
                f"(orange: restoring the edge raises the metric, blue: lowers it)</div>"
                f"<div>{self._graph_svg()}</div><div>{curve}</div>"
                f"<table><tr><th>sender</th><th>receiver</th><th>score</th></tr>{rows}</table>")
        return page("iw-circuit-snapshot", f"{self.title} · {self.method}", body, html.escape(f"clean: {self.prompt!r}; corrupt: {self.corrupt!r}"))


def _as_keywords(pair: dict[str, Any]) -> dict[str, Any]:
    return {"clean": pair["prompt"], "corrupt": pair["corrupt"], "answer": pair["answer"], "wrong": pair["wrong"]}
