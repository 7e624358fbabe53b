import { describe, expect, it } from "vitest";
import { gridLayout } from "../lib/grid";

describe("gridLayout", () => {
  it("draws [layer, x] maps one row per layer", () => {
    const grid = gridLayout([2, 3]);
    expect(grid.rows).toEqual(["L0", "L1"]);
    expect(grid.columns).toBe(3);
    expect(grid.index(1, 2)).toBe(5);
    expect(grid.cell(1, 2)).toEqual([1, 2]);
  });

  it("draws [layer, pos, head] maps one row per layer and head, in the map's row-major order", () => {
    const grid = gridLayout([2, 3, 4]);
    expect(grid.rows).toHaveLength(8);
    expect(grid.rows.slice(3, 6)).toEqual(["L0H3", "L1H0", "L1H1"]); // not "0.3", which reads like a value
    expect(grid.index(5, 2)).toBe((1 * 3 + 2) * 4 + 1);
    expect(grid.cell(5, 2)).toEqual([1, 2, 1]);
    const seen = new Set<number>();
    for (let r = 0; r < 8; r++) for (let c = 0; c < 3; c++) seen.add(grid.index(r, c));
    expect(seen.size).toBe(24); // every value drawn once
  });
});
