// Small SVG charts (lines and bars) with labelled axes, d3's "nice" ticks and number formats, a
// log scale where values span decades, and a hover read-out drawn beside the chart, never over the
// data. Labels are set with textContent; nothing is parsed as markup.
import { bisectCenter } from "d3-array";
import { format } from "d3-format";
import { scaleLinear, scaleLog, type ScaleContinuousNumeric } from "d3-scale";
import { element } from "./dom";
import { finiteRange, formatValue } from "./colors";
import { lineKey, type KeyEntry } from "./legend";
import { SERIES } from "./palette";

const SVG = "http://www.w3.org/2000/svg"; // the SVG namespace name (an identifier, never fetched)
/** Colour-blind-safe categorical colours for series (lib/palette.ts). */
export const PALETTE = SERIES;

export type Frame = { width: number; height: number; left: number; right: number; top: number; bottom: number };
const FRAME: Frame = { width: 330, height: 190, left: 52, right: 22, top: 10, bottom: 38 };
/** Values spanning more than this ratio (all positive) get a log scale by default. */
export const LOG_RATIO = 20;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function text(content: string, attributes: Record<string, string | number>): SVGTextElement {
  const node = svg("text", { fill: "currentColor", "font-size": 10, ...attributes });
  node.textContent = content;
  return node;
}

/** Finite extent of values, widened when flat. */
export function extent(values: ArrayLike<number>): [number, number] {
  const range = finiteRange(values);
  if (range === null) return [0, 1];
  const [lo, hi] = range;
  if (lo === hi) return lo === 0 ? [0, 1] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
  return [lo, hi];
}

/** Whether values call for a log axis: all positive and spanning more than `LOG_RATIO`. */
export function wantsLog(values: ArrayLike<number>): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v <= 0) return false;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo !== Infinity && hi / lo > LOG_RATIO;
}

/** A y scale over `domain` on [bottom, top] pixels: log (over the data's own range) or linear with nice ends. */
export function yScale(domain: [number, number], log: boolean, range: [number, number]): ScaleContinuousNumeric<number, number> {
  return log ? scaleLog().domain(domain).range(range) : scaleLinear().domain(domain).range(range).nice();
}

/** Tick values and their labels (d3's formats: "1,500" and "0.3", never "300m"; log axes label what fits). */
export function ticks(scale: ScaleContinuousNumeric<number, number>, count: number): { value: number; label: string }[] {
  const label = "base" in scale ? scale.tickFormat(count, ",~r") : scale.tickFormat(count);
  return scale.ticks(count).map((value) => ({ value, label: label(value) })).filter((tick) => tick.label !== "");
}

function axes(
  root: SVGSVGElement,
  frame: Frame,
  x: ScaleContinuousNumeric<number, number>,
  y: ScaleContinuousNumeric<number, number>,
  labels: { x: string; y: string },
) {
  const { left, right, top, bottom, width, height } = frame;
  const base = height - bottom;
  const grid = svg("g", { class: "iw-axis", "stroke-opacity": 0.15 });
  for (const tick of ticks(y, 5)) {
    const py = y(tick.value);
    grid.append(
      svg("line", { x1: left, x2: width - right, y1: py, y2: py, stroke: "currentColor" }),
      text(tick.label, { x: left - 4, y: py + 3, "text-anchor": "end", "fill-opacity": 0.8 }),
    );
  }
  for (const tick of ticks(x, Math.max(2, Math.floor((width - left - right) / 60)))) {
    const px = x(tick.value);
    grid.append(
      svg("line", { x1: px, x2: px, y1: base, y2: base + 4, stroke: "currentColor", "stroke-opacity": 0.6 }),
      text(tick.label, { x: px, y: base + 14, "text-anchor": "middle", "fill-opacity": 0.8 }),
    );
  }
  root.append(
    grid,
    svg("line", { x1: left, x2: width - right, y1: base, y2: base, stroke: "currentColor", "stroke-opacity": 0.5 }),
    svg("line", { x1: left, x2: left, y1: top, y2: base, stroke: "currentColor", "stroke-opacity": 0.5 }),
    text(labels.x, { x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle", class: "iw-axis-label" }),
    text(labels.y, { x: -(top + base) / 2, y: 11, transform: "rotate(-90)", "text-anchor": "middle", class: "iw-axis-label" }),
  );
}

function frameSvg(frame: Frame, title: string): SVGSVGElement {
  const root = svg("svg", { viewBox: `0 0 ${frame.width} ${frame.height}`, width: frame.width, height: frame.height, role: "img" });
  root.setAttribute("aria-label", title);
  return root;
}

function chartBox(title: string): { box: HTMLDivElement; heading: HTMLDivElement; readout: HTMLDivElement } {
  const box = element("div", "iw-chart");
  const heading = element("div", "iw-chart-title", title);
  const readout = element("div", "iw-readout", "\u00a0");
  readout.setAttribute("aria-live", "polite");
  box.append(heading);
  return { box, heading, readout };
}

export type LineStyle = { color?: string; dash?: string; opacity?: number; width?: number };

export type LineChartOptions = {
  title: string;
  xLabel: string;
  yLabel: string;
  names: string[];
  log?: boolean;
  /** Per-series line style (default: the palette, solid). */
  styles?: LineStyle[];
  /** Words for the x value at index i in the read-out (default: the x value). */
  xName?: (index: number) => string;
  /** Series left out of the read-out (e.g. fitted curves). */
  quiet?: boolean[];
  width?: number;
  /** The line key under the chart: by default one entry per series not `quiet`, named and styled as drawn. */
  key?: KeyEntry[];
};

/** One line per series over shared x values; hover reads every series at the nearest x. */
export function lineChart(xs: number[], series: number[][], options: LineChartOptions): HTMLDivElement {
  const { box, heading, readout } = chartBox(options.title);
  let log = options.log ?? wantsLog(series.flat());
  const toggle = element("button", "iw-button iw-scale-toggle");
  toggle.type = "button";
  heading.append(toggle);
  const frame = { ...FRAME, width: options.width ?? FRAME.width };
  const holder = element("div");
  const entries = options.key ?? series.flatMap((_, index) => {
    if (options.quiet?.[index]) return [];
    const style = options.styles?.[index] ?? {};
    return [{ label: options.names[index] ?? `series ${index}`, color: style.color ?? PALETTE[index % PALETTE.length],
      dash: style.dash, opacity: style.opacity, width: style.width }];
  });
  box.append(holder);
  if (entries.length > 0) box.append(lineKey(entries));
  box.append(readout);

  function draw() {
    toggle.textContent = log ? "log scale" : "linear scale";
    toggle.title = `y axis on a ${log ? "log" : "linear"} scale; click for ${log ? "linear" : "log"}`;
    toggle.disabled = !log && !series.flat().every((v) => !Number.isFinite(v) || v > 0);
    const root = frameSvg(frame, options.title);
    const x = scaleLinear().domain(extent(xs)).range([frame.left, frame.width - frame.right]);
    const y = yScale(extent(series.flat()), log, [frame.height - frame.bottom, frame.top]);
    axes(root, frame, x, y, { x: options.xLabel, y: options.yLabel });
    series.forEach((ys, index) => {
      const style = options.styles?.[index] ?? {};
      const points = ys.map((v, i) => (Number.isFinite(v) && (!log || v > 0) ? `${x(xs[i]).toFixed(1)},${y(v).toFixed(1)}` : "")).filter(Boolean);
      const line = svg("polyline", {
        points: points.join(" "), fill: "none", stroke: style.color ?? PALETTE[index % PALETTE.length],
        "stroke-width": style.width ?? 1.5, "stroke-opacity": style.opacity ?? 1, class: "iw-line",
      });
      if (style.dash) line.setAttribute("stroke-dasharray", style.dash);
      root.append(line);
    });
    const rule = svg("line", { y1: frame.top, y2: frame.height - frame.bottom, stroke: "currentColor", "stroke-opacity": 0.5, visibility: "hidden" });
    const hit = svg("rect", { x: frame.left, y: frame.top, width: frame.width - frame.left - frame.right, height: frame.height - frame.top - frame.bottom, fill: "transparent", class: "iw-hit" });
    hit.addEventListener("mousemove", (event) => {
      const bounds = root.getBoundingClientRect();
      const px = ((event.clientX - bounds.left) / bounds.width) * frame.width;
      const i = bisectCenter(xs, x.invert(px));
      if (i < 0 || i >= xs.length) return;
      rule.setAttribute("x1", String(x(xs[i])));
      rule.setAttribute("x2", String(x(xs[i])));
      rule.setAttribute("visibility", "visible");
      const where = options.xName ? options.xName(i) : `${options.xLabel} ${formatValue(xs[i])}`;
      readout.textContent = `${where}: ` + series
        .map((ys, s) => (options.quiet?.[s] ? "" : `${options.names[s] ?? `series ${s}`} ${formatValue(ys[i])}`))
        .filter(Boolean).join(" \u00b7 ");
    });
    hit.addEventListener("mouseleave", () => {
      rule.setAttribute("visibility", "hidden");
      readout.textContent = "\u00a0";
    });
    root.append(rule, hit);
    holder.replaceChildren(root);
  }
  toggle.addEventListener("click", () => {
    log = !log;
    draw();
  });
  draw();
  return box;
}

export type BarChartOptions = {
  title: string;
  xLabel: string;
  yLabel: string;
  marker?: { value: number; label: string };
  /** Words for one bar in the read-out, e.g. "features". */
  unit?: string;
};

/** Bars over bin edges `[n + 1]`, with an optional marked value (e.g. the mean) named above the plot. */
export function barChart(counts: number[], edges: number[], options: BarChartOptions): HTMLDivElement {
  const { box, heading, readout } = chartBox(options.title);
  const frame = { ...FRAME, width: 440, top: 22 };
  const root = frameSvg(frame, options.title);
  const x = scaleLinear().domain([edges[0], edges[edges.length - 1]]).range([frame.left, frame.width - frame.right]);
  const y = yScale([0, Math.max(1, ...counts)], false, [frame.height - frame.bottom, frame.top]);
  axes(root, frame, x, y, { x: options.xLabel, y: options.yLabel });
  const integer = format(",d");
  counts.forEach((count, i) => {
    const bar = svg("rect", {
      x: x(edges[i]) + 0.5, y: y(count), width: Math.max(0.5, x(edges[i + 1]) - x(edges[i]) - 1),
      height: Math.max(0, y(0) - y(count)), fill: PALETTE[0], class: "iw-bar",
    });
    bar.addEventListener("mouseenter", () => {
      bar.setAttribute("fill", PALETTE[4]);
      readout.textContent = `${formatValue(edges[i])} to ${formatValue(edges[i + 1])}: ${integer(count)} ${options.unit ?? ""}`.trim();
    });
    bar.addEventListener("mouseleave", () => {
      bar.setAttribute("fill", PALETTE[0]);
      readout.textContent = "\u00a0";
    });
    root.appendChild(bar);
  });
  if (options.marker) {
    // The marker's line crosses the bars; its label sits in the top margin, clear of them.
    const px = x(options.marker.value);
    const anchor = px > (frame.left + frame.width - frame.right) / 2 ? "end" : "start";
    root.append(
      svg("line", { x1: px, x2: px, y1: frame.top - 4, y2: frame.height - frame.bottom, stroke: PALETTE[1], "stroke-width": 1.5, "stroke-dasharray": "4 2" }),
      text(options.marker.label, { x: px + (anchor === "end" ? -3 : 3), y: frame.top - 8, "text-anchor": anchor, fill: PALETTE[1], class: "iw-marker-label" }),
    );
  }
  box.append(root, readout);
  return box;
}
