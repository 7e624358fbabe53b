// The layout of a map over a component's cells, from its shape alone: `axes[1]` is the columns and
// the other axes make the rows (`L3` for [layer, x]; `L3H1` for layer 3 and head 1 of
// [layer, x, head], `L3 <axis> 1` for another inner axis; "3.1" read like a value). The kernel sends the component's axes as data (compute/patching/components.py),
// so a new component needs no code here.

export interface GridLayout {
  /** Row labels, top to bottom. */
  rows: string[];
  /** How many columns (`shape[1]`). */
  columns: number;
  /** The flat (row-major) index into the map of row r, column c. */
  index(r: number, c: number): number;
  /** The cell (one index per axis) at row r, column c. */
  cell(r: number, c: number): number[];
}

export function gridLayout(shape: number[], axes: string[] = []): GridLayout {
  const [layers, columns] = shape;
  const inner = shape.length > 2 ? shape[2] : 1;
  const split = (r: number) => [Math.floor(r / inner), r % inner];
  const innerName = axes[2] ?? "head";
  const label = (r: number) => {
    const [layer, x] = split(r);
    return innerName === "head" ? `L${layer}H${x}` : `L${layer} ${innerName} ${x}`;
  };
  return {
    rows: Array.from({ length: layers * inner }, (_, r) => (shape.length > 2 ? label(r) : `L${r}`)),
    columns,
    index: (r, c) => (split(r)[0] * columns + c) * inner + split(r)[1],
    cell: (r, c) => (shape.length > 2 ? [split(r)[0], c, split(r)[1]] : [r, c]),
  };
}
