// A histogram (e.g. max cosine similarity per feature between two dictionaries), with its mean.
import { toNumbers, type WireArray } from "./lib/codec";
import { barChart } from "./lib/chart";
import { formatValue } from "./lib/colors";
import { element } from "./lib/dom";
import { frame, redrawOnChange, routedWidget } from "./lib/widget";

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

// The shared routed front-end (lib/widget.ts): save menu, error banners, redraw on change, as every view.
export default routedWidget<State>(({ model, el }) => {
  const { root } = frame("iw-histogram");
  const body = element("div");
  const caption = element("div", "iw-caption");
  root.append(body, caption);
  el.appendChild(root);
  function draw() {
    const mean = model.get("mean");
    const marker = mean === null ? undefined : { value: mean, label: `${model.get("mean_label")} ${formatValue(mean)}` };
    caption.textContent = model.get("caption");
    const chart = barChart(toNumbers(model.get("counts")), toNumbers(model.get("edges")), {
      title: model.get("title"), xLabel: model.get("x_label"), yLabel: model.get("y_label"), unit: model.get("unit"), marker,
    });
    body.replaceChildren(chart);
  }
  return redrawOnChange(model, draw);
});
