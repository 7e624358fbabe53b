// Direction ablation: the text coloured by how much less likely each token became when a feature or
// direction was removed from the residual stream (orange: less likely, a positive log-prob drop), a
// colour bar, and the largest drops.
import { at, decodeCached, type WireArray } from "./lib/codec";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { element, tooltip } from "./lib/dom";
import { colorBar } from "./lib/legend";
import { promptBox } from "./lib/prompt";
import { frame, redrawOnChange, routedWidget } from "./lib/widget";
import { endsLine, tokenSpan, visibleToken } from "./lib/tokens";

interface State {
  tokens: string[];
  decrease: WireArray;
  largest: [number, string, number][];
  label: string;
  mode: string;
  prompt: string;
  title: string;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-direction-ablation");
  const prompt = promptBox(router, banner);
  toolbar.append(prompt.form, prompt.status);
  const caption = element("div", "iw-row-label");
  const tokensBox = element("div", "iw-tokens");
  const legend = element("div");
  const list = element("ol", "iw-caption iw-largest");
  root.append(prompt.stale, caption, tokensBox, legend, element("div", "iw-row-label", "largest log-prob drops (clean − without the direction; negative: more likely without it)"), list);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  const teardown = redrawOnChange(model, () => {
    const tokens = model.get("tokens");
    title.textContent = `${model.get("title")} · ${model.get("label")}`;
    prompt.sync(model.get("prompt"));
    caption.textContent = `log-prob drop of each token = clean − with the direction removed (${model.get("mode")}): orange = less likely without it (drop > 0), blue = more likely`;
    const values = decodeCached(model.get("decrease"));
    const scale = chooseScale(values.data as ArrayLike<number>, "diverging");
    legend.replaceChildren(colorBar(scale, "log-prob drop: orange = less likely without the direction, blue = more likely"));
    tokensBox.replaceChildren();
    tokens.forEach((token, p) => {
      const span = tokenSpan(token, "iw-token");
      const value = at(values, p);
      span.style.background = colorFor(value, scale);
      span.addEventListener("mousemove", (event) =>
        tip.show([`${JSON.stringify(visibleToken(token))} (position ${p})`, Number.isFinite(value) ? `log-prob drop ${formatValue(value)}` : "BOS: not predicted"], event.clientX, event.clientY),
      );
      span.addEventListener("mouseleave", () => tip.hide());
      tokensBox.append(span);
      if (endsLine(token)) tokensBox.append(element("br"));
    });
    list.replaceChildren(
      ...model.get("largest").map(([position, token, drop]) =>
        element("li", "", `${JSON.stringify(visibleToken(token))} at ${position}: log-prob drop ${formatValue(drop)}`),
      ),
    );
  });
  return () => {
    teardown();
    tip.hide();
  };
});
