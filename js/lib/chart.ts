// Small SVG charts (lines and bars). Labels are set with textContent; nothing is parsed as markup.
import { formatValue } from "./colors";

const SVG = "http://www.w3.org/2000/svg";
export const PALETTE = ["#1f77b4", "#e6550d", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"];

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function label(text: string, attributes: Record<string, string | number>): SVGTextElement {
  const node = svg("text", { fill: "currentColor", "font-size": 10, ...attributes });
  node.textContent = text;
  return node;
}

export type Frame = { width: number; height: number; left: number; right: number; top: number; bottom: number };
const FRAME: Frame = { width: 300, height: 170, left: 42, right: 10, top: 18, bottom: 24 };

/** Nice extent of finite values, padded when flat. */
export function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi && lo === 0) return [0, 1];
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 1;
    hi += Math.abs(hi) * 0.1 || 1;
  }
  return [lo, hi];
}

function axes(root: SVGSVGElement, frame: Frame, title: string, xRange: [number, number], yRange: [number, number]) {
  const { left, right, top, bottom, width, height } = frame;
  root.append(
    svg("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom, stroke: "currentColor", "stroke-opacity": 0.4 }),
    svg("line", { x1: left, x2: left, y1: top, y2: height - bottom, stroke: "currentColor", "stroke-opacity": 0.4 }),
    label(title, { x: left, y: 12, "font-weight": 600 }),
    label(formatValue(yRange[1]), { x: left - 4, y: top + 8, "text-anchor": "end" }),
    label(formatValue(yRange[0]), { x: left - 4, y: height - bottom, "text-anchor": "end" }),
    label(formatValue(xRange[0]), { x: left, y: height - 8 }),
    label(formatValue(xRange[1]), { x: width - right, y: height - 8, "text-anchor": "end" }),
  );
}

/** One line per series over shared x values. */
export function lineChart(title: string, xs: number[], series: number[][], names: string[]): SVGSVGElement {
  const frame = FRAME;
  const root = svg("svg", { viewBox: `0 0 ${frame.width} ${frame.height}`, width: frame.width, height: frame.height, role: "img" });
  root.setAttribute("aria-label", title);
  const xRange = extent(xs);
  const yRange = extent(series.flat());
  axes(root, frame, title, xRange, yRange);
  const sx = (x: number) => frame.left + ((x - xRange[0]) / (xRange[1] - xRange[0])) * (frame.width - frame.left - frame.right);
  const sy = (y: number) => frame.height - frame.bottom - ((y - yRange[0]) / (yRange[1] - yRange[0])) * (frame.height - frame.top - frame.bottom);
  series.forEach((ys, index) => {
    const points = ys.map((y, i) => (Number.isFinite(y) ? `${sx(xs[i]).toFixed(1)},${sy(y).toFixed(1)}` : "")).filter(Boolean);
    const line = svg("polyline", { points: points.join(" "), fill: "none", stroke: PALETTE[index % PALETTE.length], "stroke-width": 1.5 });
    const tip = svg("title");
    tip.textContent = `${names[index] ?? `series ${index}`}: ${formatValue(ys[ys.length - 1])}`;
    line.appendChild(tip);
    root.appendChild(line);
  });
  return root;
}

/** Bars over bin edges, with an optional vertical marker (e.g. the mean). */
export function barChart(title: string, counts: number[], edges: number[], marker?: { value: number; label: string }): SVGSVGElement {
  const frame = { ...FRAME, width: 420 };
  const root = svg("svg", { viewBox: `0 0 ${frame.width} ${frame.height}`, width: frame.width, height: frame.height, role: "img" });
  root.setAttribute("aria-label", title);
  const xRange: [number, number] = [edges[0], edges[edges.length - 1]];
  const yRange: [number, number] = [0, Math.max(1, ...counts)];
  axes(root, frame, title, xRange, yRange);
  const sx = (x: number) => frame.left + ((x - xRange[0]) / (xRange[1] - xRange[0])) * (frame.width - frame.left - frame.right);
  const sy = (y: number) => frame.height - frame.bottom - (y / yRange[1]) * (frame.height - frame.top - frame.bottom);
  counts.forEach((count, i) => {
    const bar = svg("rect", {
      x: sx(edges[i]) + 0.5, y: sy(count), width: Math.max(0.5, sx(edges[i + 1]) - sx(edges[i]) - 1),
      height: sy(0) - sy(count), fill: PALETTE[0], class: "iw-bar",
    });
    const tip = svg("title");
    tip.textContent = `${formatValue(edges[i])} to ${formatValue(edges[i + 1])}: ${count}`;
    bar.appendChild(tip);
    root.appendChild(bar);
  });
  if (marker) {
    const x = sx(marker.value);
    root.append(
      svg("line", { x1: x, x2: x, y1: frame.top, y2: frame.height - frame.bottom, stroke: PALETTE[1], "stroke-dasharray": "4 2" }),
      label(marker.label, { x: x - 4, y: frame.top + 10, "text-anchor": "end", fill: PALETTE[1] }),
    );
  }
  return root;
}
