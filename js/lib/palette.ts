// Every colour a view draws with, in one place. The kernel's twin is interp_widgets/widgets/_colors.py
// (static snapshots and SVG pictures use the same values); tests/unit/widgets/test_palette.py checks
// that the two agree. Theme colours (text, borders, accent) come from JupyterLab's CSS variables in
// lib/style.ts; these are the data colours, the same in every theme unless a dark twin is given.

export type RGB = readonly [number, number, number];

/** Below zero, a suppressed token, an inhibiting edge: blue (a colour-blind-aware pair with orange). */
export const NEGATIVE_RGB: RGB = [33, 102, 172];
/** Above zero, a promoted token, an exciting edge: orange. */
export const POSITIVE_RGB: RGB = [230, 97, 1];
/** The same pair in dark themes: lighter, as legible on black as the pair above on white. */
export const NEGATIVE_RGB_DARK: RGB = [94, 166, 232];
export const POSITIVE_RGB_DARK: RGB = [250, 140, 50];

/** Series of a chart, in order (Okabe & Ito's colour-blind-safe set), readable on light and dark backgrounds. */
export const SERIES = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"];

/** Attribution-graph nodes by kind: token, feature, error, logit (the live view draws tokens and errors in the theme's text colours). */
export const NODE_KINDS = ["#444444", "#1B9E77", "#999999", "#7570B3"];

/** Supernode outlines, one per group in turn (ColorBrewer's Dark2). */
export const GROUPS = ["#1B9E77", "#D95F02", "#7570B3", "#E7298A", "#66A61E", "#E6AB02"];

/** `rgb(r, g, b)` of a palette triple. */
export function rgb(color: RGB): string {
  return `rgb(${color[0]}, ${color[1]}, ${color[2]})`;
}
