// The attribution graph's canvas (js/graph_view.ts): layout by layer row and token column, edges
// drawn once into a cached bitmap (bucketed by sign and width, one path per bucket) so that a pan
// frame is one bitmap copy, a spatial grid for hover hit-tests, and an overlay for the hovered and
// pinned nodes and the supernodes. Everything drawn is numbers and shapes; labels stay in the DOM.
import { GROUPS } from "./palette";

export type GraphData = {
  kind: Uint8Array; // [N] 0 token, 1 feature, 2 error, 3 logit
  row: Int32Array; // [N] 0 .. nLayers + 1
  pos: Int32Array; // [N]
  influence: Float32Array; // [N] 0 = most influential
  source: Int32Array; // [E]
  target: Int32Array; // [E]
  weight: Float32Array; // [E]
  nRows: number;
  nPos: number;
};

export type Colors = { positive: string; negative: string; fg: string; muted: string; accent: string; kinds: string[] };

const MIN_ROW_HEIGHT = 40;
const SPACING = 9; // world units between nodes of one cell
const CELL_PAD = 12;
const MAX_CACHE = 8192;
const BUCKETS = 4;
const CHUNK = 500; // segments per stroked path
const GRID = 24; // spatial hash cell, world units

const LABEL_HEIGHT = 12; // screen px a row label needs

/** The rows whose labels a frame draws: only those on screen (row `r` is drawn at
 * `(nRows - 1 - r + 0.5) * rowPixels + ty`), every `step`-th where rows are closer than a label is
 * tall. The work is the canvas's height, not the number of rows (a file claiming 10^9 layers once
 * froze the tab writing a label per layer every frame). */
export function labelledRows(nRows: number, rowPixels: number, ty: number, height: number): { first: number; last: number; step: number } {
  if (!(nRows > 0) || !(rowPixels > 0) || !Number.isFinite(ty)) return { first: 0, last: -1, step: 1 };
  const rowAt = (y: number) => nRows - 0.5 - (y - ty) / rowPixels;
  const step = Math.max(1, Math.ceil(LABEL_HEIGHT / rowPixels));
  const first = Math.max(0, Math.ceil(rowAt(height + LABEL_HEIGHT) / step) * step);
  const last = Math.min(nRows - 1, Math.floor(rowAt(-LABEL_HEIGHT)));
  return { first, last, step };
}

export class GraphCanvas {
  readonly canvas: HTMLCanvasElement;
  x = new Float32Array(0);
  y = new Float32Array(0);
  columnLeft: number[] = [];
  worldWidth = 1;
  worldHeight = 1;
  rowHeight = MIN_ROW_HEIGHT; // world units; rows are stretched so that a fitted graph fills the canvas
  zoom = 1;
  tx = 0;
  ty = 0;
  visible: Uint8Array | null = null; // nodes shown (ancestors / descendants filter); null: all
  hovered = -1;
  pinned: number[] = [];
  groups: number[][] = []; // supernode members
  drawnWith: Colors | null = null; // the theme's colours the cached layer was drawn in
  data: GraphData | null = null;
  private cache: HTMLCanvasElement | null = null;
  private cacheScale = 1;
  private grid = new Map<number, number[]>();
  private incoming: number[][] = [];
  private outgoing: number[][] = [];

  constructor(private colors: () => Colors, width: number, height: number) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "iw-graph-canvas";
    this.resize(width, height);
  }

  resize(width: number, height: number): void {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
  }

  get width(): number {
    return this.canvas.width / (window.devicePixelRatio || 1);
  }

  get height(): number {
    return this.canvas.height / (window.devicePixelRatio || 1);
  }

  /** New data: lay it out (columns as wide as their fullest cell), index it, fit it, draw. */
  setData(data: GraphData): void {
    this.data = data;
    const n = data.kind.length;
    const counts = new Map<number, number>();
    const widest = new Array(data.nPos).fill(1);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => data.influence[a] - data.influence[b]);
    const slot = new Int32Array(n);
    for (const i of order) {
      const key = data.row[i] * data.nPos + data.pos[i];
      const count = counts.get(key) ?? 0;
      slot[i] = count;
      counts.set(key, count + 1);
      widest[data.pos[i]] = Math.max(widest[data.pos[i]], count + 1);
    }
    this.columnLeft = [];
    let left = 0;
    for (let p = 0; p < data.nPos; p++) {
      this.columnLeft.push(left);
      left += widest[p] * SPACING + CELL_PAD;
    }
    this.columnLeft.push(left);
    this.worldWidth = Math.max(left, 1);
    this.rowHeight = Math.max(MIN_ROW_HEIGHT, (this.worldWidth * (this.height - 10)) / (this.width - 50) / data.nRows);
    this.worldHeight = data.nRows * this.rowHeight;
    this.x = new Float32Array(n);
    this.y = new Float32Array(n);
    this.grid.clear();
    for (let i = 0; i < n; i++) {
      const key = data.row[i] * data.nPos + data.pos[i];
      const inCell = counts.get(key) ?? 1;
      const cellWidth = this.columnLeft[data.pos[i] + 1] - this.columnLeft[data.pos[i]];
      this.x[i] = this.columnLeft[data.pos[i]] + (cellWidth - inCell * SPACING) / 2 + (slot[i] + 0.5) * SPACING;
      this.y[i] = (data.nRows - 1 - data.row[i] + 0.5) * this.rowHeight;
      const cell = this.gridKey(this.x[i], this.y[i]);
      const list = this.grid.get(cell);
      if (list) list.push(i);
      else this.grid.set(cell, [i]);
    }
    this.incoming = Array.from({ length: n }, () => []);
    this.outgoing = Array.from({ length: n }, () => []);
    for (let e = 0; e < data.source.length; e++) {
      this.incoming[data.target[e]].push(e);
      this.outgoing[data.source[e]].push(e);
    }
    this.visible = null;
    this.fit();
  }

  private gridKey(x: number, y: number): number {
    return Math.floor(y / GRID) * 100_003 + Math.floor(x / GRID);
  }

  fit(): void {
    this.zoom = Math.min((this.width - 50) / this.worldWidth, (this.height - 10) / this.worldHeight);
    this.tx = 45 + (this.width - 45 - this.worldWidth * this.zoom) / 2;
    this.ty = (this.height - this.worldHeight * this.zoom) / 2;
    this.rebuild();
  }

  /** The nodes upstream (`ancestors`) or downstream of `nodes`, themselves included. */
  reach(nodes: number[], direction: "ancestors" | "descendants"): Uint8Array {
    const data = this.data!;
    const seen = new Uint8Array(data.kind.length);
    const stack = [...nodes];
    nodes.forEach((node) => (seen[node] = 1));
    while (stack.length) {
      const node = stack.pop()!;
      for (const e of direction === "ancestors" ? this.incoming[node] : this.outgoing[node]) {
        const next = direction === "ancestors" ? data.source[e] : data.target[e];
        if (!seen[next]) {
          seen[next] = 1;
          stack.push(next);
        }
      }
    }
    return seen;
  }

  /** Redraw the cached layer (edges and nodes at the current zoom), then the frame. */
  rebuild(): void {
    const data = this.data;
    if (!data) return;
    const scale = Math.min(this.zoom, MAX_CACHE / this.worldWidth, MAX_CACHE / this.worldHeight);
    const cache = this.cache ?? document.createElement("canvas");
    cache.width = Math.max(1, Math.ceil(this.worldWidth * scale));
    cache.height = Math.max(1, Math.ceil(this.worldHeight * scale));
    this.cache = cache;
    this.cacheScale = scale;
    const context = cache.getContext("2d")!;
    context.setTransform(scale, 0, 0, scale, 0, 0);
    const colors = this.colors();
    this.drawnWith = colors;
    let largest = 0;
    for (let e = 0; e < data.weight.length; e++) largest = Math.max(largest, Math.abs(data.weight[e]));
    const show = this.visible;
    // Software rasterisers (no GPU) stroke 1-px hairlines fast and wide or huge paths slowly: the weak
    // majority of edges are hairlines (fainter when weaker), only the strongest are wide, and each
    // path holds at most CHUNK segments.
    const level = new Uint8Array(data.weight.length);
    for (let e = 0; e < data.weight.length; e++) {
      level[e] = Math.min(BUCKETS - 1, Math.floor((Math.abs(data.weight[e]) / (largest || 1)) * BUCKETS)); // width grows with |weight|
    }
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      context.globalAlpha = [0.3, 0.55, 0.6, 0.7][bucket];
      context.lineWidth = [1, 1, 2, 3.5][bucket] / scale;
      for (let sign = 0; sign < 2; sign++) {
        context.strokeStyle = sign === 0 ? colors.positive : colors.negative;
        let segments = 0;
        context.beginPath();
        for (let e = 0; e < data.weight.length; e++) {
          if (level[e] !== bucket || (data.weight[e] >= 0) !== (sign === 0)) continue;
          const s = data.source[e], t = data.target[e];
          if (show && !(show[s] && show[t])) continue;
          context.moveTo(this.x[s], this.y[s]);
          context.lineTo(this.x[t], this.y[t]);
          if (++segments % CHUNK === 0) {
            context.stroke();
            context.beginPath();
          }
        }
        context.stroke();
      }
    }
    context.globalAlpha = 1;
    for (let kind = 0; kind < 4; kind++) {
      context.beginPath();
      for (let i = 0; i < data.kind.length; i++) {
        if (data.kind[i] !== kind || (show && !show[i])) continue;
        context.rect(this.x[i] - 3, this.y[i] - 3, 6, 6);
      }
      context.fillStyle = colors.kinds[kind];
      context.fill();
    }
    this.draw();
  }

  /** One frame: the cached layer at the current pan, then the overlay. */
  draw(): void {
    const context = this.canvas.getContext("2d")!;
    const ratio = window.devicePixelRatio || 1;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, this.width, this.height);
    if (!this.cache || !this.data) return;
    const factor = this.zoom / this.cacheScale;
    context.drawImage(this.cache, this.tx, this.ty, this.cache.width * factor, this.cache.height * factor);
    const colors = this.colors();
    context.fillStyle = colors.muted;
    context.font = "11px sans-serif";
    context.textBaseline = "middle";
    const rows = labelledRows(this.data.nRows, this.rowHeight * this.zoom, this.ty, this.height);
    for (let row = rows.first; row <= rows.last; row += rows.step) {
      const name = row === 0 ? "tokens" : row === this.data.nRows - 1 ? "logits" : `L${row - 1}`;
      context.fillText(name, 4, (this.data.nRows - 1 - row + 0.5) * this.rowHeight * this.zoom + this.ty);
    }
    context.lineWidth = 2;
    this.groups.forEach((members, g) => {
      context.strokeStyle = GROUPS[g % GROUPS.length];
      for (const i of members) this.ring(context, i, 7);
    });
    context.strokeStyle = colors.accent;
    for (const i of this.pinned) this.ring(context, i, 6);
    if (this.hovered >= 0) {
      context.strokeStyle = colors.fg;
      this.ring(context, this.hovered, 6);
    }
  }

  private ring(context: CanvasRenderingContext2D, i: number, radius: number): void {
    const [sx, sy] = this.toScreen(i);
    context.beginPath();
    context.arc(sx, sy, radius, 0, 2 * Math.PI);
    context.stroke();
  }

  toScreen(i: number): [number, number] {
    return [this.x[i] * this.zoom + this.tx, this.y[i] * this.zoom + this.ty];
  }

  /** The visible node under the canvas point (px from the canvas's corner), or -1. */
  hit(px: number, py: number): number {
    const wx = (px - this.tx) / this.zoom, wy = (py - this.ty) / this.zoom;
    const radius = Math.max(5, 6 / this.zoom);
    let best = -1, bestDistance = radius * radius;
    for (let gy = Math.floor((wy - radius) / GRID); gy <= Math.floor((wy + radius) / GRID); gy++) {
      for (let gx = Math.floor((wx - radius) / GRID); gx <= Math.floor((wx + radius) / GRID); gx++) {
        for (const i of this.grid.get(gy * 100_003 + gx) ?? []) {
          if (this.visible && !this.visible[i]) continue;
          const d = (this.x[i] - wx) ** 2 + (this.y[i] - wy) ** 2;
          if (d <= bestDistance) {
            best = i;
            bestDistance = d;
          }
        }
      }
    }
    return best;
  }

  /** The visible edge passing nearest the canvas point (within a few pixels), or -1. */
  hitEdge(px: number, py: number): number {
    const data = this.data;
    if (!data) return -1;
    const wx = (px - this.tx) / this.zoom, wy = (py - this.ty) / this.zoom;
    const radius = Math.max(3, 4 / this.zoom);
    let best = -1, bestDistance = radius * radius;
    for (let e = 0; e < data.weight.length; e++) {
      const s = data.source[e], t = data.target[e];
      if (this.visible && !(this.visible[s] && this.visible[t])) continue;
      const ax = this.x[s], ay = this.y[s], dx = this.x[t] - ax, dy = this.y[t] - ay;
      const length = dx * dx + dy * dy;
      const along = length > 0 ? Math.max(0, Math.min(1, ((wx - ax) * dx + (wy - ay) * dy) / length)) : 0;
      const d = (ax + along * dx - wx) ** 2 + (ay + along * dy - wy) ** 2;
      if (d < bestDistance) {
        best = e;
        bestDistance = d;
      }
    }
    return best;
  }

  pan(dx: number, dy: number): void {
    this.tx += dx;
    this.ty += dy;
    this.draw();
  }

  zoomAt(px: number, py: number, factor: number): void {
    const next = Math.max(0.05, Math.min(40, this.zoom * factor));
    this.tx = px - ((px - this.tx) * next) / this.zoom;
    this.ty = py - ((py - this.ty) * next) / this.zoom;
    this.zoom = next;
    this.rebuild();
  }

  /** Position of each column's centre on screen (for the token labels under the canvas). */
  columnCentre(p: number): number {
    return ((this.columnLeft[p] + this.columnLeft[p + 1]) / 2) * this.zoom + this.tx;
  }
}
