// Feature logit-lens bars: the tokens a direction promotes (top) and suppresses (bottom) through the
// unembedding; a toggle that leaves out outlier-norm tokens and lists them; click a bar to see where
// in the prompt the model predicts that token.
import { barRow } from "./lib/bars";
import { at, decodeCached, type WireArray } from "./lib/codec";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { activate, element, tooltip } from "./lib/dom";
import { promptBox } from "./lib/prompt";
import { ask, frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";
import { endsLine, tokenSpan, visibleToken } from "./lib/tokens";

type Item = [string, number, number];
interface State {
  top: Item[];
  bottom: Item[];
  ln_applied: boolean;
  exclude_outliers: boolean;
  left_out: [string, number, string][];
  k: number;
  label: string;
  tokens: string[];
  prompt: string;
  where_token: string;
  where_values: WireArray;
  title: string;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-logit-lens-bars");
  const prompt = promptBox(router, banner);
  const filter = element("label", "iw-check");
  const filterBox = element("input");
  filterBox.type = "checkbox";
  filter.append(filterBox, element("span", "", "leave out outlier-norm tokens"));
  filterBox.addEventListener("change", () => setInputs(router, { exclude_outliers: filterBox.checked }, prompt.status, banner));
  toolbar.append(filter, prompt.form, prompt.status);
  const caption = element("div", "iw-caption");
  const columns = element("div", "iw-charts");
  const leftOut = element("div", "iw-caption");
  const whereLabel = element("div", "iw-row-label");
  const whereRow = element("div", "iw-tokens");
  root.append(caption, columns, leftOut, whereLabel, whereRow);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  function column(heading: string, items: Item[], negative: boolean): HTMLDivElement {
    const box = element("div", "iw-bars");
    box.append(element("div", "iw-chart-title", heading));
    const largest = Math.max(1e-12, ...items.map((item) => Math.abs(item[2])));
    for (const [token, id, score] of items) {
      const row = barRow(token, Math.abs(score) / largest, score, negative);
      row.classList.add("iw-clickable");
      row.classList.toggle("iw-selected", token === model.get("where_token"));
      row.setAttribute("aria-label", `${visibleToken(token)}: ${formatValue(score)}; show where the prompt predicts it`);
      activate(row, () => ask(router, "where", { token_id: id }, prompt.status, banner));
      box.append(row);
    }
    return box;
  }

  function drawWhere() {
    const token = model.get("where_token");
    const tokens = model.get("tokens");
    whereRow.replaceChildren();
    if (!tokens.length) {
      whereLabel.textContent = "type a prompt, then click a bar to see where the model predicts that token";
      return;
    }
    if (!token) {
      whereLabel.textContent = "click a bar to see where in this prompt the model predicts that token";
      tokens.forEach((t) => whereRow.append(tokenSpan(t, "iw-token")));
      return;
    }
    const values = decodeCached(model.get("where_values"));
    const scale = chooseScale(values.data as ArrayLike<number>, "sequential", 0);
    whereLabel.textContent = `probability that the next token is ${JSON.stringify(visibleToken(token))}, after each token`;
    tokens.forEach((t, p) => {
      const span = tokenSpan(t, "iw-token");
      const value = at(values, p);
      span.style.background = colorFor(value, scale);
      span.addEventListener("mousemove", (event) => tip.show([`after ${JSON.stringify(visibleToken(t))} (position ${p})`, `p(${visibleToken(token)}) = ${formatValue(value)}`], event.clientX, event.clientY));
      span.addEventListener("mouseleave", () => tip.hide());
      whereRow.append(span);
      if (endsLine(t)) whereRow.append(element("br"));
    });
  }

  const teardown = redrawOnChange(model, () => {
    title.textContent = `${model.get("title")} · ${model.get("label")}`;
    prompt.sync(model.get("prompt"));
    filterBox.checked = model.get("exclude_outliers");
    caption.textContent = model.get("ln_applied")
      ? "direction through the final LayerNorm's centring and scale, then the unembedding"
      : "direction times the unembedding (no LayerNorm applied)";
    columns.replaceChildren(column(`promotes (top ${model.get("top").length})`, model.get("top"), false), column(`suppresses (bottom ${model.get("bottom").length})`, model.get("bottom"), true));
    const left = model.get("left_out");
    leftOut.textContent = left.length ? `left out (${left.length}): ${left.map(([t, , reason]) => `${JSON.stringify(visibleToken(t))} (${reason})`).join(", ")}` : "";
    drawWhere();
  });
  return () => {
    teardown();
    tip.hide();
  };
});
