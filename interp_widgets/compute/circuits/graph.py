"""The edge graph of a transformer: who writes into the residual stream, who reads from it.

The residual stream is a running sum, so the input of every component is the sum of the outputs
of every component before it (plus constant biases). That makes a graph with one *edge* per
(sender, receiver) pair (Elhage et al. 2021; ACDC, Conmy et al. 2023; EAP, Syed et al. 2023):

- senders (write into the stream): the input (token + position embeddings, whatever enters block 0:
  `blocks.0.hook_resid_pre`), every attention head's output (`hook_z[h] @ W_O[h]`; through the
  block's post-norm at that norm's scale, where there is one: `runs.py`) and every MLP's output
  (`hook_mlp_out`);
- receivers (read from the stream): every head's query, key and value input, every MLP's input,
  and the logits (the final `hook_resid_post`).

An edge runs from every sender to every later receiver. A head's q/k/v inputs read the stream
before its layer; an MLP reads it after its own layer's heads, except in parallel-attention
models (GPT-J, Pythia) where it reads the same stream the heads read. Grouped-query attention:
a key/value head shared by a group of query heads is one `k_input` and one `v_input` receiver
(`head` = the key/value head's index, 0 .. n_key_value_heads - 1): it receives its input once,
and an edge into it scores the effect through every query head of its group together.

Node names and kinds are transformer-lens 4.3's (`tools/analysis/attribution_patching.Node`):
`embed`, `attn_head_out`, `mlp_out` (senders), `q_input`, `k_input`, `v_input`, `mlp_in`,
`logits` (receivers; `logits` has layer n_layers - 1). `position` is None for an edge summed over
positions. Shapes: S senders, R receivers; `valid` is `[S, R]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from interp_widgets.errors import InterpWidgetsError

SENDER_KINDS = ("embed", "attn_head_out", "mlp_out")
RECEIVER_KINDS = ("q_input", "k_input", "v_input", "mlp_in", "logits")


@dataclass(frozen=True)
class Node:
    """One sender or receiver, named as in transformer-lens 4.3's `attribution_patch`."""

    kind: str
    layer: int | None = None
    head: int | None = None
    position: int | None = None

    @property
    def name(self) -> str:
        """A short label: `embed`, `a1.h3`, `a1.h3.q`, `a1.kv0.k`, `m2`, `m2.in`, `logits` (`@p` for one position)."""
        base = {
            "embed": "embed", "logits": "logits",
            "attn_head_out": f"a{self.layer}.h{self.head}", "mlp_out": f"m{self.layer}", "mlp_in": f"m{self.layer}.in",
        }.get(self.kind)
        if base is None:
            base = f"a{self.layer}.h{self.head}.{self.kind[0]}"
        return base if self.position is None else f"{base}@{self.position}"

    def at(self, position: int | None) -> "Node":
        return Node(self.kind, self.layer, self.head, position)

    def to_transformer_lens(self, position: int) -> Any:
        """The same node as transformer-lens 4.3's `Node` (which always names a position)."""
        from transformer_lens.tools.analysis.attribution_patching import Node as TLNode

        return TLNode(kind=self.kind, position=position, layer=self.layer, head=self.head)

    @classmethod
    def of(cls, node: Any) -> "Node":
        """Ours from ours or from transformer-lens' `Node` (anything with kind / layer / head / position)."""
        if isinstance(node, cls):
            return node
        try:
            return cls(node.kind, node.layer, node.head, getattr(node, "position", None))
        except AttributeError:
            raise InterpWidgetsError(f"{node!r} is not a graph node: give a Node (kind, layer, head, position).") from None


@dataclass(frozen=True)
class LayerSlots:
    """Where one layer's senders and receivers sit in the sender and receiver lists."""

    heads: slice        # senders: this layer's heads
    mlp: int | None     # senders: this layer's MLP (None: attention-only)
    q: slice            # receivers
    k: slice
    v: slice
    mlp_in: int | None  # receivers


@dataclass(eq=False)
class EdgeGraph:
    """Senders, receivers and which (sender, receiver) pairs are edges, for one model.

    `layers[l]` says where layer l's nodes are; `valid[s, r]` is True where sender s is computed
    before receiver r reads the stream (senders are in computation order, so each receiver reads a
    prefix of them: `reads[r]` senders).
    """

    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    parallel: bool
    has_mlp: bool
    senders: list[Node]
    receivers: list[Node]
    layers: list[LayerSlots]
    reads: Tensor  # [R] number of senders each receiver reads
    _index: dict[Node, tuple[str, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {**{n: ("s", i) for i, n in enumerate(self.senders)}, **{n: ("r", i) for i, n in enumerate(self.receivers)}}

    @cached_property
    def valid(self) -> Tensor:
        return torch.arange(len(self.senders))[:, None] < self.reads[None, :]

    @property
    def n_edges(self) -> int:
        return int(self.valid.sum())

    @property
    def group(self) -> int:
        """Query heads per key/value head."""
        return self.n_heads // self.n_kv_heads

    def sender_index(self, node: Any) -> int:
        kind, index = self._index.get(Node.of(node).at(None), ("", -1))
        if kind != "s":
            raise InterpWidgetsError(f"{Node.of(node).name} is not a sender of this graph: senders are embed, a<layer>.h<head>, m<layer>.")
        return index

    def receiver_index(self, node: Any) -> int:
        kind, index = self._index.get(Node.of(node).at(None), ("", -1))
        if kind != "r":
            raise InterpWidgetsError(f"{Node.of(node).name} is not a receiver of this graph: receivers are q/k/v inputs, m<layer>.in, logits.")
        return index

    def edge_index(self, sender: Any, receiver: Any) -> tuple[int, int]:
        s, r = self.sender_index(sender), self.receiver_index(receiver)
        if not self.valid[s, r]:
            raise InterpWidgetsError(f"{self.senders[s].name} -> {self.receivers[r].name} is not an edge: the sender is not computed "
                                     "before the receiver reads the residual stream.")
        return s, r

    def edge_mask(self, edges: Any) -> Tensor:
        """`[S, R]` bool from (sender, receiver) pairs (ours or transformer-lens' nodes, or (s, r) indices)."""
        mask = torch.zeros(len(self.senders), len(self.receivers), dtype=torch.bool)
        for edge in edges:
            sender, receiver = edge[0], edge[1]
            s, r = (sender, receiver) if isinstance(sender, int) else self.edge_index(sender, receiver)
            mask[s, r] = True
        return mask & self.valid

    def edge_list(self, mask: Tensor | None = None) -> list[tuple[Node, Node]]:
        pairs = (self.valid if mask is None else mask & self.valid).nonzero().tolist()
        return [(self.senders[s], self.receivers[r]) for s, r in pairs]

    def receiver_component(self, r: int) -> list[int]:
        """Sender indices of the component a receiver belongs to (its head, its KV group's heads, its MLP); [] for logits."""
        node = self.receivers[r]
        slots = self.layers[node.layer] if node.kind != "logits" else None
        if node.kind == "q_input":
            return [slots.heads.start + node.head]
        if node.kind in ("k_input", "v_input"):
            return list(range(slots.heads.start + node.head * self.group, slots.heads.start + (node.head + 1) * self.group))
        if node.kind == "mlp_in":
            return [slots.mlp]
        return []


def edge_graph(model: Any) -> EdgeGraph:
    """The edge graph of a TransformerLens model (TransformerBridge), or an error saying why not."""
    cfg = model.cfg
    for name in ("n_layers", "n_heads", "d_model"):
        if not hasattr(cfg, name):
            raise InterpWidgetsError(f"this model's config has no {name}: circuit discovery needs a TransformerLens model (TransformerBridge).")
    n_layers, n_heads, d_model = int(cfg.n_layers), int(cfg.n_heads), int(cfg.d_model)
    n_kv = int(getattr(cfg, "n_key_value_heads", None) or n_heads)
    if n_heads % n_kv:
        raise InterpWidgetsError(f"{n_heads} query heads do not split into groups of {n_kv} key/value heads.")
    blocks = list(getattr(model, "blocks", []))
    if len(blocks) != n_layers or any(not hasattr(b, "attn") for b in blocks):
        raise InterpWidgetsError("circuit discovery needs a transformer whose every block has attention (blocks.<l>.attn); "
                                 "this model's blocks differ (a state-space or hybrid model?).")
    has_mlp = not bool(getattr(cfg, "attn_only", False)) and all(hasattr(b, "mlp") for b in blocks)
    parallel = bool(getattr(cfg, "parallel_attn_mlp", False))
    senders, receivers, layers, reads = [Node("embed")], [], [], []
    for layer in range(n_layers):
        head_start = len(senders)
        senders += [Node("attn_head_out", layer, h) for h in range(n_heads)]
        mlp = None
        if has_mlp:
            mlp = len(senders)
            senders.append(Node("mlp_out", layer))
        q0 = len(receivers)
        receivers += [Node("q_input", layer, h) for h in range(n_heads)]
        receivers += [Node("k_input", layer, h) for h in range(n_kv)]
        receivers += [Node("v_input", layer, h) for h in range(n_kv)]
        reads += [head_start] * (n_heads + 2 * n_kv)
        mlp_in = None
        if has_mlp:
            mlp_in = len(receivers)
            receivers.append(Node("mlp_in", layer))
            reads.append(head_start if parallel else head_start + n_heads)
        k0, v0 = q0 + n_heads, q0 + n_heads + n_kv
        layers.append(LayerSlots(slice(head_start, head_start + n_heads), mlp, slice(q0, k0), slice(k0, v0), slice(v0, v0 + n_kv), mlp_in))
    receivers.append(Node("logits", n_layers - 1))
    reads.append(len(senders))
    return EdgeGraph(n_layers, n_heads, n_kv, d_model, parallel, has_mlp, senders, receivers, layers, torch.tensor(reads))
