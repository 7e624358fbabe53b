// Feature dashboard: one feature's density, histogram, top contexts, binned examples, top tokens and
// logit lens. Each example is a context coloured by the feature with its activating token marked;
// clicking one opens it in the linked ablation explorer (through the shared selection).
import { barRow } from "./lib/bars";
import { at, decodeCached, type WireArray } from "./lib/codec";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { activate, element, numberInput, submitOnEnter, tooltip } from "./lib/dom";
import { featureIndexForm } from "./lib/prompt";
import { ask, frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";
import { tokenSpan, visibleToken } from "./lib/tokens";

type Example = { sequence: number; position: number; value: number; tokens: string[]; values: number[]; center: number };
interface State {
  feature: number;
  label: string;
  n_tokens: number;
  density: number;
  max: number;
  histogram_edges: WireArray;
  histogram_counts: WireArray;
  top: Example[];
  bins: { low: number; high: number; count: number; examples: Example[] }[];
  top_tokens: [string, number, number, number][];
  logit_top: [string, number][];
  logit_bottom: [string, number][];
  left: number;
  right: number;
  progress: string;
  notes: string[];
  title: string;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-feature-dashboard");
  const status = element("span", "iw-status");
  const { form: featureForm, input: featureInput } = featureIndexForm(router, banner, status, () => model.get("feature"));
  const leftInput = numberInput("context before", 0, 64);
  const rightInput = numberInput("context after", 0, 64);
  leftInput.title = "tokens of context shown before the activating token";
  rightInput.title = "tokens of context shown after the activating token";
  featureForm.append(element("span", "iw-caption", "context: tokens before"), leftInput, element("span", "iw-caption", "after"), rightInput);
  const progress = element("span", "iw-status iw-progress");
  toolbar.append(featureForm, status, progress);
  const summary = element("div", "iw-caption iw-dashboard-summary");
  const notes = element("div", "iw-caption");
  const columns = element("div", "iw-charts");
  const examplesBox = element("div", "iw-examples");
  const binsBox = element("div", "iw-examples");
  root.append(summary, notes, columns, element("div", "iw-chart-title", "top activations (click one to explore it)"), examplesBox, binsBox);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  const sendContext = () => setInputs(router, { left: Number(leftInput.value), right: Number(rightInput.value) }, status, banner);
  submitOnEnter(leftInput, sendContext);
  submitOnEnter(rightInput, sendContext);

  function exampleRow(example: Example, max: number): HTMLDivElement {
    const row = element("div", "iw-example");
    row.append(element("span", "iw-example-value", formatValue(example.value)));
    const scale = chooseScale([0, max], "sequential");
    const text = element("span", "iw-tokens");
    example.tokens.forEach((token, i) => {
      const span = tokenSpan(token, i === example.center ? "iw-token iw-target" : "iw-token");
      span.style.background = colorFor(example.values[i], scale);
      span.addEventListener("mousemove", (event) => tip.show([JSON.stringify(visibleToken(token)), `activation ${formatValue(example.values[i])}`], event.clientX, event.clientY));
      span.addEventListener("mouseleave", () => tip.hide());
      text.append(span);
    });
    row.append(text);
    row.setAttribute("aria-label", `example at sequence ${example.sequence}, position ${example.position}: ${formatValue(example.value)}; open in the ablation explorer`);
    activate(row, () => ask(router, "open_example", { sequence: example.sequence, position: example.position }, status, banner));
    return row;
  }

  function histogram(): HTMLDivElement {
    const box = element("div", "iw-bars");
    box.append(element("div", "iw-chart-title", "activation histogram (where it fires)"));
    const counts = decodeCached(model.get("histogram_counts"));
    const edges = decodeCached(model.get("histogram_edges"));
    const n = counts.data.length;
    let largest = 1;
    for (let i = 0; i < n; i++) largest = Math.max(largest, at(counts, i));
    const bars = element("div", "iw-activation-histogram");
    for (let i = 0; i < n; i++) {
      const bar = element("span", "iw-activation-bar");
      bar.style.height = `${(100 * at(counts, i)) / largest}%`;
      bar.addEventListener("mousemove", (event) => tip.show([`${formatValue(at(edges, i))} – ${formatValue(at(edges, i + 1))}`, `${at(counts, i)} tokens`], event.clientX, event.clientY));
      bar.addEventListener("mouseleave", () => tip.hide());
      bars.append(bar);
    }
    box.append(bars, element("div", "iw-caption", `0 … ${formatValue(model.get("max"))} (activation); bar height: token count`));
    return box;
  }

  function listColumn(heading: string, rows: HTMLElement[]): HTMLDivElement {
    const box = element("div", "iw-bars");
    box.append(element("div", "iw-chart-title", heading), ...rows);
    return box;
  }

  const teardown = redrawOnChange(model, () => {
    title.textContent = `${model.get("title")} · ${model.get("label")}`;
    if (document.activeElement !== featureInput) featureInput.value = String(model.get("feature"));
    if (document.activeElement !== leftInput) leftInput.value = String(model.get("left"));
    if (document.activeElement !== rightInput) rightInput.value = String(model.get("right"));
    progress.textContent = model.get("progress");
    summary.textContent = `fires on ${(100 * model.get("density")).toFixed(2)} % of ${model.get("n_tokens").toLocaleString()} held-out tokens; max activation ${formatValue(model.get("max"))}`;
    notes.textContent = model.get("notes").join(" ");
    const tokens = model.get("top_tokens");
    const largestMean = Math.max(1e-12, ...tokens.map((t) => t[1]));
    const logitTop = model.get("logit_top");
    const logitBottom = model.get("logit_bottom");
    const largestLogit = Math.max(1e-12, ...[...logitTop, ...logitBottom].map((t) => Math.abs(t[1])));
    columns.replaceChildren(
      histogram(),
      listColumn("tokens it fires on most (mean over occurrences)", tokens.map(([token, mean, fires, occurrences]) => {
        const row = barRow(token, mean / largestMean, mean);
        row.title = `fires on ${fires} of ${occurrences} occurrences`;
        return row;
      })),
      listColumn("logit lens: promotes / suppresses", [
        ...logitTop.map(([token, score]) => barRow(token, Math.abs(score) / largestLogit, score)),
        ...logitBottom.map(([token, score]) => barRow(token, Math.abs(score) / largestLogit, score, true)),
      ]),
    );
    examplesBox.replaceChildren(...model.get("top").map((e) => exampleRow(e, model.get("max"))));
    binsBox.replaceChildren(
      element("div", "iw-chart-title", "examples from equal-width activation bins (count per bin)"),
      ...model.get("bins").flatMap((bin) => [
        element("div", "iw-row-label", `${formatValue(bin.low)} – ${formatValue(bin.high)}: ${bin.count} tokens`),
        ...bin.examples.map((e) => exampleRow(e, model.get("max"))),
      ]),
    );
  });
  return () => {
    teardown();
    tip.hide();
  };
});
