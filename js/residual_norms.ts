// Residual-stream norm per layer boundary: the mean per series with its fitted exponential
// (dashed), the first prompt's norm per position (one line per boundary), and the norms of what
// each block writes beside the stream's. A new prompt, BOS in or out and the mid-block boundary
// are requests to the kernel, which recomputes; the log/linear toggle and hover stay in the view.
import { at, decodeCached, toRows, type WireArray } from "./lib/codec";
import { lineChart, PALETTE, type LineStyle } from "./lib/chart";
import { formatValue } from "./lib/colors";
import { element } from "./lib/dom";
import { promptBox } from "./lib/prompt";
import { frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";
import { visibleToken } from "./lib/tokens";

interface State {
  labels: string[];
  depths: WireArray;
  series_names: string[];
  mean_norms: WireArray;
  fits: { factor: number; scale: number; r2: number }[];
  attn_norms: WireArray;
  mlp_norms: WireArray;
  tokens: string[];
  position_norms: WireArray;
  include_bos: boolean;
  mid: boolean;
  log_scale: boolean;
  prompt: string;
  editable: boolean;
  title: string;
}

function checkbox(label: string): { node: HTMLLabelElement; input: HTMLInputElement } {
  const node = element("label", "iw-check");
  const input = element("input");
  input.type = "checkbox";
  node.append(input, document.createTextNode(` ${label}`));
  return { node, input };
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-residual-norms");
  const prompt = promptBox(router, banner);
  const bos = checkbox("include BOS");
  const mid = checkbox("mid-block");
  const fitsBox = element("div", "iw-fits");
  const charts = element("div", "iw-charts");
  toolbar.append(prompt.form, bos.node, mid.node, prompt.status);
  root.append(fitsBox, charts);
  el.appendChild(root);

  const setOptions = () => setInputs(router, { include_bos: bos.input.checked, mid: mid.input.checked }, prompt.status, banner);
  bos.input.addEventListener("change", setOptions);
  mid.input.addEventListener("change", setOptions);

  function draw() {
    title.textContent = model.get("title");
    prompt.form.hidden = !model.get("editable");
    prompt.sync(model.get("prompt"));
    bos.input.checked = model.get("include_bos");
    mid.input.checked = model.get("mid");
    const labels = model.get("labels");
    const names = model.get("series_names");
    const fits = model.get("fits");
    const depthsDecoded = decodeCached(model.get("depths"));
    const depths = Array.from({ length: depthsDecoded.data.length }, (_, i) => at(depthsDecoded, i));
    const means = toRows(model.get("mean_norms"));
    const log = model.get("log_scale");

    fitsBox.replaceChildren(
      ...names.map((name, s) => {
        const item = element("span", "iw-legend-item", `\u25a0 ${name}: \u00d7${fits[s].factor.toFixed(2)} per layer (R\u00b2 ${fits[s].r2.toFixed(3)})`);
        item.style.color = PALETTE[s % PALETTE.length];
        return item;
      }),
    );
    // The stream's mean norm per boundary, and each series' fit drawn dashed in its colour.
    const fitted = fits.map((fit) => depths.map((d) => fit.scale * fit.factor ** d));
    const styles: LineStyle[] = [
      ...names.map((_, s) => ({ color: PALETTE[s % PALETTE.length], width: 2 })),
      ...names.map((_, s) => ({ color: PALETTE[s % PALETTE.length], dash: "4 3", opacity: 0.7 })),
    ];
    const where = (i: number) => `${labels[i]} (layer ${formatValue(depths[i])})`;
    const meanChart = lineChart(depths, [...means, ...fitted], {
      title: `mean norm per boundary${model.get("include_bos") ? "" : " (BOS left out)"}`,
      xLabel: "layer (0 = embeddings)", yLabel: "L2 norm", log,
      names: [...names, ...names.map((n) => `${n} fit`)], styles, xName: where,
      quiet: [...names.map(() => false), ...names.map(() => true)],
      key: [
        ...names.map((name, s) => ({ label: name, color: PALETTE[s % PALETTE.length], width: 2 })),
        { label: "dashed: the fitted exponential (its series' colour)", color: "currentColor", dash: "4 3", opacity: 0.7 },
      ],
    });

    // The first series per position: one line per boundary, darker with depth.
    const tokens = model.get("tokens");
    const perPosition = toRows(model.get("position_norms"));
    const positions = tokens.map((_, i) => i);
    const positionChart = lineChart(positions, perPosition, {
      title: `per position: ${names[0] ?? ""}`, xLabel: "position", yLabel: "L2 norm", log, names: labels, width: 420,
      styles: labels.map((_, b) => ({ color: PALETTE[0], opacity: 0.25 + (0.75 * b) / Math.max(1, labels.length - 1) })),
      xName: (i) => `position ${i} ${JSON.stringify(visibleToken(tokens[i] ?? ""))}`,
      key: [
        { label: `${labels[0] ?? ""} (faint)`, color: PALETTE[0], opacity: 0.25 },
        { label: `${labels[labels.length - 1] ?? ""} (solid): one line per layer boundary, darker with depth`, color: PALETTE[0] },
      ],
    });

    // What each block writes, beside the stream it writes into (first series).
    const attn = toRows(model.get("attn_norms"))[0] ?? [];
    const mlp = toRows(model.get("mlp_norms"))[0] ?? [];
    const layers = attn.map((_, l) => l);
    const streamIn = layers.map((l) => means[0]?.[labels.indexOf(`${l}_pre`)] ?? NaN);
    const writesChart = lineChart(layers, [streamIn, attn, mlp], {
      title: `what each block writes: ${names[0] ?? ""}`, xLabel: "layer", yLabel: "L2 norm", log,
      names: ["stream in", "attention out", "MLP out"],
      styles: [{ color: PALETTE[7], width: 2 }, { color: PALETTE[1] }, { color: PALETTE[2] }],
    });
    charts.replaceChildren(meanChart, positionChart, writesChart);
    // One scale for the three charts, kept in the model (so it is saved and set from code too).
    charts.querySelectorAll<HTMLButtonElement>(".iw-scale-toggle").forEach((toggle) =>
      toggle.addEventListener("click", () => {
        model.set("log_scale", !log);
        model.save_changes();
      }),
    );
  }
  return redrawOnChange(model, draw);
});
