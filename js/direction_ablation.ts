// Direction ablation: the text coloured by how much less likely each token became when a feature or
// direction was removed from the residual stream (red: less likely), and the largest changes.
import { at, decodeArray, type WireArray } from "./lib/codec";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { element, tooltip } from "./lib/dom";
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
  const staleNote = element("div", "iw-stale-note", "These tokens are from the previous prompt: the new one failed (see the message above).");
  staleNote.hidden = true;
  const prompt = promptBox(router, banner, (ok) => {
    staleNote.hidden = ok;
  });
  toolbar.append(prompt.form, prompt.status);
  const caption = element("div", "iw-row-label");
  const tokensBox = element("div", "iw-tokens");
  const list = element("ol", "iw-caption iw-largest");
  root.append(staleNote, caption, tokensBox, list);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  const teardown = redrawOnChange(model, () => {
    const tokens = model.get("tokens");
    title.textContent = `${model.get("title")} · ${model.get("label")}`;
    prompt.sync(model.get("prompt"));
    caption.textContent = `log-prob of each token, clean minus with the direction removed (${model.get("mode")}): red = less likely without it`;
    const values = decodeArray(model.get("decrease"));
    const scale = chooseScale(values.data as ArrayLike<number>, "diverging");
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
      ...model.get("largest").map(([position, token, change]) =>
        element("li", "", `${JSON.stringify(visibleToken(token))} at ${position}: ${change < 0 ? "" : "+"}${formatValue(change)} log-prob`),
      ),
    );
  });
  return () => {
    teardown();
    tip.hide();
  };
});
