// Learned position embeddings: two principal components of W_pos against each other, one dot per
// position coloured early (blue) to late (orange), position 0 ringed apart; the chosen components
// over position; the variance each explains; and the kernel's verdict in words. Choosing the
// components is view state (pc_x, pc_y), saved with the widget; nothing is recomputed.
import { at, decodeCached, type WireArray } from "./lib/codec";
import { lineChart, PALETTE } from "./lib/chart";
import { formatValue } from "./lib/colors";
import { element, svg } from "./lib/dom";
import { frame, redrawOnChange, routedWidget } from "./lib/widget";

interface State {
  components: WireArray;
  first_token: WireArray;
  variance_share: number[];
  position_correlation: number[];
  how_late: number[];
  dominant_frequency: number[];
  frequency_share: number[];
  first_token_z: number;
  helix: boolean;
  verdict: string[];
  pc_x: number;
  pc_y: number;
  title: string;
}

/** This view's own rules (lib/style.ts holds the shared ones). */
export const STYLE = `
.iw-positional-embeddings select { color: var(--iw-fg); background: var(--iw-bg); border: 1px solid var(--iw-border); border-radius: 3px; font: inherit; }
.iw-positional-embeddings .iw-positions-scatter { color: var(--iw-fg); }
.iw-positional-embeddings .iw-positions-share { font-family: var(--jp-code-font-family, monospace); font-size: 0.9em; }
.iw-positional-embeddings .iw-positions-verdict { margin: 4px 0; padding-left: 18px; }
`;

/** Early positions blue, late ones orange. */
function positionColor(t: number): string {
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(0, 230)}, ${mix(114, 159)}, ${mix(178, 0)})`;
}

function choice(label: string, count: number, selected: number, pick: (i: number) => void): HTMLLabelElement {
  const node = element("label", "iw-check");
  const select = element("select");
  select.setAttribute("aria-label", label);
  for (let i = 0; i < count; i++) {
    const option = element("option", "", `PC${i + 1}`);
    option.value = String(i);
    select.append(option);
  }
  select.value = String(selected);
  select.addEventListener("change", () => pick(Number(select.value)));
  node.append(document.createTextNode(`${label} `), select);
  return node;
}

function scatter(xs: number[], ys: number[], first: [number, number], names: [string, string]): SVGSVGElement {
  const size = 260;
  const pad = 24;
  const root = svg("svg", { viewBox: `0 0 ${size} ${size}`, width: size, height: size, role: "img", class: "iw-positions-scatter" });
  root.setAttribute("aria-label", `${names[0]} against ${names[1]}, one dot per position`);
  const span = Math.max(1e-9, ...xs.map(Math.abs), ...ys.map(Math.abs), Math.abs(first[0]), Math.abs(first[1]));
  const px = (v: number) => size / 2 + (v / span) * (size / 2 - pad);
  const py = (v: number) => size / 2 - (v / span) * (size / 2 - pad);
  root.append(svg("line", { x1: pad, x2: size - pad, y1: size / 2, y2: size / 2, stroke: "currentColor", "stroke-opacity": 0.2 }));
  root.append(svg("line", { y1: pad, y2: size - pad, x1: size / 2, x2: size / 2, stroke: "currentColor", "stroke-opacity": 0.2 }));
  xs.forEach((x, i) => {
    const dot = svg("circle", { cx: px(x), cy: py(ys[i]), r: 2.2, fill: positionColor(i / Math.max(1, xs.length - 1)), class: "iw-position-dot" });
    const title = svg("title");
    title.textContent = `position ${i + 1}: ${names[0]} ${formatValue(x)}, ${names[1]} ${formatValue(ys[i])}`;
    dot.append(title);
    root.append(dot);
  });
  const ring = svg("circle", { cx: px(first[0]), cy: py(first[1]), r: 5, fill: "none", stroke: "currentColor", "stroke-width": 1.5, class: "iw-position-first" });
  const title = svg("title");
  title.textContent = `position 0 (the first token): ${names[0]} ${formatValue(first[0])}, ${names[1]} ${formatValue(first[1])}`;
  ring.append(title);
  const label = svg("text", { x: px(first[0]) + 7, y: py(first[1]) + 3, "font-size": 10, fill: "currentColor" });
  label.textContent = "position 0";
  root.append(ring, label);
  const axis = svg("text", { x: size - pad, y: size / 2 - 4, "font-size": 10, "text-anchor": "end", fill: "currentColor" });
  axis.textContent = names[0];
  const yAxis = svg("text", { x: size / 2 + 4, y: pad - 8, "font-size": 10, fill: "currentColor" });
  yAxis.textContent = names[1];
  root.append(axis, yAxis);
  return root;
}

export default routedWidget<State>(({ model, el }) => {
  const { root, toolbar, title } = frame("iw-positional-embeddings", STYLE);
  const pickers = element("span");
  toolbar.append(pickers);
  const charts = element("div", "iw-charts");
  const verdict = element("ul", "iw-positions-verdict");
  root.append(charts, verdict);
  el.appendChild(root);

  function draw() {
    title.textContent = model.get("title");
    const decoded = decodeCached(model.get("components"));
    const [k, n] = decoded.shape.length === 2 ? decoded.shape : [0, 0];
    const component = (c: number) => Array.from({ length: n }, (_, i) => at(decoded, c * n + i));
    const firstDecoded = decodeCached(model.get("first_token"));
    const cx = Math.min(model.get("pc_x"), k - 1);
    const cy = Math.min(model.get("pc_y"), k - 1);
    const set = (name: "pc_x" | "pc_y") => (i: number) => {
      model.set(name, i);
      model.save_changes();
    };
    pickers.replaceChildren(choice("x", k, cx, set("pc_x")), choice("y", k, cy, set("pc_y")));
    if (k === 0) {
      charts.replaceChildren();
      return;
    }
    const names: [string, string] = [`PC${cx + 1}`, `PC${cy + 1}`];
    const box = element("div", "iw-chart");
    box.append(element("div", "iw-chart-title", `${names[0]} against ${names[1]} (blue early \u2192 orange late)`),
      scatter(component(cx), component(cy), [at(firstDecoded, cx), at(firstDecoded, cy)], names));
    const positions = Array.from({ length: n }, (_, i) => i + 1);
    const overPosition = lineChart(positions, [component(cx), component(cy)], {
      title: "components over position", xLabel: "position", yLabel: "value", names, log: false,
      styles: [{ color: PALETTE[0] }, { color: PALETTE[1] }],
    });
    const shares = model.get("variance_share");
    const correlation = model.get("position_correlation");
    const table = element("div", "iw-chart");
    table.append(element("div", "iw-chart-title", "variance explained (position 0 left out)"));
    shares.forEach((share, i) => {
      const row = element("div", "iw-positions-share", `PC${i + 1} ${(100 * share).toFixed(1)}% \u00b7 correlation with position ${correlation[i] >= 0 ? "+" : ""}${correlation[i].toFixed(2)}`);
      if (model.get("how_late").includes(i)) row.append(element("b", "", " \u00b7 how late"));
      table.append(row);
    });
    charts.replaceChildren(box, overPosition, table);
    verdict.replaceChildren(...model.get("verdict").map((line) => element("li", "", line)));
  }
  return redrawOnChange(model, draw);
});
