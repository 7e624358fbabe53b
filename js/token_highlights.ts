// Token highlights: a prompt's tokens coloured by one of several per-token series.
// Durable state (tokens, values, series) lives in traits; a new prompt is a request to the
// kernel, which re-tokenizes, recomputes and updates the traits, or answers with an error.
import { at, decodeCached, type Decoded, type WireArray } from "./lib/codec";
import { chooseScale, colorClass, formatValue, legendGradient, scaleCaption } from "./lib/colors";
import { element, tooltip } from "./lib/dom";
import { promptBox } from "./lib/prompt";
import { frame, redrawOnChange, routedWidget } from "./lib/widget";
import { endsLine, tokenSpan, visibleToken } from "./lib/tokens";

interface State {
  tokens: string[];
  values: WireArray;
  series_names: string[];
  active_series: number;
  title: string;
  value_label: string;
  scale: string;
  shared_scale: boolean;
  vmin: number | null;
  vmax: number | null;
  editable: boolean;
  prompt: string;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-token-highlights");
  const seriesBar = element("span", "iw-series");
  seriesBar.setAttribute("role", "group");
  const status = element("span", "iw-status");
  const tokensBox = element("div", "iw-tokens");
  const legend = element("div", "iw-legend");
  toolbar.append(seriesBar);

  // Editable prompt; after a failed one, the tokens shown are the previous prompt's: say so.
  const prompt = promptBox(router, banner, (ok) => tokensBox.classList.toggle("iw-stale", !ok));
  toolbar.append(prompt.form, prompt.status);
  root.append(prompt.stale, tokensBox, legend);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  let decoded: Decoded | null = null;
  let spans: HTMLSpanElement[] = [];
  let spanTokens: string[] = [];
  let shown: { tokens: string[]; values: number[]; label: string } = { tokens: [], values: [], label: "" };

  function sameTokens(tokens: string[]): boolean {
    return tokens.length === spanTokens.length && tokens.every((token, i) => token === spanTokens[i]);
  }

  // One tooltip listener for all tokens (thousands of spans need no listener each).
  tokensBox.addEventListener("mousemove", (event) => {
    const span = (event.target as HTMLElement).closest?.(".iw-token") as HTMLElement | null;
    if (!span || span.dataset.position === undefined) return tip.hide();
    const position = Number(span.dataset.position);
    const token = shown.tokens[position] ?? "";
    const value = shown.values[position];
    tip.show([`token    ${JSON.stringify(token)}`, `shown as ${visibleToken(token)}`, `position ${position}`, `${shown.label} ${formatValue(value)}`], event.clientX, event.clientY);
  });
  tokensBox.addEventListener("mouseleave", () => tip.hide());

  function seriesValues(index: number): number[] {
    if (!decoded) return [];
    const n = decoded.shape[1];
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = at(decoded, index * n + i);
    return out;
  }

  function drawSeriesButtons() {
    seriesBar.replaceChildren();
    const names = model.get("series_names");
    if (names.length < 2) return;
    names.forEach((name, index) => {
      const button = element("button", "iw-button", name);
      button.type = "button";
      button.setAttribute("aria-pressed", String(index === model.get("active_series")));
      button.addEventListener("click", () => {
        model.set("active_series", index);
        model.save_changes();
      });
      seriesBar.appendChild(button);
    });
  }

  function drawTokens() {
    const tokens = model.get("tokens");
    const series = Math.min(model.get("active_series"), Math.max(0, (decoded?.shape[0] ?? 1) - 1));
    const values = seriesValues(series);
    const shared = model.get("shared_scale") && (decoded?.shape[0] ?? 1) > 1;
    const scaleValues = shared && decoded ? Array.from(decoded.data, Number) : values;
    const scale = chooseScale(scaleValues, model.get("scale"), model.get("vmin"), model.get("vmax"));
    const label = model.get("value_label") || model.get("series_names")[series] || "value";
    shown = { tokens, values, label };
    if (!sameTokens(tokens)) {
      // new tokens: build the spans once; later value changes only recolour them
      const fragment = document.createDocumentFragment();
      spans = tokens.map((token, position) => {
        const span = tokenSpan(token, "iw-token");
        span.dataset.position = String(position);
        fragment.appendChild(span);
        if (endsLine(token)) fragment.appendChild(element("br"));
        return span;
      });
      spanTokens = tokens.slice();
      tokensBox.replaceChildren(fragment);
    }
    spans.forEach((span, position) => {
      span.className = `iw-token ${colorClass(values[position], scale)}`;
    });
    if (tokens.length > 0 && values.every((v) => v === 0)) {
      legend.replaceChildren(element("span", "iw-legend-label", `${label}: 0 at every token of this prompt (it never fires here)`));
      return;
    }
    legend.replaceChildren(
      element("span", "iw-legend-min", formatValue(scale.min)),
      Object.assign(element("span", "iw-legend-bar"), { style: `background: ${legendGradient(scale)}` }),
      element("span", "iw-legend-max", formatValue(scale.max)),
      element("span", "iw-legend-label", label),
      element("span", "iw-legend-scale", scaleCaption(scale, shared)),
    );
  }

  function drawAll() {
    title.textContent = model.get("title");
    title.hidden = !model.get("title");
    prompt.form.hidden = !model.get("editable");
    prompt.sync(model.get("prompt"));
    try {
      decoded = decodeCached(model.get("values"));
    } catch (error) {
      decoded = null;
      banner.show(String(error));
    }
    drawSeriesButtons();
    drawTokens();
  }

  // New tokens (from a prompt set in code, say) are no longer the previous prompt's.
  const onTokens = () => {
    tokensBox.classList.remove("iw-stale");
    prompt.stale.hidden = true;
  };
  model.on("change:tokens", onTokens);
  const stopRedrawing = redrawOnChange(model, drawAll);
  return () => {
    stopRedrawing();
    model.off("change:tokens", onTokens);
  };
});
