// Circuit discovery: the edge graph's top edges by EAP / EAP-IG score, drawn by layer (input at the bottom,
// logits at the top), orange where restoring the edge raises the metric and blue where it lowers it, wider
// the larger the score. The slider beside the exact faithfulness curve picks how many top edges are drawn;
// click an edge (or a row of the list) for its exact patch effect; hover a head for its attention pattern (also
// published as the selection's head, so a linked attention view shows it).
// The prompt pair and the integrated-gradient steps are edited here and recomputed in the kernel.
import { lineChart } from "./lib/chart";
import { decodeCached, type Decoded, type WireArray } from "./lib/codec";
import { formatValue } from "./lib/colors";
import { activate, element, numberInput, submitOnEnter, svg } from "./lib/dom";
import { promptArea, showText } from "./lib/prompt";
import { visibleToken } from "./lib/tokens";
import { ask, frame, redrawOnChange, routedWidget, setInputs, showProgress } from "./lib/widget";

interface State {
  title: string;
  prompt: string;
  corrupt: string;
  answer: string;
  wrong: string;
  ig_steps: number;
  method: string;
  metric_label: string;
  clean_metric: number;
  corrupt_metric: number;
  tokens: string[];
  differing: number[];
  n_layers: number;
  n_heads: number;
  n_edges: number;
  rows: number;
  sender_names: string[];
  receiver_names: string[];
  sender_xy: WireArray;
  receiver_xy: WireArray;
  edge_sender: WireArray;
  edge_receiver: WireArray;
  edge_score: WireArray;
  curve_sizes: WireArray;
  curve_recovered: WireArray;
  circuit_size: number;
  patterns: WireArray;
  selected_edge: { index?: number; sender?: string; receiver?: string; score?: number; exact?: number; fraction?: number };
  progress: string;
}

const WIDTH = 600;
const LISTED = 12;

const numbers = (wire: WireArray): number[] => Array.from(decodeCached(wire).data as ArrayLike<number>, Number);

/** `[i, 2]` of a decoded `[n, 2]` array. */
const point = (xy: Decoded, i: number): [number, number] => [Number(xy.data[2 * i]), Number(xy.data[2 * i + 1])];

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-circuit");
  const status = element("span", "iw-status");
  toolbar.append(status);
  const form = element("form", "iw-prompt iw-circuit-pair");
  const cleanInput = promptArea("clean prompt");
  const corruptInput = promptArea("corrupt prompt");
  const answerInput = Object.assign(element("input", "iw-prompt-input iw-circuit-answer"), { type: "text" });
  answerInput.setAttribute("aria-label", "answer");
  const wrongInput = Object.assign(element("input", "iw-prompt-input iw-circuit-answer"), { type: "text" });
  wrongInput.setAttribute("aria-label", "wrong answer");
  const stepsInput = numberInput("integrated-gradient steps (1: EAP)", 1, 256);
  const run = element("button", "iw-button", "Run");
  run.type = "submit";
  form.append(element("span", "iw-caption", "clean"), cleanInput, element("span", "iw-caption", "corrupt"), corruptInput,
    element("span", "iw-caption", "answer"), answerInput, element("span", "iw-caption", "wrong"), wrongInput,
    element("span", "iw-caption", "IG steps"), stepsInput, run);
  const caption = element("div", "iw-caption iw-circuit-caption");
  const main = element("div", "iw-circuit-main");
  const picture = element("div", "iw-circuit-graph");
  const side = element("div", "iw-circuit-side");
  const sliderRow = element("div", "iw-circuit-slider-row");
  const slider = Object.assign(element("input", "iw-circuit-slider"), { type: "range", min: "0", step: "1" });
  slider.setAttribute("aria-label", "circuit size (edges kept)");
  const sizeLabel = element("span", "iw-circuit-size");
  sliderRow.append(slider, sizeLabel);
  const curveBox = element("div", "iw-circuit-curve");
  const detail = element("div", "iw-circuit-detail");
  const patternBox = element("div", "iw-circuit-pattern");
  const list = element("ol", "iw-circuit-list");
  side.append(curveBox, sliderRow, detail, patternBox);
  main.append(picture, side);
  root.append(form, caption, main, list);
  el.appendChild(root);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  for (const box of [cleanInput, corruptInput, answerInput, wrongInput, stepsInput]) submitOnEnter(box, send);
  function send() {
    const steps = Number(stepsInput.value);
    setInputs(router, { prompt: cleanInput.value, corrupt: corruptInput.value, answer: answerInput.value, wrong: wrongInput.value,
      ig_steps: Number.isFinite(steps) ? Math.round(steps) : model.get("ig_steps") }, status, banner);
  }
  const inspect = (index: number) => ask(router, "edge", { index }, status, banner, "patching the edge exactly\u2026");

  slider.addEventListener("input", () => {
    const sizes = numbers(model.get("curve_sizes"));
    model.set("circuit_size", sizes[Number(slider.value)] ?? 0);
    model.save_changes();
  });

  function drawGraph() {
    const xy = decodeCached(model.get("sender_xy"));
    const rxy = decodeCached(model.get("receiver_xy"));
    const senders = numbers(model.get("edge_sender"));
    const receivers = numbers(model.get("edge_receiver"));
    const scores = numbers(model.get("edge_score"));
    const names = model.get("sender_names");
    const rnames = model.get("receiver_names");
    const height = Math.min(560, Math.max(240, 40 * model.get("rows")));
    const place = ([x, y]: [number, number]): [number, number] => [20 + x * (WIDTH - 40), height - 12 - y * (height - 24)];
    const drawing = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, role: "img", class: "iw-circuit-svg" });
    drawing.setAttribute("aria-label", `top ${model.get("circuit_size")} edges of the circuit`);
    const n = Math.min(model.get("circuit_size"), scores.length);
    const biggest = Math.max(1e-12, ...scores.slice(0, n).map(Math.abs));
    const used = new Set<number>();
    const selected = model.get("selected_edge").index;
    for (let i = n - 1; i >= 0; i--) { // the strongest edges drawn last, on top
      const [x1, y1] = place(point(xy, senders[i]));
      const [x2, y2] = place(point(rxy, receivers[i]));
      used.add(senders[i]);
      const line = svg("line", { x1, y1, x2, y2, "stroke-width": 0.6 + 4 * Math.abs(scores[i]) / biggest,
        class: `iw-circuit-edge ${scores[i] >= 0 ? "iw-circuit-positive" : "iw-circuit-negative"}${i === selected ? " iw-selected" : ""}` });
      line.dataset.edge = String(i);
      const tip = svg("title");
      tip.textContent = `${names[senders[i]]} \u2192 ${rnames[receivers[i]]}: score ${formatValue(scores[i])} (click: exact effect)`;
      line.append(tip);
      line.addEventListener("click", () => inspect(i));
      drawing.append(line);
    }
    names.forEach((name, s) => {
      const [x, y] = place(point(xy, s));
      const dot = svg("circle", { cx: x, cy: y, r: used.has(s) ? 5 : 3, class: `iw-circuit-node${used.has(s) ? " iw-circuit-used" : ""}` });
      dot.dataset.node = name;
      const label = svg("title");
      label.textContent = name;
      dot.append(label);
      if (name.startsWith("a")) dot.addEventListener("mouseenter", () => drawPattern(s, name, true));
      drawing.append(dot);
      if (used.has(s)) {
        const text = svg("text", { x: x + 6, y: y - 6, class: "iw-circuit-label" });
        text.textContent = name;
        drawing.append(text);
      }
    });
    const [lx, ly] = place([0.5, (model.get("rows") - 0.5) / model.get("rows")]);
    const logits = svg("text", { x: lx, y: ly - 8, "text-anchor": "middle", class: "iw-circuit-label" });
    logits.textContent = "logits";
    drawing.append(logits);
    picture.replaceChildren(drawing);
    list.replaceChildren(...senders.slice(0, Math.min(LISTED, n)).map((s, i) => {
      const row = element("li", "iw-circuit-row", `${names[s]} \u2192 ${rnames[receivers[i]]}  ${formatValue(scores[i])}`);
      row.dataset.edge = String(i);
      activate(row, () => inspect(i));
      return row;
    }));
  }

  /** Head `sender`'s attention on the clean prompt, from the kernel's packed lower triangles (no round trip). */
  function drawPattern(sender: number, name: string, publish = false) {
    const patterns = decodeCached(model.get("patterns"));
    const tokens = model.get("tokens");
    const T = tokens.length;
    const heads = model.get("n_heads");
    // senders: embed, then per layer its heads (and its MLP)
    const perLayer = (model.get("sender_names").length - 1) / model.get("n_layers");
    const layer = Math.floor((sender - 1) / perLayer);
    const head = (sender - 1) % perLayer;
    const row = layer * heads + head;
    if (head >= heads || row < 0 || ((row + 1) * T * (T + 1)) / 2 > patterns.data.length) return;
    if (publish) void ask(router, "head", { layer, head }, status, banner, ""); // linked views (the attention view) show it too
    const cell = Math.max(2, Math.floor(240 / Math.max(T, 1)));
    const grid = svg("svg", { viewBox: `0 0 ${T * cell} ${T * cell}`, width: T * cell, height: T * cell, role: "img", class: "iw-circuit-pattern-grid" });
    grid.setAttribute("aria-label", `attention of ${name}`);
    const base = (row * T * (T + 1)) / 2;
    for (let q = 0; q < T; q++) {
      for (let k = 0; k <= q; k++) {
        const weight = Number(patterns.data[base + (q * (q + 1)) / 2 + k]);
        if (weight < 0.02) continue;
        grid.append(svg("rect", { x: k * cell, y: q * cell, width: cell, height: cell, class: "iw-circuit-weight", "fill-opacity": Math.min(1, weight) }));
      }
    }
    const heading = element("div", "iw-chart-title", `${name}: attention on the clean prompt (rows: queries, columns: keys)`);
    const words = element("div", "iw-caption", tokens.map((t, i) => `${i}:${visibleToken(t)}`).join(" "));
    patternBox.replaceChildren(heading, grid, words);
  }

  function drawSide() {
    const sizes = numbers(model.get("curve_sizes"));
    const recovered = numbers(model.get("curve_recovered"));
    const current = sizes.indexOf(model.get("circuit_size"));
    slider.max = String(Math.max(0, sizes.length - 1));
    slider.value = String(Math.max(0, current));
    sizeLabel.textContent = `top ${model.get("circuit_size")} of ${model.get("n_edges")} edges: faithfulness ${formatValue(recovered[current] ?? NaN)} (exact)`;
    curveBox.replaceChildren(lineChart(sizes.map((s) => Math.max(s, 0.5)), [recovered], {
      title: "faithfulness against edges kept (every point patched exactly)", xLabel: "edges kept", yLabel: "recovered",
      names: ["faithfulness"], log: false, width: 320, xName: (i) => `top ${sizes[i]} edges`,
    }));
    const chosen = model.get("selected_edge");
    detail.replaceChildren();
    if (chosen.sender !== undefined) {
      detail.append(element("div", "iw-chart-title", `${chosen.sender} \u2192 ${chosen.receiver}`),
        element("div", "iw-caption", `${model.get("method")} score ${formatValue(chosen.score ?? NaN)}; exact effect of restoring it `
          + `into the corrupt run ${formatValue(chosen.exact ?? NaN)} (${formatValue(chosen.fraction ?? NaN)} of the clean\u2212corrupt gap)`));
    }
  }

  const teardown = redrawOnChange(model, () => {
    title.textContent = `${model.get("title")} \u00b7 ${model.get("method")}`;
    showText(cleanInput, model.get("prompt"));
    showText(corruptInput, model.get("corrupt"));
    if (document.activeElement !== answerInput) answerInput.value = model.get("answer");
    if (document.activeElement !== wrongInput) wrongInput.value = model.get("wrong");
    if (document.activeElement !== stepsInput) stepsInput.value = String(model.get("ig_steps"));
    const tokens = model.get("tokens");
    const changed = model.get("differing").map((p) => `${JSON.stringify(visibleToken(tokens[p] ?? ""))} at ${p}`).join(", ");
    caption.textContent = `${model.get("metric_label")}: clean ${formatValue(model.get("clean_metric"))}, corrupt ${formatValue(model.get("corrupt_metric"))}; `
      + `the prompts differ at ${changed || "no position"}. Orange: restoring the edge raises the metric; blue: lowers it.`;
    drawGraph();
    drawSide();
  });
  const stopProgress = showProgress(model, status);
  return () => {
    teardown();
    stopProgress();
  };
});
