// Colour scales. Colours are laid over the theme background with an opacity proportional to
// |value|, so the same scale reads in light and dark themes. The hues are a colour-blind-aware
// blue / orange pair (after ColorBrewer's PuOr and CircuitsVis' defaults), taken from CSS
// variables that the stylesheet lightens in dark themes (a navy blue on a dark background is
// barely visible); `color-mix` lays them over the background.

export const MAX_OPACITY = 0.85;

export type Scale = { kind: "diverging" | "sequential"; min: number; max: number };

/** Smallest and largest finite value, or null when there is none. */
export function finiteRange(values: ArrayLike<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? null : [lo, hi];
}

/** Choose a scale for the values: diverging around 0 when any value is negative. */
export function chooseScale(values: ArrayLike<number>, kind: string = "auto", min?: number | null, max?: number | null): Scale {
  const [lo, hi] = finiteRange(values) ?? [0, 0];
  const diverging = kind === "diverging" || (kind === "auto" && lo < 0);
  if (diverging) {
    const bound = Math.max(Math.abs(min ?? lo), Math.abs(max ?? hi)) || 1;
    return { kind: "diverging", min: -bound, max: bound };
  }
  const top = max ?? hi;
  return { kind: "sequential", min: min ?? Math.min(0, lo), max: top > (min ?? 0) ? top : (min ?? 0) + 1 };
}

/** Signed strength in [-1, 1] of a value on a scale (negative: the negative hue); NaN for a missing value. */
export function strength(value: number, scale: Scale): number {
  if (!Number.isFinite(value)) return NaN;
  const raw = scale.kind === "diverging" ? value / scale.max : (value - scale.min) / (scale.max - scale.min);
  return Math.min(1, Math.max(-1, raw));
}

function hue(signed: number, opacity: number): string {
  const variable = signed < 0 ? "--iw-negative" : "--iw-positive";
  return `color-mix(in srgb, var(${variable}) ${(opacity * 100).toFixed(1)}%, transparent)`;
}

/** Background colour for a value on a scale, as a CSS colour that follows the theme. */
export function colorFor(value: number, scale: Scale): string {
  const signed = strength(value, scale);
  if (Number.isNaN(signed)) return "rgba(128, 128, 128, 0.35)";
  return hue(signed, Math.abs(signed) * MAX_OPACITY);
}

/** Colour steps per sign for `colorClass` (fine enough that neighbouring steps look the same). */
export const CLASS_LEVELS = 32;

/**
 * A class name for a value's colour, quantised to `CLASS_LEVELS` steps per sign ("iw-c-p12",
 * "iw-c-n3", "iw-c-0", "iw-c-nan"). Thousands of tokens recolour much faster by class than by
 * inline colour strings, which the browser parses one by one; `colorClassRules` defines them.
 */
export function colorClass(value: number, scale: Scale): string {
  const signed = strength(value, scale);
  if (Number.isNaN(signed)) return "iw-c-nan";
  const step = Math.round(Math.abs(signed) * CLASS_LEVELS);
  return step === 0 ? "iw-c-0" : `iw-c-${signed < 0 ? "n" : "p"}${step}`;
}

/** The stylesheet rules behind `colorClass`. */
export function colorClassRules(): string {
  const rules = [".iw-c-nan { background-color: rgba(128, 128, 128, 0.35); }"];
  for (let step = 1; step <= CLASS_LEVELS; step++) {
    const opacity = (step / CLASS_LEVELS) * MAX_OPACITY;
    rules.push(`.iw-c-p${step} { background-color: ${hue(1, opacity)}; }`, `.iw-c-n${step} { background-color: ${hue(-1, opacity)}; }`);
  }
  return rules.join("\n");
}

/** CSS gradient for the legend bar. */
export function legendGradient(scale: Scale): string {
  const positive = hue(1, MAX_OPACITY);
  if (scale.kind === "diverging") return `linear-gradient(to right, ${hue(-1, MAX_OPACITY)}, transparent, ${positive})`;
  return `linear-gradient(to right, transparent, ${positive})`;
}

/** What the colours mean, for the legend: the scale's kind and whether all series share it. */
export function scaleCaption(scale: Scale, shared: boolean): string {
  const kind = scale.kind === "diverging" ? "diverging around 0: blue below, orange above" : "sequential: orange = high";
  return `(${kind}; ${shared ? "one scale for all series" : "scale of this series"})`;
}

/** Short number formatting for tooltips and legends. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e4)) return value.toExponential(2);
  return value.toFixed(magnitude >= 100 ? 1 : 3);
}
