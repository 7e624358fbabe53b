import { describe, expect, it } from "vitest";
import { labelledRows } from "../lib/graph_canvas";

// The graph canvas labels rows ("tokens", "L0".., "logits") on every frame: only the rows on screen,
// so a graph with a huge number of layers costs what the canvas's height costs.
const rowY = (nRows: number, row: number, rowPixels: number, ty: number) => (nRows - 1 - row + 0.5) * rowPixels + ty;

describe("labelledRows", () => {
  it("labels every row of a fitted small graph", () => {
    expect(labelledRows(8, 60, 0, 480)).toEqual({ first: 0, last: 7, step: 1 });
  });

  it("labels only the rows on screen, however many there are", () => {
    const nRows = 2_147_483_647, rowPixels = 40, ty = -rowPixels * (nRows - 20), height = 480;
    const { first, last, step } = labelledRows(nRows, rowPixels, ty, height);
    expect(last - first).toBeLessThan(20);
    for (let row = first; row <= last; row += step) {
      const y = rowY(nRows, row, rowPixels, ty);
      expect(y).toBeGreaterThanOrEqual(-12);
      expect(y).toBeLessThanOrEqual(height + 12);
    }
    expect(rowY(nRows, first - 1, rowPixels, ty)).toBeGreaterThan(height); // the next rows are off screen
    expect(rowY(nRows, last + 1, rowPixels, ty)).toBeLessThan(0);
  });

  it("thins the labels where rows are closer than a label is tall, and draws none off screen", () => {
    const fitted = labelledRows(1_000_000_001, 480 / 1_000_000_001, 0, 480);
    expect((fitted.last - fitted.first) / fitted.step).toBeLessThan(50);
    const below = labelledRows(10, 40, 10_000, 480); // panned far down: every row under the canvas
    expect(below.first).toBeGreaterThan(below.last);
    const broken = labelledRows(10, 40, NaN, 480);
    expect(broken.first).toBeGreaterThan(broken.last);
  });
});
