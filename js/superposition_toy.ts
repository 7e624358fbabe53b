// The toy model of superposition, trained live in the kernel: sliders for the number of features and
// dimensions, the feature probability (log scale) and the importance decay; each change is a `set`
// request, and the picture redraws at every training snapshot the kernel sends. The picture is the
// feature directions (m = 2; a line for m = 1) or Wᵀ W (m > 2), with each feature's norm as a bar
// coloured by its superposition; beside it the training trajectory, the MCS histogram between the
// two best seeds and, on request, the phase diagram.
import { toNumbers, toRows, type WireArray } from "./lib/codec";
import { barChart, lineChart, PALETTE } from "./lib/chart";
import { formatValue } from "./lib/colors";
import { element, svg } from "./lib/dom";
import { ask, frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";

interface State {
  n_features: number;
  n_hidden: number;
  feature_probability: number;
  importance_decay: number;
  W: WireArray;
  bias: WireArray;
  importance: WireArray;
  norms: WireArray;
  superposition: WireArray;
  gram: WireArray;
  loss: number;
  seed_losses: number[];
  step: number;
  trajectory_steps: WireArray;
  trajectory_loss: WireArray;
  trajectory_dims: WireArray;
  mcs_counts: WireArray;
  mcs_edges: WireArray;
  mcs_mean: number | null;
  phase: WireArray;
  phase_probabilities: number[];
  phase_importances: number[];
  phase_names: string[];
  progress: string;
  title: string;
}

const PHASE_COLORS = [PALETTE[7], PALETTE[0], PALETTE[1]]; // grey, blue, orange

/** A labelled range input; `commit` runs when the user lets go. */
function slider(label: string, min: number, max: number, step: number, show: (v: number) => string, commit: (v: number) => void) {
  const node = element("label", "iw-toy-slider");
  const input = element("input");
  Object.assign(input, { type: "range", min: String(min), max: String(max), step: String(step) });
  input.setAttribute("aria-label", label);
  const value = element("span", "iw-toy-value");
  node.append(document.createTextNode(`${label} `), input, value);
  input.addEventListener("input", () => (value.textContent = show(Number(input.value))));
  input.addEventListener("change", () => commit(Number(input.value)));
  return {
    node,
    input,
    sync(v: number) {
      if (document.activeElement !== input) input.value = String(v);
      value.textContent = show(Number(input.value));
    },
  };
}

/** Blue (a dimension of its own) to orange (in superposition), by `Σ (Ŵᵢ·Wⱼ)²` clipped at 1. */
function superpositionColor(value: number): string {
  const t = Math.max(0, Math.min(1, value));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(0, 230)}, ${mix(114, 159)}, ${mix(178, 0)})`;
}

function directions(W: number[][], norms: number[], superposition: number[]): SVGSVGElement {
  const size = 240;
  const root = svg("svg", { viewBox: `0 0 ${size} ${size}`, width: size, height: size, role: "img", class: "iw-toy-directions" });
  root.setAttribute("aria-label", "feature directions in the hidden space");
  const centre = size / 2;
  const reach = (size / 2 - 18) / Math.max(1, ...norms);
  root.append(svg("circle", { cx: centre, cy: centre, r: reach, fill: "none", stroke: "currentColor", "stroke-opacity": 0.2 }));
  const n = W[0]?.length ?? 0;
  for (let i = 0; i < n; i++) {
    const x = W[0][i];
    const y = W.length > 1 ? W[1][i] : 0;
    const ex = centre + x * reach;
    const ey = W.length > 1 ? centre - y * reach : centre - 14 * (i - (n - 1) / 2); // m = 1: one row per feature
    const sx = W.length > 1 ? centre : centre;
    const sy = W.length > 1 ? centre : ey;
    const line = svg("line", { x1: sx, y1: sy, x2: ex, y2: ey, stroke: PALETTE[i % PALETTE.length], "stroke-width": 2.5, class: "iw-toy-arrow" });
    line.setAttribute("data-feature", String(i));
    const tip = svg("circle", { cx: ex, cy: ey, r: 3.5, fill: PALETTE[i % PALETTE.length] });
    const label = svg("title");
    label.textContent = `feature ${i}: norm ${formatValue(norms[i])}, superposition ${formatValue(superposition[i])}`;
    line.append(label);
    root.append(line, tip);
  }
  return root;
}

function gramGrid(gram: number[][]): SVGSVGElement {
  const n = gram.length;
  const cell = Math.max(6, Math.min(24, Math.floor(240 / Math.max(1, n))));
  const root = svg("svg", { width: n * cell, height: n * cell, role: "img", class: "iw-toy-gram" });
  root.setAttribute("aria-label", "W transpose W");
  const top = Math.max(1e-6, ...gram.flat().map(Math.abs));
  gram.forEach((row, i) =>
    row.forEach((value, j) => {
      const rect = svg("rect", {
        x: j * cell, y: i * cell, width: cell - 1, height: cell - 1,
        fill: value >= 0 ? "var(--iw-positive)" : "var(--iw-negative)", "fill-opacity": Math.min(1, Math.abs(value) / top),
      });
      const title = svg("title");
      title.textContent = `WᵀW[${i}, ${j}] = ${formatValue(value)}`;
      rect.append(title);
      root.append(rect);
    }),
  );
  return root;
}

function normBars(norms: number[], superposition: number[]): HTMLDivElement {
  const box = element("div", "iw-toy-norms");
  const top = Math.max(1, ...norms);
  norms.forEach((norm, i) => {
    const row = element("div", "iw-toy-norm-row");
    const bar = element("span", "iw-toy-norm-bar");
    bar.style.display = "inline-block";
    bar.style.height = "9px";
    bar.style.width = `${Math.round((120 * norm) / top)}px`;
    bar.style.background = superpositionColor(superposition[i]);
    row.append(element("span", "iw-toy-norm-label", `${i} `), bar, element("span", "", ` ${formatValue(norm)}`));
    row.title = `feature ${i}: norm ${formatValue(norm)}, superposition ${formatValue(superposition[i])}`;
    box.append(row);
  });
  return box;
}

function phaseGrid(phase: number[][], probabilities: number[], importances: number[], names: string[]): HTMLDivElement {
  const box = element("div", "iw-chart iw-toy-phase");
  box.append(element("div", "iw-chart-title", "phase of the last feature"));
  const cell = 22;
  const root = svg("svg", { width: 60 + cell * importances.length, height: 30 + cell * probabilities.length, role: "img" });
  root.setAttribute("aria-label", "phase diagram: rows feature probability, columns relative importance");
  phase.forEach((row, i) => {
    const label = svg("text", { x: 54, y: i * cell + cell * 0.7, "text-anchor": "end", "font-size": 9, fill: "currentColor" });
    label.textContent = formatValue(probabilities[i]);
    root.append(label);
    row.forEach((value, j) => {
      const rect = svg("rect", { x: 58 + j * cell, y: i * cell, width: cell - 2, height: cell - 2, fill: PHASE_COLORS[value] ?? "none", class: "iw-toy-phase-cell" });
      const title = svg("title");
      title.textContent = `probability ${formatValue(probabilities[i])}, importance ${formatValue(importances[j])}: ${names[value]}`;
      rect.append(title);
      root.append(rect);
    });
  });
  const axis = svg("text", { x: 58, y: cell * probabilities.length + 14, "font-size": 9, fill: "currentColor" });
  axis.textContent = `relative importance ${formatValue(importances[0])} → ${formatValue(importances[importances.length - 1])}; rows: probability`;
  root.append(axis);
  const legend = element("div", "iw-legend");
  names.forEach((name, k) => {
    const item = element("span", "iw-legend-item", `\u25a0 ${name}`);
    item.style.color = PHASE_COLORS[k];
    legend.append(item);
  });
  box.append(root, legend);
  return box;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-superposition-toy");
  const status = element("span", "iw-status");
  const change = (name: string) => (value: number) => setInputs(router, { [name]: value }, status, banner, "training\u2026");
  const features = slider("features n", 2, 20, 1, (v) => String(v), change("n_features"));
  const hidden = slider("dimensions m", 1, 10, 1, (v) => String(v), change("n_hidden"));
  const probability = slider("feature probability", -3, 0, 0.05, (v) => formatValue(10 ** v), (v) => change("feature_probability")(Number((10 ** v).toPrecision(3))));
  const decay = slider("importance decay", 0.5, 1, 0.01, (v) => v.toFixed(2), change("importance_decay"));
  const phaseButton = element("button", "iw-button", "phase diagram");
  phaseButton.type = "button";
  phaseButton.addEventListener("click", () => ask(router, "phase_diagram", {}, status, banner, "phase diagram: training 8 \u00d7 8 cells\u2026"));
  toolbar.append(features.node, hidden.node, probability.node, decay.node, phaseButton, status);
  const caption = element("div", "iw-caption");
  const pictures = element("div", "iw-charts");
  const charts = element("div", "iw-charts");
  root.append(caption, pictures, charts);
  el.appendChild(root);

  let showingProgress = false;
  function draw() {
    title.textContent = model.get("title");
    features.sync(model.get("n_features"));
    hidden.sync(model.get("n_hidden"));
    probability.sync(Math.log10(model.get("feature_probability")));
    decay.sync(model.get("importance_decay"));
    // The kernel's progress line while it trains; cleared when training ends, whoever started it (a slider
    // here, or `toy.set(...)` from code, which gets no reply here to clear it).
    const progress = model.get("progress");
    if (progress) status.textContent = progress;
    else if (showingProgress) status.textContent = "";
    showingProgress = Boolean(progress);
    const W = toRows(model.get("W"));
    const norms = toNumbers(model.get("norms"));
    const superposition = toNumbers(model.get("superposition"));
    const picture = element("div", "iw-chart iw-toy-picture");
    picture.setAttribute("data-step", String(model.get("step")));
    picture.setAttribute("data-probability", String(model.get("feature_probability")));
    const m = W.length;
    picture.append(element("div", "iw-chart-title", m <= 2 ? `feature directions (step ${model.get("step")})` : `WᵀW (step ${model.get("step")})`));
    picture.append(m <= 2 ? directions(W, norms, superposition) : gramGrid(toRows(model.get("gram"))));
    const bars = element("div", "iw-chart");
    bars.append(element("div", "iw-chart-title", "norm per feature (colour: superposition, blue none \u2192 orange)"), normBars(norms, superposition));
    pictures.replaceChildren(picture, bars);

    const seeds = model.get("seed_losses");
    const dims = toNumbers(model.get("trajectory_dims"));
    caption.textContent = `loss ${formatValue(model.get("loss"))} (best of ${seeds.length} seeds)` +
      (dims.length ? ` \u00b7 ${formatValue(dims[dims.length - 1])} dimensions per feature` : "");
    const steps = toNumbers(model.get("trajectory_steps"));
    const shown: HTMLElement[] = [];
    if (steps.length > 1) {
      shown.push(lineChart(steps, [dims], { title: "dimensions per feature over training", xLabel: "step", yLabel: "m / \u2016W\u2016\u00b2", names: ["dimensions per feature"], log: false }));
      shown.push(lineChart(steps, [toNumbers(model.get("trajectory_loss"))], { title: "loss over training", xLabel: "step", yLabel: "loss", names: ["loss"] }));
    }
    const counts = toNumbers(model.get("mcs_counts"));
    const mean = model.get("mcs_mean");
    if (counts.length) {
      shown.push(barChart(counts, toNumbers(model.get("mcs_edges")), {
        title: "MCS between the two best seeds", xLabel: "max cosine similarity", yLabel: "features", unit: "features",
        marker: mean === null ? undefined : { value: mean, label: `mean ${formatValue(mean)}` },
      }));
    }
    const phase = toRows(model.get("phase"));
    if (phase.length) shown.push(phaseGrid(phase, model.get("phase_probabilities"), model.get("phase_importances"), model.get("phase_names")));
    charts.replaceChildren(...shown);
  }
  return redrawOnChange(model, draw);
});
