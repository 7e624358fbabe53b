"""Attention patterns: a layer's heads as thumbnails, one head large, hover a token for its attention.

    AttentionView.from_model(model, "When Mary and John went to the store, John gave a drink to")
    interp_widgets.attention.attention_heads(attention, tokens)     # CircuitsVis' arguments

Only the layer on screen crosses to the browser, each head as its causal lower triangle in
float16 (`compute.residual.attention_patterns`); choosing another layer in the view asks the kernel for it. Head
scores (previous-token, induction, duplicate-token, attention to BOS; `compute.residual.head_scores`) for
every head are shown in a sortable table.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
from typing import Any, Sequence

import torch
import traitlets

from interp_widgets.compute.core.model import Model
from interp_widgets.compute.residual.attention_patterns import check_head, check_layer, layer_patterns, pack_lower_triangle, unpack_lower_triangle
from interp_widgets.compute.residual.head_scores import HEAD_SCORE_LABELS, bos_score, head_scores, previous_token_score
from interp_widgets.compute.core.hooks import token_strings, tokenize
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop, request_handler
from interp_widgets.widgets._snapshot import visible

SCORE_NAMES = ["previous_token", "induction", "duplicate_token", "bos"]
SNAPSHOT_TOKENS = 48  # the static snapshot draws the first tokens' pattern


@dataclasses.dataclass(frozen=True, eq=False)
class AttentionInputs(Inputs):
    """A model on a prompt, or fixed patterns `[n_layers, n_heads, T, T]` over fixed tokens."""

    model: Model | None = None
    prompt: str = ""
    patterns: torch.Tensor | None = None
    tokens: tuple[str, ...] = ()
    focus: str = ""  # a head to show, "L<layer>H<head>" as a selection holds it (a head hovered in the circuit view); "": as it is

    EDITABLE = ("prompt",)
    RESETS = {}

    def focused(self) -> tuple[int, int] | None:
        """(layer, head) of `focus`, None when it is empty."""
        if not self.focus:
            return None
        match = re.fullmatch(r"L(\d+)H(\d+)", self.focus)
        if not match:
            raise InterpWidgetsError(f"a head is named like 'L1H3' (layer 1, head 3), got {self.focus!r}.")
        return int(match.group(1)), int(match.group(2))

    def layer(self, layer: int) -> torch.Tensor:
        """One layer's patterns `[n_heads, T, T]`."""
        if self.patterns is not None:
            return self.patterns[layer]
        return layer_patterns(self.model, tokenize(self.model, self.prompt), layer)


class AttentionView(BaseWidget):
    """One layer's attention heads (thumbnails and one large), hover/click-lock on tokens, head scores."""

    tokens = traitlets.List(traitlets.Unicode(), [], help="The prompt's tokens (queries and keys).").tag(sync=True)
    n_layers = traitlets.Int(0, help="Layers available.").tag(sync=True)
    n_heads = traitlets.Int(0, help="Heads per layer.").tag(sync=True)
    layer = traitlets.Int(0, help="The layer on screen (setting it fetches its patterns).").tag(sync=True)
    head = traitlets.Int(0, help="The head shown large.").tag(sync=True)
    patterns = Array(dtype=torch.float16, shape=(0, 0), help="The layer's patterns, each head's lower triangle `[n_heads, T(T+1)/2]` in float16.")
    score_names = traitlets.List(traitlets.Unicode(), SCORE_NAMES, help="Names of the head scores.").tag(sync=True)
    score_labels = traitlets.List(traitlets.Unicode(), [HEAD_SCORE_LABELS[name] for name in SCORE_NAMES], help="What each score is measured on, in words (`compute.residual.head_scores.HEAD_SCORE_LABELS`): induction is not on the prompt.").tag(sync=True)
    scores = Array(shape=(0, 0, 0), help="Head scores `[n_scores, n_layers, n_heads]` (NaN where they cannot be computed).")
    prompt = traitlets.Unicode("", help="The prompt, when built from a model.").tag(sync=True)
    editable = traitlets.Bool(False, help="Whether the prompt box is shown (views built from a model).").tag(sync=True)
    title = traitlets.Unicode("Attention patterns", help="Title above the view.").tag(sync=True)

    # ---- construction -----------------------------------------------------------------------

    @classmethod
    def from_model(cls, model: Any, prompt: str, layer: int = 0, head: int = 0, focus: str = "", **kwargs: Any) -> "AttentionView":
        """Patterns of `model` on `prompt`, fetched a layer at a time; scores of every head. `focus` ("L1H3") overrides
        `layer` and `head` (a selection's head)."""
        check_layer(model, layer)
        check_head(model, head)
        return cls.computed(AttentionInputs(model, prompt, focus=focus), n_layers=model.cfg.n_layers, n_heads=model.cfg.n_heads,
                            editable=True, layer=layer, head=head, **kwargs)

    SELECTION = {"prompt": "prompt", "focus": "head"}
    """The model's patterns on the selection's prompt (a prompt typed here is published); a head chosen elsewhere (hovered
    in the circuit view) is shown large, its layer on screen."""

    @classmethod
    def from_patterns(cls, patterns: Any, tokens: Sequence[str], **kwargs: Any) -> "AttentionView":
        """From patterns `[n_heads, query, key]` (one layer) or `[n_layers, n_heads, query, key]`."""
        tensor = torch.as_tensor(patterns.detach().cpu() if isinstance(patterns, torch.Tensor) else patterns).float()
        if tensor.ndim == 3:
            tensor = tensor[None]
        if tensor.ndim != 4 or tensor.shape[-1] != tensor.shape[-2]:
            raise InterpWidgetsError(f"attention must have shape [n_heads, dest, src] (or with layers first), got {list(tensor.shape)}.")
        if tensor.shape[-1] != len(tokens):
            raise InterpWidgetsError(f"got {len(tokens)} tokens but attention over {tensor.shape[-1]} positions: give one token per position.")
        return cls.computed(AttentionInputs(patterns=tensor, tokens=tuple(str(t) for t in tokens)),
                            n_layers=tensor.shape[0], n_heads=tensor.shape[1], **kwargs)

    # ---- the kernel's work ------------------------------------------------------------------

    def compute(self, inputs: AttentionInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """Every head's scores (`compute.residual.head_scores`) and the patterns of the layer on screen."""
        if inputs.patterns is not None:
            if inputs.prompt:
                raise InterpWidgetsError("this view was built from fixed patterns; build it with AttentionView.from_model(...) to edit the prompt.")
            fixed = inputs.patterns
            scores = torch.full((len(SCORE_NAMES), fixed.shape[0], fixed.shape[1]), math.nan)
            scores[0] = previous_token_score(fixed[:, None])
            scores[3] = bos_score(fixed[:, None])
            tokens = list(inputs.tokens)
        else:
            ids = tokenize(inputs.model, inputs.prompt)
            found = head_scores(inputs.model, ids)
            scores = torch.stack([found[name] for name in SCORE_NAMES])
            tokens = token_strings(inputs.model, ids[0])
        shown = {}
        focused = inputs.focused()
        if focused is not None:
            layer, head = focused
            if inputs.model is not None:
                check_layer(inputs.model, layer)
                check_head(inputs.model, head)
            shown = {"layer": layer, "head": head}
        return {"tokens": tokens, "scores": scores, "patterns": pack_lower_triangle(inputs.layer(shown.get("layer", self.layer))), **shown}

    def _load_layer(self) -> None:
        self.patterns = pack_lower_triangle(self._need_inputs().layer(self.layer))

    @traitlets.validate("layer", "head")
    def _validate_index(self, proposal: Any) -> int:
        return self._checked(proposal["trait"].name, int(proposal["value"]))

    def _checked(self, name: str, index: int) -> int:
        """`index` if it is a valid layer or head (`name`), else an error that gives the range."""
        count, where = (self.n_layers, "there are") if name == "layer" else (self.n_heads, "each layer has")
        if count and not 0 <= index < count:
            raise InterpWidgetsError(f"{name} {index} is out of range: {where} {count} {name}s (0 to {count - 1}).")
        return index

    @traitlets.observe("layer")
    def _on_layer(self, _change: Any) -> None:
        if self.tokens:
            self._load_layer()

    def set_prompt(self, prompt: str) -> None:
        """Recompute for a new prompt: the layer on screen and every head's scores."""
        self.set(prompt=prompt)

    @request_handler("show")
    def _request_show(self, layer: int, head: int) -> dict[str, Any]:
        """Show `head` of `layer` large (fetching the layer when it changes); both are checked before either changes."""
        self._checked("layer", layer)
        self._checked("head", head)
        with self.hold_sync():
            self.layer = layer
            self.head = head
        return {"layer": self.layer, "head": self.head}

    # ---- views of the state -----------------------------------------------------------------

    def pattern(self, head: int | None = None) -> torch.Tensor:
        """The pattern `[query, key]` of a head of the layer on screen (float16 precision, as shown)."""
        packed = self.patterns
        return unpack_lower_triangle(packed[self.head if head is None else head].float(), len(self.tokens))

    def summary(self) -> str:
        return f"{len(self.tokens)} tokens, layer {self.layer} of {self.n_layers}, head {self.head} of {self.n_heads}"

    def _score_rows(self) -> list[str]:
        scores = self.scores
        rows = []
        for layer in range(scores.shape[1]):
            for head in range(scores.shape[2]):
                values = ", ".join(f"{name} {float(scores[i, layer, head]):.2f}" for i, name in enumerate(self.score_names)
                                   if not math.isnan(float(scores[i, layer, head])))
                rows.append(f"L{layer}H{head}: {values}")
        return rows

    def to_text(self) -> str:
        return "\n".join([f"{self.title}: {self.summary()}", *(f"  {label}" for label in self.score_labels), *self._score_rows()])

    def to_static_html(self) -> str:
        pattern = self.pattern() if self.tokens else torch.zeros(0, 0)
        shown = min(len(self.tokens), SNAPSHOT_TOKENS)
        head = "".join(f"<th>{html.escape(visible(t))}</th>" for t in self.tokens[:shown])
        body = "".join(
            f"<tr><th>{html.escape(visible(self.tokens[q]))}</th>"
            + "".join(f'<td style="background:rgba(230,97,1,{0.85 * float(pattern[q, k]):.2f})"></td>' for k in range(q + 1))
            + "</tr>" for q in range(shown)
        )
        more = f" (first {shown} of {len(self.tokens)} tokens)" if shown < len(self.tokens) else ""
        rows = "".join(f"<li>{html.escape(row)}</li>" for row in [*self.score_labels, *self._score_rows()])
        return (f"<div class=\"iw-s\"><b>{html.escape(self.title)}: layer {self.layer}, head {self.head}{more}</b> <small>(static snapshot)</small>"
                f"<table style=\"font-family:monospace;font-size:smaller\"><tr><th></th>{head}</tr>{body}</table>"
                f"<ul style=\"font-family:monospace\">{rows}</ul></div>")
