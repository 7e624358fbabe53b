// Activation patching: denoising and noising side by side on one colour scale centred on zero.
// Each cell is one patched run; hover for its value, click (or Enter) for its top predictions.
// The clean and corrupt prompts and the component are edited here and recomputed in the kernel.
import { barRow } from "./lib/bars";
import { at, decodeCached, type Decoded, type WireArray } from "./lib/codec";
import { colorFor, finiteRange, formatValue, type Scale } from "./lib/colors";
import { activate, element, submitOnEnter, tooltip } from "./lib/dom";
import { gridLayout } from "./lib/grid";
import { colorBar } from "./lib/legend";
import { promptArea, showText } from "./lib/prompt";
import { ask, frame, redrawOnChange, routedWidget, setInputs, showProgress } from "./lib/widget";
import { quotedToken, visibleToken } from "./lib/tokens";

interface State {
  clean_prompt: string;
  corrupt_prompt: string;
  tokens: string[];
  corrupt_tokens: string[];
  differing: number[];
  component: string;
  method: string;
  axes: string[];
  components: { name: string; axes: string[]; description: string }[];
  denoise: WireArray;
  noise: WireArray;
  clean_metric: number;
  corrupt_metric: number;
  metric_label: string;
  n_heads: number;
  selected: { direction?: string; cell?: number[]; metric?: number; top?: [string, number][] };
  warnings: string[];
  gap_note: string;
  title: string;
  progress: string;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-patching");
  const form = element("form", "iw-prompt iw-pair");
  const cleanInput = promptArea("clean prompt");
  const corruptInput = promptArea("corrupt prompt");
  const run = element("button", "iw-button", "Run");
  run.type = "submit";
  form.append(element("span", "iw-caption", "clean"), cleanInput, element("span", "iw-caption", "corrupt"), corruptInput, run);
  const componentSelect = element("select", "iw-input");
  componentSelect.setAttribute("aria-label", "component");
  // the kernel's registry of components (compute/patching/components.py), sent as data
  for (const { name, description } of model.get("components")) {
    componentSelect.append(Object.assign(element("option", "", name), { value: name, title: description }));
  }
  const methodSelect = element("select", "iw-input");
  methodSelect.setAttribute("aria-label", "method");
  methodSelect.append(
    Object.assign(element("option", "", "exact patching"), { value: "exact" }),
    Object.assign(element("option", "", "attribution (estimate; click patches exactly)"), { value: "attribution" }),
  );
  const status = element("span", "iw-status");
  toolbar.append(componentSelect, methodSelect, status);
  const caption = element("div", "iw-caption");
  const warnings = element("ul", "iw-warnings");
  const maps = element("div", "iw-charts");
  const detail = element("div", "iw-bars iw-patch-detail");
  root.append(form, caption, warnings, maps, detail);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  const sendPrompts = () => {
    // Enter on unchanged prompts sends nothing: the kernel's text (line breaks included) stays as it is
    if (cleanInput.value === model.get("clean_prompt") && corruptInput.value === model.get("corrupt_prompt")) return;
    setInputs(router, { clean: cleanInput.value, corrupt: corruptInput.value }, status, banner);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendPrompts();
  });
  submitOnEnter(cleanInput, sendPrompts);
  submitOnEnter(corruptInput, sendPrompts);
  methodSelect.addEventListener("change", () => setInputs(router, { method: methodSelect.value }, status, banner));
  componentSelect.addEventListener("change", () => setInputs(router, { component: componentSelect.value }, status, banner));

  /** Rows and columns of a map for any component's axes (`lib/grid.ts`), labelled. */
  function grid(values: Decoded): { rows: string[]; columns: string[]; value: (r: number, c: number) => number; cell: (r: number, c: number) => number[] } {
    const layout = gridLayout(values.shape, model.get("axes"));
    const tokens = model.get("tokens");
    const isPos = model.get("axes")[1] === "pos";
    const columns = Array.from({ length: layout.columns }, (_, i) => (isPos ? `${i} ${visibleToken(tokens[i] ?? "")}` : `H${i}`));
    return { rows: layout.rows, columns, value: (r, c) => at(values, layout.index(r, c)), cell: layout.cell };
  }

  function heatmap(direction: "denoise" | "noise", values: Decoded, scale: Scale): HTMLDivElement {
    const box = element("div", "iw-chart");
    const estimate = model.get("method") === "attribution" ? " · attribution estimate" : "";
    const heading = (direction === "denoise" ? "denoising: clean → corrupt run (+ restores)" : "noising: corrupt → clean run (− breaks)") + estimate;
    box.append(element("div", "iw-chart-title", heading));
    const { rows, columns, value, cell } = grid(values);
    const table = element("div", "iw-heatmap");
    table.style.gridTemplateColumns = `auto repeat(${columns.length}, minmax(1.6em, auto))`;
    table.append(element("span", ""));
    const differing = new Set(model.get("differing"));
    columns.forEach((label, c) => {
      const headCell = element("span", "iw-heat-col", label);
      if (model.get("axes")[1] === "pos" && differing.has(c)) headCell.classList.add("iw-differs");
      table.append(headCell);
    });
    const selected = model.get("selected");
    rows.forEach((rowLabel, r) => {
      table.append(element("span", "iw-heat-row", rowLabel));
      columns.forEach((columnLabel, c) => {
        const v = value(r, c);
        const square = element("span", "iw-heat-cell");
        square.style.background = colorFor(v, scale);
        const index = cell(r, c);
        square.dataset.cell = index.join(",");
        square.dataset.direction = direction;
        if (selected.direction === direction && selected.cell?.join(",") === index.join(",")) square.classList.add("iw-selected");
        const words = `${model.get("axes").map((axis, i) => `${axis} ${index[i]}`).join(", ")}`;
        square.setAttribute("aria-label", `${direction} ${words}: ${formatValue(v)}`);
        square.addEventListener("mousemove", (event) =>
          tip.show([`${direction}: ${words}`, rowLabel + " · " + columnLabel, `effect ${formatValue(v)} of the clean−corrupt gap`], event.clientX, event.clientY),
        );
        square.addEventListener("mouseleave", () => tip.hide());
        activate(square, () => ask(router, "inspect", { direction, cell: index }, status, banner));
        table.append(square);
      });
    });
    box.append(table, colorBar(scale, "the patch's change of the metric, as a fraction of the clean−corrupt gap: orange above 0 (toward clean), blue below (toward corrupt); one scale for both maps"));
    return box;
  }

  function drawDetail() {
    const selected = model.get("selected");
    detail.replaceChildren();
    if (!selected.top || !selected.cell) return;
    detail.append(
      element("div", "iw-chart-title", `${selected.direction} run, ${model.get("axes").map((axis, i) => `${axis} ${selected.cell![i]}`).join(", ")}, patched exactly: ${model.get("metric_label")} ${formatValue(selected.metric ?? NaN)}`),
    );
    for (const [token, prob] of selected.top) detail.append(barRow(token, prob, prob));
  }

  const teardown = redrawOnChange(model, () => {
    title.textContent = `${model.get("title")} · ${model.get("metric_label")}`;
    showText(cleanInput, model.get("clean_prompt"));
    showText(corruptInput, model.get("corrupt_prompt"));
    componentSelect.value = model.get("component");
    methodSelect.value = model.get("method");
    const tokens = model.get("tokens");
    const corrupt = model.get("corrupt_tokens");
    const changes = model.get("differing").map((p) => `${quotedToken(tokens[p] ?? "")} → ${quotedToken(corrupt[p] ?? "")} at ${p}`).join(", ");
    caption.textContent = `${model.get("metric_label")}: clean ${formatValue(model.get("clean_metric"))}, corrupt ${formatValue(model.get("corrupt_metric"))}; corruption ${changes}. Colour: the patch's change of the metric as a fraction of the clean−corrupt gap.`;
    warnings.replaceChildren(...model.get("warnings").map((w) => element("li", "", w)));
    const denoise = decodeCached(model.get("denoise"));
    const noise = decodeCached(model.get("noise"));
    const ranges = [finiteRange(denoise.data as ArrayLike<number>), finiteRange(noise.data as ArrayLike<number>)].filter((r): r is [number, number] => r !== null);
    const bound = Math.max(1e-9, ...ranges.flatMap(([lo, hi]) => [Math.abs(lo), Math.abs(hi)]));
    const scale: Scale = { kind: "diverging", min: -bound, max: bound };
    // the cell under a shown tooltip is about to go (a new component, say): no mouseleave will come for it
    tip.hide();
    const gapNote = model.get("gap_note");
    if (gapNote) maps.replaceChildren(element("div", "iw-stale-note iw-gap-note", `The maps are not drawn: ${gapNote}`));
    else maps.replaceChildren(heatmap("denoise", denoise, scale), heatmap("noise", noise, scale));
    drawDetail();
  });
  const stopProgress = showProgress(model, status); // a long map's progress in the status line, without redrawing the maps
  return () => {
    teardown();
    stopProgress();
    tip.hide();
  };
});
