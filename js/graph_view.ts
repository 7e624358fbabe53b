// Attribution graph: nodes by layer (rows, tokens at the bottom, logits on top) and position
// (columns) on a canvas (lib/graph_canvas.ts), edges orange when they excite and blue when they
// inhibit, wider when stronger. Hover: a node's label, activation and top contexts (as text). Click:
// pin (shift: add to the pins); a feature is published to a linked selection. Pinned nodes: show
// only their ancestors or descendants, name them as a supernode, or intervene on them in the model.
// Hover an edge: its split by the attention head its path enters first (asked of the kernel); click
// it to fill "why attend?", which lists the query x key node pairs behind a head's score there.
import { decodeCached, type WireArray } from "./lib/codec";
import { NEGATIVE_RGB, NODE_KINDS, POSITIVE_RGB, rgb } from "./lib/palette";
import { formatValue } from "./lib/colors";
import { element, tooltip } from "./lib/dom";
import { GraphCanvas, type Colors, type GraphData } from "./lib/graph_canvas";
import { lineKey } from "./lib/legend";
import { promptBox } from "./lib/prompt";
import { oneLine } from "./lib/tokens";
import { ask, frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";

interface State {
  node_kind: WireArray;
  node_row: WireArray;
  node_pos: WireArray;
  node_feature: WireArray;
  node_activation: WireArray;
  node_influence: WireArray;
  edge_source: WireArray;
  edge_target: WireArray;
  edge_weight: WireArray;
  labels: string[];
  contexts: string[];
  contexts_from: string;
  token_strings: string[];
  n_layers: number;
  prompt: string;
  node_share: number;
  edge_share: number;
  supernodes: (string | number)[][];
  intervention: { description?: string; rows?: [string, number, number, number, number][] };
  attention: {
    description?: string; score?: number; weight?: number;
    pairs?: [string, string, number, number[] | null, number[] | null][]; query?: [string, number][]; key?: [string, number][];
  };
  can_intervene: boolean;
  counts: string;
  scores: string;
  title: string;
}

const KIND_NAMES = ["token", "feature", "error", "logit"];

function button(label: string, action: () => void): HTMLButtonElement {
  const node = element("button", "iw-button", label);
  node.addEventListener("click", action);
  return node;
}

function numberInput(value: number, step: string, title: string): HTMLInputElement {
  const input = element("input", "iw-number");
  input.type = "number";
  input.step = step;
  input.value = String(value);
  input.title = title;
  return input;
}

/** A node's influence in words: the share of the graph's total influence carried by the nodes ranked above it
 * (0 for the most influential; pruning keeps nodes while that share is under "nodes"). */
function influenceWords(share: number): string {
  if (!(share > 0)) return "the most influential node of the graph";
  return `more influential nodes carry ${Math.round(100 * share)} % of the graph's influence (pruning keeps those under the "nodes" share)`;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-graph-view");
  const prompt = promptBox(router, banner);
  const nodeShare = numberInput(0.8, "0.05", "share of the influence the kept nodes carry");
  const edgeShare = numberInput(0.98, "0.01", "share of the influence the kept edges carry");
  const status = element("span", "iw-status");
  const prune = button("prune", () => void setInputs(router, { node_share: Number(nodeShare.value), edge_share: Number(edgeShare.value) }, status, banner));
  toolbar.append(prompt.form, prompt.status, element("span", "iw-caption", "nodes"), nodeShare, element("span", "iw-caption", "edges"), edgeShare, prune, status);
  const counts = element("div", "iw-caption iw-graph-counts");
  const scores = element("div", "iw-caption iw-graph-scores");
  const styles = getComputedStyle(document.documentElement);
  const colors = (): Colors => {
    const css = getComputedStyle(root);
    const read = (name: string, fallback: string) => css.getPropertyValue(name).trim() || styles.getPropertyValue(name).trim() || fallback;
    return { positive: read("--iw-positive", rgb(POSITIVE_RGB)), negative: read("--iw-negative", rgb(NEGATIVE_RGB)), fg: read("--iw-fg", "#1f1f1f"),
      muted: read("--iw-fg-muted", "#616161"), accent: read("--iw-accent", "#1976d2"),
      kinds: [read("--iw-fg", NODE_KINDS[0]), NODE_KINDS[1], read("--iw-fg-muted", NODE_KINDS[2]), NODE_KINDS[3]] };
  };
  const graph = new GraphCanvas(colors, Math.max(400, (el.clientWidth || 900) - 8), 480);
  Object.defineProperty(graph.canvas, "graphCanvas", { value: graph }); // for the browser test and the render benchmark
  const tokenRow = element("div", "iw-graph-tokens");
  const legend = element("div", "iw-graph-legend");
  const pinsBox = element("div", "iw-graph-pins");
  const pinList = element("div", "iw-caption");
  const groupName = element("input", "iw-graph-group-name");
  groupName.placeholder = "supernode name";
  const scale = numberInput(0, "0.5", "each pinned feature is set to this times its activation, each pinned error node keeps this times its error (0: ablate)");
  const results = element("div", "iw-graph-intervention");
  const supernodeList = element("div", "iw-caption");
  const tip = tooltip(root);
  const why = { layer: numberInput(0, "1", "layer of the head"), head: numberInput(0, "1", "head"),
    query: numberInput(0, "1", "query position (the position attending)"), key: numberInput(0, "1", "key position (the position attended to)") };
  const whyPanel = element("div", "iw-graph-why");
  const whyBox = element("div", "iw-graph-why-form");
  whyBox.append(element("span", "iw-caption", "why does head L"), why.layer, element("span", "iw-caption", "H"), why.head,
    element("span", "iw-caption", " at query"), why.query, element("span", "iw-caption", "attend to key"), why.key,
    button("why attend?", () => void ask(router, "why_attend", { layer: Number(why.layer.value), head: Number(why.head.value),
      query: Number(why.query.value), key: Number(why.key.value) }, status, banner, "attributing the score\u2026")));
  const loadings = new Map<string, { direct: number; total: number; heads: [number, number, number][] } | string>();
  let hoveredEdge = -1;
  let edges: { source: Int32Array; target: Int32Array; weight: Float32Array; pos: Int32Array; kind: Uint8Array } | null = null;
  let pins: number[] = [];
  let labels: string[] = [];
  let shownKind: WireArray | null = null;
  let decoded: { activation: ArrayLike<number>; influence: ArrayLike<number>; kind: Uint8Array } | null = null;

  const showPins = () => {
    graph.pinned = pins;
    pinList.textContent = pins.length ? `pinned: ${pins.map((i) => labels[i]).join(" · ")}` : "click a node to pin it (shift-click: several)";
    graph.draw();
  };
  const filter = (direction: "ancestors" | "descendants" | null) => {
    graph.visible = direction && pins.length ? graph.reach(pins, direction) : null;
    graph.rebuild();
  };
  const intervene = button("intervene", () => void ask(router, "intervene", { nodes: pins, scale: Number(scale.value) }, status, banner, "running the model\u2026"));
  pinsBox.append(
    pinList,
    element("span", "iw-caption", "show "),
    button("ancestors", () => filter("ancestors")),
    button("descendants", () => filter("descendants")),
    button("all", () => filter(null)),
    button("clear pins", () => {
      pins = [];
      showPins();
      filter(null);
    }),
    groupName,
    button("group as supernode", () => void ask(router, "group", { name: groupName.value, nodes: pins }, status, banner)),
    element("span", "iw-caption", " scale pinned features (and errors) ×"),
    scale,
    intervene,
  );
  root.append(scores, counts, legend, graph.canvas, tokenRow, pinsBox, supernodeList, results, whyBox, whyPanel, tip.node);
  el.appendChild(root);

  const tooltipLines = (i: number): string[] => {
    if (!decoded) return [];
    const kind = decoded.kind[i];
    const lines = [labels[i], `${KIND_NAMES[kind]}${kind === 1 ? `, activation ${formatValue(decoded.activation[i])}` : kind === 3 ? `, probability ${formatValue(decoded.activation[i])}` : ""}`,
      influenceWords(decoded.influence[i])];
    const context = model.get("contexts")[i];
    if (context) lines.push(`${model.get("contexts_from")}:`, ...context.split("\n"));
    for (const group of model.get("supernodes")) if (group.slice(1).includes(i)) lines.push(`supernode ${String(group[0])}`);
    return lines.map(oneLine); // a label or context holding a control character stays one readable line
  };
  const point = (event: MouseEvent): [number, number] => {
    const box = graph.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  };
  let drag: { x: number; y: number; moved: boolean } | null = null;
  graph.canvas.addEventListener("mousedown", (event) => {
    drag = { x: event.clientX, y: event.clientY, moved: false };
  });
  graph.canvas.addEventListener("mousemove", (event) => {
    if (drag && (event.buttons & 1)) {
      const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2 || drag.moved) {
        drag = { x: event.clientX, y: event.clientY, moved: true };
        tip.hide();
        graph.pan(dx, dy);
        placeTokens();
        return;
      }
    }
    const [px, py] = point(event);
    const node = graph.hit(px, py);
    if (node !== graph.hovered) {
      graph.hovered = node;
      graph.draw();
    }
    if (node >= 0) tip.show(tooltipLines(node), event.clientX, event.clientY);
    else showEdge(graph.hitEdge(px, py), event.clientX, event.clientY);
  });
  graph.canvas.addEventListener("mouseleave", () => {
    graph.hovered = -1;
    tip.hide();
    graph.draw();
  });
  graph.canvas.addEventListener("mouseup", (event) => {
    const moved = drag?.moved;
    drag = null;
    if (moved) return;
    const [px, py] = point(event);
    const node = graph.hit(px, py);
    if (node < 0) {
      fillWhy(graph.hitEdge(px, py));
      return;
    }
    pins = event.shiftKey ? (pins.includes(node) ? pins.filter((p) => p !== node) : [...pins, node]) : [node];
    showPins();
    if (decoded && decoded.kind[node] === 1) void ask(router, "select", { node }, status, banner, "");
  });
  graph.canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [px, py] = point(event);
    graph.zoomAt(px, py, event.deltaY < 0 ? 1.2 : 1 / 1.2);
    placeTokens();
  }, { passive: false });
  graph.canvas.addEventListener("dblclick", () => {
    graph.fit();
    placeTokens();
  });

  const edgeKey = (e: number) => (edges ? `${edges.source[e]}-${edges.target[e]}` : "");
  const edgeLines = (e: number): string[] => {
    if (!edges) return [];
    const s = edges.source[e], t = edges.target[e], found = loadings.get(edgeKey(e));
    const lines = [`edge ${labels[s]} \u2192 ${labels[t]}: ${formatValue(edges.weight[e])}`];
    if (found === undefined) lines.push("by head: asking the kernel\u2026");
    else if (typeof found === "string") lines.push(found);
    else {
      lines.push("the heads its path enters first (from the source):", ...found.heads.map(([l, h, part]) => `  L${l}H${h}: ${formatValue(part)}`));
      lines.push(`not through attention: ${formatValue(found.direct)}`, "click: fill \u201cwhy attend?\u201d with its strongest head");
    }
    return lines.map(oneLine);
  };
  const showEdge = (e: number, x: number, y: number) => {
    hoveredEdge = e;
    if (e < 0 || !edges) {
      tip.hide();
      return;
    }
    tip.show(edgeLines(e), x, y);
    const key = edgeKey(e);
    if (loadings.has(key) || !model.get("can_intervene")) {
      if (!model.get("can_intervene")) loadings.set(key, "by head: needs the model and its transcoders");
      return;
    }
    void router.latest<{ direct: number; total: number; heads: [number, number, number][] }>("edge_heads", { source: edges.source[e], target: edges.target[e] })
      .then((outcome) => {
        if (outcome.status === "stale") return;
        loadings.set(key, outcome.status === "ok" ? outcome.result : `by head: ${outcome.error}`);
        if (hoveredEdge === e) tip.show(edgeLines(e), x, y); // a stale reply never replaces the hovered edge's
      });
  };
  const fillWhy = (e: number) => {
    if (e < 0 || !edges) return;
    const s = edges.source[e], t = edges.target[e];
    const found = loadings.get(edgeKey(e));
    if (typeof found === "object" && found.heads.length) {
      why.layer.value = String(found.heads[0][0]);
      why.head.value = String(found.heads[0][1]);
    }
    why.query.value = String(edges.kind[t] === 3 ? model.get("token_strings").length - 1 : edges.pos[t]);
    why.key.value = String(edges.pos[s]);
  };
  const drawWhy = () => {
    const found = model.get("attention");
    whyPanel.replaceChildren();
    if (!found.pairs) return;
    whyPanel.append(element("div", "iw-row-label", `${found.description}: score ${formatValue(found.score ?? 0)} (weight ${formatValue(found.weight ?? 0)}); `
      + "the strongest query \u00d7 key pairs (click a feature to open it in the dashboard):"));
    const table = element("table", "iw-score-table");
    table.append(element("tr", "", ""));
    table.rows[0].append(...["query side", "key side", "part of the score"].map((h) => element("th", "", h)));
    const opener = (label: string, feature: number[] | null) => {
      const cell = element("td", "", "");
      if (!feature) cell.textContent = oneLine(label);
      else cell.append(button(oneLine(label), () => void ask(router, "open_feature", { layer: feature[0], feature: feature[1], position: feature[2] }, status, banner, "")));
      return cell;
    };
    for (const [query, key, part, qFeature, kFeature] of found.pairs) {
      const tr = element("tr", "iw-score-row");
      tr.append(opener(query, qFeature), opener(key, kFeature), element("td", "", formatValue(part)));
      table.append(tr);
    }
    whyPanel.append(table);
  };

  const placeTokens = () => {
    const tokens = model.get("token_strings");
    tokenRow.replaceChildren();
    let freeFrom = -Infinity; // a label is shown only where it does not overlap the previous one
    tokens.forEach((token, p) => {
      const x = graph.columnCentre(p);
      const half = (JSON.stringify(token).length * 7) / 2;
      if (x < 0 || x > graph.width || x - half < freeFrom) return;
      freeFrom = x + half + 4;
      const span = element("span", "iw-graph-token", JSON.stringify(token));
      span.style.left = `${x}px`;
      tokenRow.append(span);
    });
  };

  const drawAll = () => {
    title.textContent = model.get("title");
    prompt.sync(model.get("prompt"));
    nodeShare.value = String(model.get("node_share"));
    edgeShare.value = String(model.get("edge_share"));
    scores.textContent = model.get("scores");
    scores.hidden = !model.get("scores");
    counts.textContent = `${model.get("counts")} · rows: tokens (bottom), layers 0–${model.get("n_layers") - 1}, logits (top); columns: token positions · drag to pan, wheel to zoom, double-click to fit`;
    labels = model.get("labels");
    const kind = decodeCached(model.get("node_kind")).data as Uint8Array;
    decoded = { kind, activation: decodeCached(model.get("node_activation")).data as ArrayLike<number>, influence: decodeCached(model.get("node_influence")).data as ArrayLike<number> };
    const row = decodeCached(model.get("node_row")).data as Int32Array;
    const pos = decodeCached(model.get("node_pos")).data as Int32Array;
    let nPos = model.get("token_strings").length;
    for (let i = 0; i < pos.length; i++) nPos = Math.max(nPos, pos[i] + 1);
    const data: GraphData = { kind, row, pos, influence: decoded.influence as Float32Array,
      source: decodeCached(model.get("edge_source")).data as Int32Array, target: decodeCached(model.get("edge_target")).data as Int32Array,
      weight: decodeCached(model.get("edge_weight")).data as Float32Array, nRows: model.get("n_layers") + 2, nPos };
    edges = { source: data.source, target: data.target, weight: data.weight, pos, kind };
    const c = colors();
    legend.replaceChildren(
      lineKey([{ label: "edge excites (+)", color: c.positive }, { label: "edge inhibits (−)", color: c.negative }, { label: "width: |direct effect|", color: c.muted, width: 4 }]),
      ...KIND_NAMES.map((name, k) => {
        const item = element("span", "iw-legend-item", ` ${name}`);
        const swatch = element("span", "iw-graph-swatch");
        swatch.style.background = c.kinds[k];
        item.prepend(swatch);
        return item;
      }),
    );
    graph.groups = model.get("supernodes").map((group) => group.slice(1) as number[]);
    if (model.get("node_kind") !== shownKind) { // new graph (not just a new intervention or supernode)
      shownKind = model.get("node_kind");
      loadings.clear();
      pins = pins.filter((i) => i < kind.length);
      graph.setData(data);
    } else graph.draw();
    showPins();
    placeTokens();
    supernodeList.textContent = model.get("supernodes").map((group) => `supernode ${String(group[0])}: ${group.slice(1).map((i) => labels[i as number]).join(", ")}`).join("\n");
    intervene.disabled = !model.get("can_intervene");
    drawWhy();
    const result = model.get("intervention");
    results.replaceChildren();
    if (result.rows) {
      results.append(element("div", "iw-row-label", result.description ?? ""));
      const table = element("table", "iw-score-table");
      table.append(element("tr", "", ""));
      table.rows[0].append(...["token", "p before", "p after", "logit before", "logit after"].map((h) => element("th", "", h)));
      for (const [token, p0, p1, l0, l1] of result.rows) {
        const tr = element("tr", "iw-score-row");
        tr.append(...[JSON.stringify(token), formatValue(p0), formatValue(p1), formatValue(l0), formatValue(l1)].map((text) => element("td", "", text)));
        table.append(tr);
      }
      results.append(table);
    }
  };
  const teardown = redrawOnChange(model, drawAll);
  // a theme change (JupyterLab light/dark) recolours the canvas, which CSS alone cannot reach
  const themeWatch = new MutationObserver(() => graph.rebuild());
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });
  return () => {
    themeWatch.disconnect();
    teardown();
    tip.hide();
  };
});
