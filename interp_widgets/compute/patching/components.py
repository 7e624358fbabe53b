"""What can be patched: one registry row per component (hook, axes, how to patch it, how to label a cell).

A *component* is a family of activations addressed by a *cell*, a tuple of indices along its
axes. Each row of `COMPONENTS` says everything the patching code needs about one of them:

- `hook`: the TransformerLens hook that holds it (`{}` is the layer);
- `axes`: the cell's axes, `layer` first (the views draw `axes[1]` as the columns, and the
  other axes as the rows);
- `write`: how the hook-based engine copies one cell of the source run into one row of a batch;
- `start`: how the fast engine starts a patched run (`engines.NativeEngine`): which
  residual stream the run resumes from, from which position, with the patched value in place;
- `attribution_sum`: the dimensions of `(source - target) * gradient` (`[pos, d]`, or
  `[pos, head, d_head]` at `hook_z`) that attribution patching sums over to reach a cell.

A new component is one row here; the engines, the widget and the front-end (which gets the
rows' names and axes as data) follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from interp_widgets.errors import InterpWidgetsError

Cell = tuple[int, ...]
Start = tuple[str, int, Tensor]  # ("pre" | "post", first changed position, the residual from there on [m, d])


@dataclass(frozen=True)
class Component:
    """One patchable family of activations (see the module's docstring)."""

    name: str
    hook: str
    axes: tuple[str, ...]
    description: str
    write: Callable[[Tensor, int, Cell, Tensor], None]
    start: Callable[[Any, Cell, dict[str, Tensor], dict[str, Tensor]], Start]
    attribution_sum: tuple[int, ...]

    def hook_name(self, layer: int) -> str:
        return self.hook.format(layer)

    def shape(self, n_layers: int, n_pos: int, n_heads: int) -> list[int]:
        """The grid of cells, e.g. `[n_layers, n_pos]`."""
        sizes = {"layer": n_layers, "pos": n_pos, "head": n_heads}
        return [sizes[axis] for axis in self.axes]

    def cells(self, n_layers: int, n_pos: int, n_heads: int) -> list[Cell]:
        """Every cell of the grid, in row-major order."""
        shape = self.shape(n_layers, n_pos, n_heads)
        return [tuple(index) for index in torch.cartesian_prod(*[torch.arange(n) for n in shape]).reshape(-1, len(shape)).tolist()]

    def label(self, cell: Cell) -> str:
        """A cell in words, e.g. "layer 1, pos 4"."""
        return ", ".join(f"{axis} {index}" for axis, index in zip(self.axes, cell))

    def check_cells(self, cells: list[Cell], shape: list[int]) -> None:
        bad = [cell for cell in cells if len(cell) != len(shape) or not all(0 <= i < n for i, n in zip(cell, shape))]
        if bad:
            raise InterpWidgetsError(f"cells {[list(c) for c in bad[:3]]} are outside the {self.name} grid {shape} ({', '.join(self.axes)}).")

    def as_data(self) -> dict[str, Any]:
        """What the front-end needs: the name, the axes, a description."""
        return {"name": self.name, "axes": list(self.axes), "description": self.description}


# ---- how the hook engine writes a cell: activation [batch, pos, d] or [batch, pos, head, d_head] ----

def _write_position(activation: Tensor, row: int, cell: Cell, source: Tensor) -> None:
    activation[row, cell[1]] = source[cell[1]]


def _write_head(activation: Tensor, row: int, cell: Cell, source: Tensor) -> None:
    activation[row, :, cell[1]] = source[:, cell[1]]


def _write_head_at_position(activation: Tensor, row: int, cell: Cell, source: Tensor) -> None:
    activation[row, cell[1], cell[2]] = source[cell[1], cell[2]]


# ---- how the fast engine starts a patched run; s, t: the source's and target's cached layer ----------

def _resumed(t: dict[str, Tensor], stage: str, p: int, first: Tensor) -> Start:
    """The target's residual `stage` from position p on, with position p replaced by `first`."""
    x = t[stage][p:].clone()
    x[0] = first
    return stage, p, x


def _start_resid_pre(engine: Any, cell: Cell, s: dict[str, Tensor], t: dict[str, Tensor]) -> Start:
    return _resumed(t, "pre", cell[1], s["pre"][cell[1]])


def _start_attn_out(engine: Any, cell: Cell, s: dict[str, Tensor], t: dict[str, Tensor]) -> Start:
    layer, p = cell
    return _resumed(t, "post", p, engine.post(layer, t["pre"][p], t["pre"][p] + s["attn_out"][p]))


def _start_mlp_out(engine: Any, cell: Cell, s: dict[str, Tensor], t: dict[str, Tensor]) -> Start:
    return _resumed(t, "post", cell[1], t["mid"][cell[1]] + s["mlp_out"][cell[1]])


def _start_head_out(engine: Any, cell: Cell, s: dict[str, Tensor], t: dict[str, Tensor]) -> Start:
    layer, head = cell
    z = t["z"].clone()
    z[:, head] = s["z"][:, head]
    return "post", 0, engine.post(layer, t["pre"], t["pre"] + engine.attention_from_heads(layer, z))


def _start_head_out_by_pos(engine: Any, cell: Cell, s: dict[str, Tensor], t: dict[str, Tensor]) -> Start:
    layer, p, head = cell
    z = t["z"][p].clone()
    z[head] = s["z"][p, head]
    return _resumed(t, "post", p, engine.post(layer, t["pre"][p], t["pre"][p] + engine.attention_from_heads(layer, z)))


COMPONENTS: dict[str, Component] = {c.name: c for c in [
    Component("resid_pre", "blocks.{}.hook_resid_pre", ("layer", "pos"), "the residual stream entering a block, one position",
              _write_position, _start_resid_pre, (1,)),
    Component("attn_out", "blocks.{}.hook_attn_out", ("layer", "pos"), "a block's attention output, one position",
              _write_position, _start_attn_out, (1,)),
    Component("mlp_out", "blocks.{}.hook_mlp_out", ("layer", "pos"), "a block's MLP output, one position",
              _write_position, _start_mlp_out, (1,)),
    Component("head_out", "blocks.{}.attn.hook_z", ("layer", "head"), "one head's output at every position",
              _write_head, _start_head_out, (0, 2)),
    Component("head_out_by_pos", "blocks.{}.attn.hook_z", ("layer", "pos", "head"), "one head's output at one position",
              _write_head_at_position, _start_head_out_by_pos, (2,)),
]}


def component(name: str) -> Component:
    """The registry row of `name`, or an error listing the components."""
    if name not in COMPONENTS:
        raise InterpWidgetsError(f"component must be one of {sorted(COMPONENTS)}, got {name!r}.")
    return COMPONENTS[name]
