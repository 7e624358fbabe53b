"""Layer-by-layer logit lens: what the model would predict if it stopped after each block.

    LogitLensGrid.from_model(model, "The Eiffel Tower is in the city of")

A grid of layer boundaries x positions, each cell the top-1 next token at that depth coloured by
its probability; click a cell for its top-k bars; type a target token to see its rank and
probability in every cell; the last row is the KL divergence of each layer's prediction from the
final one. The kernel reduces the vocabulary distribution to the top k (`compute.residual`):
only k ids and probabilities per cell cross to the browser, as binary arrays.
"""

from __future__ import annotations

import html
from typing import Any

import torch
import traitlets

from interp_widgets.compute.hooks import tokenize
from interp_widgets.compute.residual import logit_lens, token_rank
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import BaseWidget, bundle_path, request_handler
from interp_widgets.widgets._wire import from_wire, to_wire
from interp_widgets.widgets.token_highlights import _visible

TEXT_POSITIONS = 12  # positions in the plain-text form


def single_token(model: Any, text: str) -> int:
    """The id of `text` if the tokenizer makes exactly one token of it; otherwise say what it splits into."""
    if not text:
        raise InterpWidgetsError("the target token is empty: type a token, e.g. ' the' (with its leading space).")
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [model.tokenizer.decode([i]) for i in ids]
        hint = "" if text.startswith(" ") else f" Most words start with a space: try {(' ' + text)!r}."
        raise InterpWidgetsError(f"{text!r} is not one token: the tokenizer splits it into {pieces}.{hint}")
    return int(ids[0])


class LogitLensGrid(BaseWidget):
    """Top-1 prediction per layer boundary and position, with top-k bars, a target's rank and the KL row."""

    _esm = bundle_path("logit_lens.js")

    tokens = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    """The prompt's tokens (the grid's columns; each cell predicts the token after its column's)."""
    labels = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    """Layer boundaries (the grid's rows): `0_pre` (embeddings) ... `final_post` (the model's output)."""
    top_ids = traitlets.Any(to_wire(torch.zeros(0, 0, 0, dtype=torch.int32))).tag(sync=True)
    """Top-k token ids `[n_boundaries, pos, k]`, most probable first."""
    top_probs = traitlets.Any(to_wire(torch.zeros(0, 0, 0))).tag(sync=True)
    """Their probabilities `[n_boundaries, pos, k]`."""
    vocab = traitlets.Dict(traitlets.Unicode(), default_value={}).tag(sync=True)
    """The text of every token id in `top_ids` (id as a string -> token)."""
    kl = traitlets.Any(to_wire(torch.zeros(0, 0))).tag(sync=True)
    """KL(final || layer) in nats per boundary and position `[n_boundaries, pos]`."""
    target = traitlets.Unicode("").tag(sync=True)
    """A token to follow through the layers ('' for none)."""
    target_rank = traitlets.Any(to_wire(torch.zeros(0, 0, dtype=torch.int32))).tag(sync=True)
    """The target's rank (0 = top) per boundary and position `[n_boundaries, pos]` (empty without a target)."""
    target_prob = traitlets.Any(to_wire(torch.zeros(0, 0))).tag(sync=True)
    """The target's probability per boundary and position `[n_boundaries, pos]`."""
    k = traitlets.Int(5).tag(sync=True)
    """How many top tokens per cell."""
    prompt = traitlets.Unicode("").tag(sync=True)
    """The prompt."""
    editable = traitlets.Bool(True).tag(sync=True)
    """Whether the prompt and target boxes are shown."""
    title = traitlets.Unicode("Logit lens").tag(sync=True)
    """Title above the grid."""

    def __init__(self, **kwargs: Any) -> None:
        self._model: Any = None
        super().__init__(**kwargs)

    @classmethod
    def from_model(cls, model: Any, prompt: str, k: int = 5, target: str = "", **kwargs: Any) -> "LogitLensGrid":
        widget = cls(k=k, **kwargs)
        widget._model = model
        widget.set_prompt(prompt, target=target)
        return widget

    def set_prompt(self, prompt: str, target: str | None = None) -> None:
        """Recompute the grid for a new prompt (and target, when given)."""
        if self._model is None:
            raise InterpWidgetsError("build the view with LogitLensGrid.from_model(model, prompt).")
        model = self._model
        tokens = tokenize(model, prompt)
        target = self.target if target is None else target
        target_id = single_token(model, target) if target else None
        lens = logit_lens(model, tokens, k=self.k)
        ids = sorted(set(lens.top_ids.flatten().tolist()) | ({target_id} if target_id is not None else set()))
        with self.hold_sync():
            self.tokens = [str(t) for t in model.to_str_tokens(tokens[0])]
            self.labels = lens.labels
            self.top_ids = to_wire(lens.top_ids.to(torch.int32))
            self.top_probs = to_wire(lens.top_probs.float())
            self.vocab = {str(i): model.tokenizer.decode([i]) for i in ids}
            self.kl = to_wire(lens.kl.float())
            self._set_target(tokens, target, target_id)
            self.prompt = prompt

    def _set_target(self, tokens: torch.Tensor, target: str, target_id: int | None) -> None:
        if target_id is None:
            self.target_rank = to_wire(torch.zeros(0, 0, dtype=torch.int32))
            self.target_prob = to_wire(torch.zeros(0, 0))
        else:
            rank, prob = token_rank(self._model, tokens, target_id)
            self.target_rank = to_wire(rank.to(torch.int32))
            self.target_prob = to_wire(prob.float())
            self.vocab = {**self.vocab, str(target_id): self._model.tokenizer.decode([target_id])}
        self.target = target

    def set_target(self, target: str) -> None:
        """Follow one token (its rank and probability in every cell); '' clears it."""
        target_id = single_token(self._model, target) if target else None
        self._set_target(tokenize(self._model, self.prompt), target, target_id)

    @request_handler("set_prompt")
    def _request_set_prompt(self, prompt: str) -> dict[str, Any]:
        self.set_prompt(prompt)
        return {"n_tokens": len(self.tokens)}

    @request_handler("set_target")
    def _request_set_target(self, target: str) -> dict[str, Any]:
        self.set_target(target)
        return {"target": self.target}

    # ---- text and snapshot ------------------------------------------------------------------

    def top1(self) -> list[list[tuple[str, float]]]:
        """`[boundary][position] -> (top-1 token, probability)`."""
        ids, probs = from_wire(self.top_ids), from_wire(self.top_probs)
        return [[(self.vocab[str(int(ids[b, p, 0]))], float(probs[b, p, 0])) for p in range(ids.shape[1])] for b in range(ids.shape[0])]

    def summary(self) -> str:
        return f"{len(self.tokens)} tokens x {len(self.labels)} boundaries, top {self.k}"

    def to_text(self) -> str:
        grid = self.top1()
        shown = range(max(0, len(self.tokens) - TEXT_POSITIONS), len(self.tokens))
        lines = [f"{self.title}: top-1 next token per layer (rows) and position (last {len(shown)} columns)"]
        lines.append(f"{'':>11} " + " ".join(f"{_visible(self.tokens[p])[:10]:>12}" for p in shown))
        for label, row in zip(self.labels, grid):
            lines.append(f"{label:>11} " + " ".join(f"{_visible(row[p][0])[:8]:>8} {row[p][1]:.2f}"[-12:].rjust(12) for p in shown))
        return "\n".join(lines)

    def to_static_html(self) -> str:
        grid = self.top1()
        head = "".join(f"<th>{html.escape(_visible(t))}</th>" for t in self.tokens)
        body = "".join(
            f"<tr><th>{html.escape(label)}</th>"
            + "".join(f'<td title="{prob:.3f}" style="background:rgba(230,97,1,{0.85 * prob:.2f})">{html.escape(_visible(text))}</td>'
                      for text, prob in row) + "</tr>"
            for label, row in zip(self.labels, grid)
        )
        return (f"<div class=\"iw-s\"><b>{html.escape(self.title)}</b> <small>(static snapshot)</small>"
                f"<table style=\"font-family:monospace;font-size:smaller\"><tr><th></th>{head}</tr>{body}</table></div>")
