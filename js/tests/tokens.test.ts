import { describe, expect, it } from "vitest";
import { CLASS_LEVELS, chooseScale, colorClass, colorClassRules, colorFor, formatValue } from "../lib/colors";
import { endsLine, oneLine, visibleToken } from "../lib/tokens";

describe("oneLine", () => {
  it("keeps a tooltip line or a path one line: newline and control characters shown, spaces kept", () => {
    expect(oneLine("a b\nc")).toBe("a b\u21b5c");
    expect(oneLine("x\u0018y\u007f")).toBe("x\u2418y\u2421");
    expect(oneLine("\tinfluence")).toBe("\u2192influence");
  });
});

describe("visibleToken", () => {
  it("makes spaces, newlines and tabs visible", () => {
    expect(visibleToken(" the")).toBe("\u00b7the");
    expect(visibleToken("\n\n")).toBe("\u21b5\u21b5");
    expect(visibleToken("\tx")).toBe("\u2192x");
  });
  it("escapes other control characters and marks empty tokens", () => {
    expect(visibleToken("a\u0000b\u001b")).toBe("a\\x00b\\x1b");
    expect(visibleToken("")).toBe("\u2205");
  });
  it("leaves markup as literal characters (it is inserted as text, never parsed)", () => {
    expect(visibleToken("<img src=x onerror=alert(1)>")).toBe("<img\u00b7src=x\u00b7onerror=alert(1)>");
  });
  it("knows which tokens end a line", () => {
    expect(endsLine("a\n")).toBe(true);
    expect(endsLine("a")).toBe(false);
  });
});

describe("colour scale", () => {
  it("is diverging and symmetric when a value is negative", () => {
    expect(chooseScale([-1, 0.5])).toEqual({ kind: "diverging", min: -1, max: 1 });
  });
  it("is sequential from zero for non-negative values", () => {
    expect(chooseScale([0.5, 2])).toEqual({ kind: "sequential", min: 0, max: 2 });
  });
  it("honours explicit bounds", () => {
    expect(chooseScale([0.5, 2], "auto", 0, 10)).toEqual({ kind: "sequential", min: 0, max: 10 });
  });
  it("maps the sign to the hue and the magnitude to alpha", () => {
    const scale = chooseScale([-2, 2]);
    expect(colorFor(2, scale)).toBe("color-mix(in srgb, var(--iw-positive) 85.0%, transparent)");
    expect(colorFor(-1, scale)).toBe("color-mix(in srgb, var(--iw-negative) 42.5%, transparent)");
    expect(colorFor(0, scale)).toBe("color-mix(in srgb, var(--iw-positive) 0.0%, transparent)");
    expect(colorFor(NaN, scale)).toBe("rgba(128, 128, 128, 0.35)");
  });
  it("formats numbers like the kernel's snapshot", () => {
    expect(formatValue(0.12345)).toBe("0.123");
    expect(formatValue(123.45)).toBe("123.5");
    expect(formatValue(0.00001234)).toBe("1.23e-5");
    expect(formatValue(300)).toBe("300");
    expect(formatValue(-2)).toBe("-2");
  });
});

describe("colour classes", () => {
  it("quantise a value to a step per sign, with a rule for every class", () => {
    const scale = chooseScale([-2, 4]);
    expect(colorClass(4, scale)).toBe(`iw-c-p${CLASS_LEVELS}`);
    expect(colorClass(-4, scale)).toBe(`iw-c-n${CLASS_LEVELS}`);
    expect(colorClass(1, scale)).toBe(`iw-c-p${CLASS_LEVELS / 4}`);
    expect(colorClass(0, scale)).toBe("iw-c-0");
    expect(colorClass(Number.NaN, scale)).toBe("iw-c-nan");
    const rules = colorClassRules();
    for (const name of [colorClass(4, scale), colorClass(-1, scale), "iw-c-nan"]) expect(rules).toContain(`.${name} {`);
  });
});
