// Live SAE training view: one small chart per metric, one line per SAE, redrawn as the kernel
// appends logged points (history [n_saes, n_points, n_metrics] as a binary float32 buffer).
import { decodeCached, type WireArray } from "./lib/codec";
import { lineChart, PALETTE } from "./lib/chart";
import { element } from "./lib/dom";
import { frame, redrawOnChange, routedWidget } from "./lib/widget";

interface State {
  history: WireArray;
  metrics: string[];
  metric_labels: Record<string, string>;
  sae_names: string[];
  title: string;
}

// The shared routed front-end (lib/widget.ts): save menu, error banners, redraw on change, as every view.
export default routedWidget<State>(({ model, el }) => {
  const { root, title } = frame("iw-training-view");
  const legend = element("div", "iw-legend");
  const charts = element("div", "iw-charts");
  const waiting = element("div", "iw-caption iw-training-waiting");
  waiting.setAttribute("aria-live", "polite");
  root.append(legend, waiting, charts);
  el.appendChild(root);

  function draw() {
    title.textContent = model.get("title");
    const names = model.get("sae_names");
    const metrics = model.get("metrics");
    const { data, shape } = decodeCached(model.get("history"));
    const [nSaes, nPoints, nMetrics] = shape;
    const value = (s: number, p: number, m: number) => Number(data[(s * nPoints + p) * nMetrics + m]);
    legend.replaceChildren(
      ...names.map((name, index) => {
        const item = element("span", "iw-legend-item", `\u25a0 ${name}`);
        item.style.color = PALETTE[index % PALETTE.length];
        return item;
      }),
    );
    // Before the trainer's first log step the charts would sit empty: say what the view waits for.
    waiting.hidden = nPoints > 0;
    waiting.textContent = nPoints > 0 ? "" : "Waiting for the first logged training step: the charts fill in as the trainer logs (every log_every steps).";
    const steps = Array.from({ length: nPoints }, (_, p) => value(0, p, 0));
    const labels = model.get("metric_labels");
    charts.replaceChildren(
      ...metrics.slice(1).map((metric, offset) => {
        const series = Array.from({ length: nSaes }, (_, s) => Array.from({ length: nPoints }, (_, p) => value(s, p, offset + 1)));
        return lineChart(steps, series, { title: labels[metric] ?? metric, xLabel: metrics[0], yLabel: metric, names, key: [] }); // the view's legend names the sizes
      }),
    );
  }
  return redrawOnChange(model, draw);
});
