import { describe, expect, it } from "vitest";
import { extent, LOG_RATIO, ticks, wantsLog, yScale } from "../lib/chart";
import { placeTooltip } from "../lib/dom";

describe("chart scales", () => {
  it("chooses a log axis only for positive values spanning decades", () => {
    expect(wantsLog([1014, 400, 60, 14])).toBe(true); // L0 over an SAE's training
    expect(wantsLog([7.1, 3, 0.2])).toBe(true); // nmse
    expect(wantsLog([0.9, 0.5, 0.3])).toBe(false);
    expect(wantsLog([0, 5, 500])).toBe(false); // a zero has no logarithm
    expect(wantsLog([1, LOG_RATIO])).toBe(false);
    expect(wantsLog([NaN, 1, 1000])).toBe(true);
  });

  it("gives readable ticks inside the domain, not only min and max", () => {
    const linear = ticks(yScale([0.2, 7.1], false, [100, 0]), 5);
    expect(linear.length).toBeGreaterThanOrEqual(4);
    expect(linear.map((t) => t.label)).toContain("2");
    const log = ticks(yScale([14, 1014], true, [100, 0]), 5);
    expect(log.map((t) => t.value)).toEqual(expect.arrayContaining([100, 1000]));
    expect(log.every((t) => t.label.length <= 5)).toBe(true);
    expect(ticks(yScale([0.2, 7.1], true, [100, 0]), 5).map((t) => t.label)).toEqual(expect.arrayContaining(["0.3", "1", "3"]));
    expect(log.every((t) => t.value >= 14 && t.value <= 1014)).toBe(true); // within the data, not padded to 10,000
    expect(ticks(yScale([0, 2000], false, [100, 0]), 4).map((t) => t.label)).toEqual(["0", "500", "1,000", "1,500", "2,000"]);
  });

  it("widens a flat extent and ignores non-finite values", () => {
    expect(extent([3, 3])).toEqual([2.7, 3.3]);
    expect(extent([0, 0])).toEqual([0, 1]);
    expect(extent([NaN, 2, Infinity, 5])).toEqual([2, 5]);
  });
});

describe("tooltip placement", () => {
  const visible = { left: 0, top: 0, right: 500, bottom: 300 };
  it("sits below and right of the pointer when it fits", () => {
    expect(placeTooltip(100, 100, { width: 80, height: 40 }, visible)).toEqual({ left: 112, top: 112 });
  });
  it("flips above and left near the visible box's bottom and right edges", () => {
    expect(placeTooltip(480, 290, { width: 80, height: 40 }, visible)).toEqual({ left: 388, top: 238 });
  });
});
