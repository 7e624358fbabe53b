"""Where a circuit picture puts its nodes: the input at the bottom, each layer's heads in a row with its MLP in
the row above, the logits at the top; an edge ends at its receiver's component (a head's query input a little
left of the head, its value input a little right; a shared key/value head's inputs at the middle of its group).
Coordinates are in [0, 1] (x across, y up), so the live view and the static snapshot draw the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from interp_widgets.compute.circuits.graph import EdgeGraph

INPUT_OFFSET = {"q_input": -0.28, "k_input": 0.0, "v_input": 0.28}  # of the spacing between heads


@dataclass
class CircuitLayout:
    """`sender_xy [S, 2]`, `receiver_xy [R, 2]`, `receiver_owner [R]` (the sender index drawn as its component; -1:
    the logits), `logits_xy [2]`, `rows` (how many rows the picture has)."""

    sender_xy: Tensor
    receiver_xy: Tensor
    receiver_owner: Tensor
    logits_xy: Tensor
    rows: int


def circuit_layout(graph: EdgeGraph) -> CircuitLayout:
    per_layer = 2 if graph.has_mlp else 1
    rows = 2 + graph.n_layers * per_layer
    y_of = lambda row: (row + 0.5) / rows  # noqa: E731
    x_of_head = lambda h: (h + 0.5) / graph.n_heads  # noqa: E731
    spacing = 1.0 / graph.n_heads
    sender_xy = torch.zeros(len(graph.senders), 2)
    sender_xy[0] = torch.tensor([0.5, y_of(0)])
    receiver_xy = torch.zeros(len(graph.receivers), 2)
    owner = torch.full((len(graph.receivers),), -1, dtype=torch.long)
    for layer, slots in enumerate(graph.layers):
        head_row = 1 + layer * per_layer
        for h in range(graph.n_heads):
            sender_xy[slots.heads.start + h] = torch.tensor([x_of_head(h), y_of(head_row)])
        if slots.mlp is not None:
            sender_xy[slots.mlp] = torch.tensor([0.5, y_of(head_row + 1)])
            receiver_xy[slots.mlp_in] = sender_xy[slots.mlp]
            owner[slots.mlp_in] = slots.mlp
        for kind, receivers in (("q_input", slots.q), ("k_input", slots.k), ("v_input", slots.v)):
            width = graph.group if kind != "q_input" else 1
            for i, r in enumerate(range(receivers.start, receivers.stop)):
                centre = (i * width + (width - 1) / 2 + 0.5) / graph.n_heads
                receiver_xy[r] = torch.tensor([centre + INPUT_OFFSET[kind] * spacing, y_of(head_row) - 0.18 / rows])
                owner[r] = slots.heads.start + i * width
    logits = torch.tensor([0.5, y_of(rows - 1)])
    receiver_xy[-1] = logits
    return CircuitLayout(sender_xy, receiver_xy, owner, logits, rows)
