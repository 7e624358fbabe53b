// Colour scales. Colours are laid over the theme background with an alpha proportional to
// |value|, so the same scale reads in light and dark themes. The hues are a colour-blind-aware
// blue / orange pair (after ColorBrewer's PuOr and CircuitsVis' defaults).

export const NEGATIVE_RGB: [number, number, number] = [33, 102, 172];
export const POSITIVE_RGB: [number, number, number] = [230, 97, 1];

export type Scale = { kind: "diverging" | "sequential"; min: number; max: number };

/** Choose a scale for the values: diverging around 0 when any value is negative. */
export function chooseScale(values: ArrayLike<number>, kind: string = "auto", min?: number | null, max?: number | null): Scale {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) {
    lo = 0;
    hi = 0;
  }
  const diverging = kind === "diverging" || (kind === "auto" && lo < 0);
  if (diverging) {
    const bound = Math.max(Math.abs(min ?? lo), Math.abs(max ?? hi)) || 1;
    return { kind: "diverging", min: -bound, max: bound };
  }
  const top = max ?? hi;
  return { kind: "sequential", min: min ?? Math.min(0, lo), max: top > (min ?? 0) ? top : (min ?? 0) + 1 };
}

/** Background colour for a value on a scale, as an rgba() string. */
export function colorFor(value: number, scale: Scale): string {
  if (!Number.isFinite(value)) return "rgba(128, 128, 128, 0.35)";
  let rgb = POSITIVE_RGB;
  let strength: number;
  if (scale.kind === "diverging") {
    strength = Math.abs(value) / scale.max;
    if (value < 0) rgb = NEGATIVE_RGB;
  } else {
    strength = (value - scale.min) / (scale.max - scale.min);
  }
  const alpha = Math.min(1, Math.max(0, strength)) * 0.85;
  return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha.toFixed(3)})`;
}

/** CSS gradient for the legend bar. */
export function legendGradient(scale: Scale): string {
  const pos = `rgba(${POSITIVE_RGB.join(", ")}, 0.85)`;
  if (scale.kind === "diverging") {
    return `linear-gradient(to right, rgba(${NEGATIVE_RGB.join(", ")}, 0.85), transparent, ${pos})`;
  }
  return `linear-gradient(to right, transparent, ${pos})`;
}

/** Short number formatting for tooltips and legends. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e4)) return value.toExponential(2);
  return value.toFixed(magnitude >= 100 ? 1 : 3);
}
