// Feature browser: every feature of an SAE as a table (sortable by a header click, filtered by a
// token substring and a minimum density), searches by token and by prompt answered in the kernel,
// and a row click that selects the feature in every linked view.
import { at, decodeCached, type Decoded, type WireArray } from "./lib/codec";
import { formatValue } from "./lib/colors";
import { activate, element, submitOnEnter } from "./lib/dom";
import { ask, frame, redrawOnChange, routedWidget } from "./lib/widget";
import { visibleToken } from "./lib/tokens";

interface State {
  label: string;
  density: WireArray;
  max: WireArray;
  mcs: WireArray;
  compare_label: string;
  top_tokens: string[][];
  selected: number;
  results: [number, number, string][];
  results_label: string;
  progress: string;
  title: string;
}

const PAGE = 200;
type Column = "feature" | "density" | "max" | "mcs";

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-feature-browser");
  const filter = element("input", "iw-prompt-input");
  filter.placeholder = "filter: top token contains…";
  filter.setAttribute("aria-label", "filter by top token");
  const minDensity = element("input", "iw-prompt-input iw-number");
  minDensity.type = "number";
  minDensity.step = "0.001";
  minDensity.min = "0";
  minDensity.placeholder = "min density";
  minDensity.setAttribute("aria-label", "minimum density");
  const tokenSearch = element("input", "iw-prompt-input");
  tokenSearch.placeholder = 'features on token, e.g. " and"';
  tokenSearch.setAttribute("aria-label", "search features by token");
  const promptSearch = element("input", "iw-prompt-input");
  promptSearch.placeholder = "features active on a prompt";
  promptSearch.setAttribute("aria-label", "search features by prompt");
  const status = element("span", "iw-status");
  const progress = element("span", "iw-status iw-progress");
  for (const input of [filter, minDensity, tokenSearch, promptSearch]) input.title = input.placeholder;
  toolbar.append(filter, minDensity, tokenSearch, promptSearch, status, progress);
  const caption = element("div", "iw-caption");
  const resultsBox = element("div", "iw-results");
  const tableBox = element("div", "iw-grid-scroll");
  const more = element("button", "iw-button", "show more");
  root.append(caption, resultsBox, tableBox, more);
  el.appendChild(root);

  let sortBy: Column = "density";
  let descending = true;
  let shown = PAGE;
  submitOnEnter(tokenSearch, () => ask(router, "search_token", { token: tokenSearch.value.replace(/\u00b7/g, " ") }, status, banner));
  submitOnEnter(promptSearch, () => ask(router, "search_prompt", { prompt: promptSearch.value }, status, banner));
  submitOnEnter(filter, () => draw());
  submitOnEnter(minDensity, () => draw());
  filter.addEventListener("input", () => draw());
  minDensity.addEventListener("input", () => draw());
  more.addEventListener("click", () => {
    shown += PAGE;
    draw();
  });
  const select = (feature: number) => ask(router, "select", { feature }, status, banner);

  function value(column: Column, f: number, arrays: Record<string, Decoded>): number {
    if (column === "feature") return f;
    const array = arrays[column];
    return array.data.length ? at(array, f) : NaN;
  }

  function draw() {
    const arrays = { density: decodeCached(model.get("density")), max: decodeCached(model.get("max")), mcs: decodeCached(model.get("mcs")) };
    const tokens = model.get("top_tokens");
    const hasMcs = arrays.mcs.data.length > 0;
    const needle = filter.value.replace(/\u00b7/g, " ").toLowerCase();
    const floor = Number(minDensity.value) || 0;
    let rows = Array.from({ length: arrays.density.data.length }, (_, f) => f).filter(
      (f) => at(arrays.density, f) >= floor && (!needle || (tokens[f] ?? []).some((t) => t.toLowerCase().includes(needle))),
    );
    rows.sort((a, b) => (value(sortBy, a, arrays) - value(sortBy, b, arrays)) * (descending ? -1 : 1));
    caption.textContent = `${model.get("label")} · ${rows.length} shown after filtering · click a row to select it everywhere`;
    const total = rows.length;
    rows = rows.slice(0, shown);
    more.hidden = total <= shown;
    const table = element("table", "iw-score-table iw-feature-table");
    const head = element("tr");
    const columns: [Column, string][] = [["feature", "feature"], ["density", "density"], ["max", "max"]];
    if (hasMcs) columns.push(["mcs", `MCS ${model.get("compare_label")}`.trim()]);
    for (const [column, label] of columns) {
      const th = element("th", "iw-sortable", label + (sortBy === column ? (descending ? " ▼" : " ▲") : ""));
      activate(th, () => {
        descending = sortBy === column ? !descending : column !== "feature"; // numbers high first, indices from 0
        sortBy = column;
        draw();
      });
      head.append(th);
    }
    head.append(element("th", "", "top tokens"));
    table.append(head);
    const selected = model.get("selected");
    for (const f of rows) {
      const tr = element("tr", f === selected ? "iw-score-row iw-selected" : "iw-score-row");
      tr.dataset.feature = String(f);
      tr.append(
        element("th", "", String(f)),
        element("td", "", `${(100 * at(arrays.density, f)).toFixed(2)}%`),
        element("td", "", formatValue(at(arrays.max, f))),
      );
      if (hasMcs) tr.append(element("td", "", formatValue(at(arrays.mcs, f))));
      tr.append(element("td", "iw-top-tokens", (tokens[f] ?? []).map((t) => visibleToken(t)).join("  ")));
      activate(tr, () => select(f));
      table.append(tr);
    }
    tableBox.replaceChildren(table);
    const results = model.get("results");
    resultsBox.replaceChildren();
    if (results.length) {
      resultsBox.append(element("div", "iw-row-label", model.get("results_label")));
      const list = element("ol", "iw-caption");
      for (const [f, score, detail] of results) {
        const item = element("li", "iw-result", `feature ${f}: ${formatValue(score)} (${detail})`);
        item.dataset.feature = String(f);
        activate(item, () => select(f));
        list.append(item);
      }
      resultsBox.append(list);
    }
  }

  const teardown = redrawOnChange(model, () => {
    title.textContent = model.get("title");
    progress.textContent = model.get("progress");
    draw();
  });
  return teardown;
});
