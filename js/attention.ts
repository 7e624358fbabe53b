// Attention patterns: the layer's heads as thumbnails, one head large, the prompt's tokens below.
// Hover a token (or a row of the large pattern) to see that query's attention over earlier tokens
// as highlights; click to lock it. Each head arrives as its causal lower triangle in float16;
// another layer is fetched from the kernel on demand. Head scores for every head, sortable.
import { at, decodeCached, type Decoded, type WireArray } from "./lib/codec";
import { POSITIVE_RGB, rgb } from "./lib/palette";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { activate, element, tooltip } from "./lib/dom";
import { promptBox } from "./lib/prompt";
import { ask, frame, redrawOnChange, routedWidget } from "./lib/widget";
import { endsLine, tokenSpan, visibleToken } from "./lib/tokens";

interface State {
  tokens: string[];
  n_layers: number;
  n_heads: number;
  layer: number;
  head: number;
  patterns: WireArray;
  score_names: string[];
  score_labels: string[];
  scores: WireArray;
  prompt: string;
  editable: boolean;
  title: string;
}
/** Weight of query q on key k in head h of a packed layer `[n_heads, T(T+1)/2]` (0 above the diagonal). */
export function weight(packed: Decoded, head: number, q: number, k: number): number {
  if (k > q) return 0;
  return at(packed, head * packed.shape[1] + (q * (q + 1)) / 2 + k);
}

function drawPattern(canvas: HTMLCanvasElement, packed: Decoded, head: number, size: number, px: number) {
  canvas.width = size * px;
  canvas.height = size * px;
  const context = canvas.getContext("2d");
  if (!context) return;
  const colour = getComputedStyle(canvas).getPropertyValue("--iw-positive").trim() || rgb(POSITIVE_RGB);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = colour;
  for (let q = 0; q < size; q++) {
    for (let k = 0; k <= q; k++) {
      const w = weight(packed, head, q, k);
      if (w <= 0.004) continue;
      context.globalAlpha = Math.min(1, w);
      context.fillRect(k * px, q * px, px, px);
    }
  }
  context.globalAlpha = 1;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-attention");
  const prompt = promptBox(router, banner);
  const layers = element("div", "iw-series");
  layers.setAttribute("role", "group");
  const thumbs = element("div", "iw-thumbs");
  const main = element("div", "iw-attention-main");
  const big = element("canvas", "iw-pattern-large");
  const side = element("div", "iw-attention-side");
  const caption = element("div", "iw-caption");
  const tokensBox = element("div", "iw-tokens");
  side.append(caption, tokensBox);
  main.append(big, side);
  const table = element("table", "iw-score-table");
  const scoreNotes = element("ul", "iw-score-notes");
  toolbar.append(prompt.form, prompt.status);
  root.append(layers, thumbs, main, table, scoreNotes);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  let packed: Decoded | null = null;
  let locked: number | null = null; // UI state: the query whose attention stays shown
  let sortBy = -1; // UI state: score column the table is sorted by (-1: by layer and head)

  async function show(layer: number, head: number) {
    if (layer === model.get("layer")) {
      model.set("head", head);
      model.save_changes();
      return;
    }
    await ask(router, "show", { layer, head }, prompt.status, banner, "fetching layer\u2026");
  }

  function highlight(query: number | null) {
    const tokens = model.get("tokens");
    const head = model.get("head");
    const scale = chooseScale([0, 1], "sequential");
    tokensBox.querySelectorAll<HTMLSpanElement>(".iw-token").forEach((span) => {
      const k = Number(span.dataset.position);
      const w = query === null || !packed ? NaN : weight(packed, head, query, k);
      span.style.backgroundColor = query === null || k > query ? "" : colorFor(w, scale);
      span.classList.toggle("iw-selected", k === query);
      span.title = query === null || k > query ? "" : `${formatValue(w)}`;
    });
    caption.textContent = query === null
      ? `Hover a token to see where it attends (head ${model.get("layer")}.${head}); click to lock.`
      : `Attention of ${JSON.stringify(visibleToken(tokens[query]))} (position ${query}) in head ${model.get("layer")}.${head}${locked === null ? "" : ", locked: click it again to release"}.`;
  }

  function drawTokens() {
    const tokens = model.get("tokens");
    tokensBox.replaceChildren();
    tokens.forEach((token, position) => {
      const span = tokenSpan(token, "iw-token");
      span.dataset.position = String(position);
      span.addEventListener("mouseenter", () => {
        if (locked === null) highlight(position);
      });
      span.addEventListener("mouseleave", () => {
        if (locked === null) highlight(null);
      });
      const lock = () => {
        locked = locked === position ? null : position;
        highlight(locked ?? position);
      };
      activate(span, lock);
      tokensBox.appendChild(span);
      if (endsLine(token)) tokensBox.appendChild(element("br"));
    });
  }

  function drawTable() {
    const names = model.get("score_names");
    const labels = model.get("score_labels") ?? [];
    // what each score is measured on: previous-token on the prompt, induction on repeated random tokens
    scoreNotes.replaceChildren(...labels.map((label) => element("li", "", label)));
    const scores = decodeCached(model.get("scores"));
    const [, nLayers, nHeads] = scores.shape;
    const score = (i: number, l: number, h: number) => at(scores, (i * nLayers + l) * nHeads + h);
    const header = element("tr");
    const headCell = element("th", "", "head");
    headCell.addEventListener("click", () => {
      sortBy = -1;
      drawTable();
    });
    header.append(headCell);
    names.forEach((name, i) => {
      const where = (labels[i] ?? "").includes("repeated random tokens") ? " (random repeats)" : "";
      const th = element("th", "iw-sortable", `${name.replace(/_/g, " ")}${where}${sortBy === i ? " \u25bc" : ""}`);
      th.title = `${labels[i] ?? name}; click to sort by this score`;
      th.addEventListener("click", () => {
        sortBy = i;
        drawTable();
      });
      header.append(th);
    });
    const heads: [number, number][] = [];
    for (let l = 0; l < nLayers; l++) for (let h = 0; h < nHeads; h++) heads.push([l, h]);
    if (sortBy >= 0) heads.sort((a, b) => (score(sortBy, b[0], b[1]) || -1) - (score(sortBy, a[0], a[1]) || -1));
    const scale = chooseScale([0, 1], "sequential");
    const rows = heads.map(([l, h]) => {
      const row = element("tr", "iw-score-row");
      if (l === model.get("layer") && h === model.get("head")) row.classList.add("iw-selected");
      row.append(element("th", "", `L${l}H${h}`));
      names.forEach((_, i) => {
        const value = score(i, l, h);
        const cell = element("td", "", Number.isNaN(value) ? "\u2014" : value.toFixed(2));
        if (!Number.isNaN(value)) cell.style.backgroundColor = colorFor(value, scale);
        row.append(cell);
      });
      row.addEventListener("click", () => show(l, h));
      return row;
    });
    table.replaceChildren(header, ...rows);
  }

  function draw() {
    title.textContent = model.get("title");
    prompt.form.hidden = !model.get("editable");
    prompt.sync(model.get("prompt"));
    const tokens = model.get("tokens");
    const size = tokens.length;
    packed = decodeCached(model.get("patterns"));
    const layer = model.get("layer");
    const head = model.get("head");
    layers.replaceChildren(
      ...Array.from({ length: model.get("n_layers") }, (_, l) => {
        const button = element("button", "iw-button", `layer ${l}`);
        button.type = "button";
        button.setAttribute("aria-pressed", String(l === layer));
        button.addEventListener("click", () => show(l, model.get("head")));
        return button;
      }),
    );
    const thumbPx = Math.max(1, Math.floor(72 / Math.max(1, size)));
    thumbs.replaceChildren(
      ...Array.from({ length: model.get("n_heads") }, (_, h) => {
        const figure = element("button", "iw-thumb");
        figure.type = "button";
        figure.setAttribute("aria-pressed", String(h === head));
        figure.setAttribute("aria-label", `head ${layer}.${h}`);
        const canvas = element("canvas");
        figure.append(canvas, element("span", "", `${layer}.${h}`));
        figure.addEventListener("click", () => show(layer, h));
        thumbs.appendChild(figure); // attached first, so the canvas reads the theme's colours
        drawPattern(canvas, packed!, h, size, thumbPx);
        return figure;
      }),
    );
    const px = Math.max(2, Math.min(16, Math.floor(420 / Math.max(1, size))));
    drawPattern(big, packed, head, size, px);
    big.setAttribute("aria-label", `attention pattern of head ${layer}.${head}: rows are queries, columns keys`);
    big.onmousemove = (event) => {
      const bounds = big.getBoundingClientRect();
      const q = Math.floor(((event.clientY - bounds.top) / bounds.height) * size);
      const k = Math.floor(((event.clientX - bounds.left) / bounds.width) * size);
      if (q < 0 || q >= size || k < 0 || k >= size) return;
      tip.show([`query ${q} ${JSON.stringify(tokens[q])}`, `key   ${k} ${JSON.stringify(tokens[k])}`,
        `weight ${formatValue(weight(packed!, head, q, k))}`], event.clientX, event.clientY);
      if (locked === null) highlight(q);
    };
    big.onmouseleave = () => {
      tip.hide();
      if (locked === null) highlight(null);
    };
    drawTokens();
    if (locked !== null && locked >= size) locked = null;
    highlight(locked);
    drawTable();
  }
  return redrawOnChange(model, draw);
});
