"""Layer-by-layer logit lens: what the model would predict if it stopped after each block.

    LogitLensGrid.from_model(model, "The Eiffel Tower is in the city of")

A grid of layer boundaries x positions, each cell the top-1 next token at that depth coloured by
its probability; click a cell for its top-k bars; type a target token to see its rank and
probability in every cell; the last row is the KL divergence of each layer's prediction from the
final one. The kernel reduces the vocabulary distribution to the top k (`compute.residual.norms`):
only k ids and probabilities per cell cross to the browser, as binary arrays.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import torch
import traitlets

from interp_widgets.compute.core.hooks import token_strings, tokenize
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.residual.lens import logit_lens, token_rank
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop
from interp_widgets.widgets._snapshot import visible

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


@dataclasses.dataclass(frozen=True, eq=False)
class GridInputs(Inputs):
    """A model on a prompt, the top k per cell, and a token to follow ('' for none)."""

    model: Model
    prompt: str
    target_token: str = ""
    """A token to follow (not `target`: that name is the selection's position, which this view does not read)."""
    k: int = 5

    EDITABLE = ("prompt", "target_token")
    RESETS = {}


class LogitLensGrid(BaseWidget):
    """Top-1 prediction per layer boundary and position, with top-k bars, a target's rank and the KL row."""

    tokens = traitlets.List(traitlets.Unicode(), [], help="The prompt's tokens (the grid's columns; each cell predicts the token after its column's).").tag(sync=True)
    labels = traitlets.List(traitlets.Unicode(), [], help="Layer boundaries (the grid's rows): `0_pre` (embeddings) ... `final_post` (the model's output).").tag(sync=True)
    top_ids = Array(dtype=torch.int32, shape=(0, 0, 0), help="Top-k token ids `[n_boundaries, pos, k]`, most probable first.")
    top_probs = Array(shape=(0, 0, 0), help="Their probabilities `[n_boundaries, pos, k]`.")
    vocab = traitlets.Dict(traitlets.Unicode(), default_value={}, help="The text of every token id in `top_ids` (id as a string -> token).").tag(sync=True)
    kl = Array(shape=(0, 0), help="KL(final || layer) in nats per boundary and position `[n_boundaries, pos]`.")
    target_token = traitlets.Unicode("", help="A token to follow through the layers ('' for none).").tag(sync=True)
    target_rank = Array(dtype=torch.int32, shape=(0, 0), help="The target's rank (0 = top) per boundary and position `[n_boundaries, pos]` (empty without a target).")
    target_prob = Array(shape=(0, 0), help="The target's probability per boundary and position `[n_boundaries, pos]`.")
    k = traitlets.Int(5, help="How many top tokens per cell.").tag(sync=True)
    prompt = traitlets.Unicode("", help="The prompt.").tag(sync=True)
    editable = traitlets.Bool(True, help="Whether the prompt and target boxes are shown.").tag(sync=True)
    title = traitlets.Unicode("Logit lens", help="Title above the grid.").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, prompt: str, k: int = 5, target_token: str = "", **kwargs: Any) -> "LogitLensGrid":
        """`target_token`: one token (e.g. " Paris") whose rank and probability every cell then shows."""
        return cls.computed(GridInputs(model, prompt, target_token, k), k=k, **kwargs)

    SELECTION = {"prompt": "prompt"}
    """The grid of the selection's prompt (a prompt typed here is published); its token to follow, `target_token`, is
    its own: the selection's `target` is a position."""

    def compute(self, inputs: GridInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """The grid (`compute.residual.norms.logit_lens`) and the target's rank and probability in every cell.

        A new target on the same prompt reuses the grid on screen: only the target's row is computed."""
        model = inputs.model
        tokens = tokenize(model, inputs.prompt)
        target_id = single_token(model, inputs.target_token) if inputs.target_token else None
        out: dict[str, Any] = {}
        vocab = dict(self.vocab)
        same_grid = self.inputs is not None and inputs.model is self.inputs.model and inputs.prompt == self.prompt and inputs.k == self.k
        if not (same_grid and self.tokens):
            lens = logit_lens(model, tokens, k=inputs.k)
            vocab = {str(i): model.tokenizer.decode([i]) for i in sorted(set(lens.top_ids.flatten().tolist()))}
            out.update(tokens=token_strings(model, tokens[0]), labels=lens.labels, top_ids=lens.top_ids,
                       top_probs=lens.top_probs, kl=lens.kl)
        if target_id is None:
            out.update(target_rank=torch.zeros(0, 0), target_prob=torch.zeros(0, 0))
        else:
            rank, prob = token_rank(model, tokens, target_id)
            vocab[str(target_id)] = model.tokenizer.decode([target_id])
            out.update(target_rank=rank, target_prob=prob)
        return {**out, "vocab": vocab}

    def set_prompt(self, prompt: str, target_token: str | None = None) -> None:
        """Recompute the grid for a new prompt (and target token, when given)."""
        self.set(prompt=prompt, **({} if target_token is None else {"target_token": target_token}))

    def set_target_token(self, token: str) -> None:
        """Follow one token (its rank and probability in every cell); '' clears it."""
        self.set(target_token=token)

    # ---- text and snapshot ------------------------------------------------------------------

    def top1(self) -> list[list[tuple[str, float]]]:
        """`[boundary][position] -> (top-1 token, probability)`."""
        ids, probs = self.top_ids, self.top_probs
        return [[(self.vocab[str(int(ids[b, p, 0]))], float(probs[b, p, 0])) for p in range(ids.shape[1])] for b in range(ids.shape[0])]

    def summary(self) -> str:
        return f"{len(self.tokens)} tokens x {len(self.labels)} boundaries, top {self.k}"

    def to_text(self) -> str:
        grid = self.top1()
        shown = range(max(0, len(self.tokens) - TEXT_POSITIONS), len(self.tokens))
        lines = [f"{self.title}: top-1 next token per layer (rows) and position (last {len(shown)} columns)"]
        lines.append(f"{'':>11} " + " ".join(f"{visible(self.tokens[p])[:10]:>12}" for p in shown))
        for label, row in zip(self.labels, grid):
            lines.append(f"{label:>11} " + " ".join(f"{visible(row[p][0])[:8]:>8} {row[p][1]:.2f}"[-12:].rjust(12) for p in shown))
        return "\n".join(lines)

    def to_static_html(self) -> str:
        grid = self.top1()
        head = "".join(f"<th>{html.escape(visible(t))}</th>" for t in self.tokens)
        body = "".join(
            f"<tr><th>{html.escape(label)}</th>"
            + "".join(f'<td title="{prob:.3f}" style="background:rgba(230,97,1,{0.85 * prob:.2f})">{html.escape(visible(text))}</td>'
                      for text, prob in row) + "</tr>"
            for label, row in zip(self.labels, grid)
        )
        return (f"<div class=\"iw-s\"><b>{html.escape(self.title)}</b> <small>(static snapshot)</small>"
                f"<table style=\"font-family:monospace;font-size:smaller\"><tr><th></th>{head}</tr>{body}</table></div>")
