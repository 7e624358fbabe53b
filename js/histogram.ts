// A histogram (e.g. max cosine similarity per feature between two dictionaries), with its mean.
import type { AnyModel } from "@anywidget/types";
import { at, decodeArray, type WireArray } from "./lib/codec";
import { barChart } from "./lib/chart";
import { formatValue } from "./lib/colors";
import { element } from "./lib/dom";
import { ensureStyles } from "./lib/style";

interface State {
  counts: WireArray;
  edges: WireArray;
  title: string;
  mean: number | null;
  mean_label: string;
  caption: string;
  x_label: string;
  y_label: string;
  unit: string;
}

function toNumbers(wire: WireArray): number[] {
  const decoded = decodeArray(wire);
  return Array.from({ length: decoded.data.length }, (_, i) => at(decoded, i));
}

function render({ model, el }: { model: AnyModel<State>; el: HTMLElement }) {
  ensureStyles();
  const root = element("div", "iw-root iw-histogram");
  const caption = element("div", "iw-caption");
  el.appendChild(root);
  function draw() {
    const mean = model.get("mean");
    const marker = mean === null ? undefined : { value: mean, label: `${model.get("mean_label")} ${formatValue(mean)}` };
    caption.textContent = model.get("caption");
    const chart = barChart(toNumbers(model.get("counts")), toNumbers(model.get("edges")), {
      title: model.get("title"), xLabel: model.get("x_label"), yLabel: model.get("y_label"), unit: model.get("unit"), marker,
    });
    root.replaceChildren(chart, caption);
  }
  draw();
  model.on("change", draw);
  return () => model.off("change", draw);
}

export default { render };
