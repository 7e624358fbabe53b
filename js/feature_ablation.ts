// Feature ablation explorer: the prompt coloured by a feature's activation (click a token: it becomes
// the target), the leave-one-out map on the earlier tokens (orange: removing that token lowers the
// feature at the target; click to toggle its removal, several at once), the activation with the
// removals, and the pairs whose joint removal matters more than the two alone. Every number comes
// from the kernel; this view only draws the traits and sends clicks.
import { at, decodeCached, type WireArray } from "./lib/codec";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { activate, element, submitOnEnter, tooltip } from "./lib/dom";
import { featureIndexForm, promptBox } from "./lib/prompt";
import { ask, frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";
import { endsLine, quotedToken, tokenSpan, visibleToken } from "./lib/tokens";

interface State {
  tokens: string[];
  activations: WireArray;
  target: number;
  clean: number;
  drops: WireArray;
  removed: number[];
  removed_value: number | null;
  pairs: { positions?: number[]; single?: WireArray; joint?: WireArray; interaction?: WireArray };
  top_k: number;
  mode: "delete" | "replace";
  replacement: string;
  feature: number;
  feature_label: string;
  sae_names: string[];
  sae_name: string;
  feature_editable: boolean;
  readout_kind: "feature" | "neuron" | "direction";
  target_given: boolean;
  prompt: string;
  title: string;
  progress: string;
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-feature-ablation");
  const prompt = promptBox(router, banner);

  // its caption says "neuron" when the view reads a neuron
  const { form: featureForm, input: featureInput, caption: featureCaption } = featureIndexForm(router, banner, prompt.status, () => model.get("feature"));

  const saeSelect = element("select", "iw-input");
  saeSelect.setAttribute("aria-label", "SAE");
  saeSelect.addEventListener("change", async () => {
    // refused (the feature is past the other SAE's end): the kernel keeps its SAE, and so does the menu
    if ((await setInputs(router, { sae: saeSelect.value }, prompt.status, banner)) === false) saeSelect.value = model.get("sae_name");
  });
  featureForm.prepend(saeSelect);

  const modeSelect = element("select", "iw-input");
  modeSelect.setAttribute("aria-label", "removal mode");
  for (const mode of ["delete", "replace"]) modeSelect.append(Object.assign(element("option", "", mode), { value: mode }));
  const replacementInput = element("input", "iw-prompt-input iw-number");
  replacementInput.type = "text";
  replacementInput.placeholder = "replacement";
  replacementInput.setAttribute("aria-label", "replacement token");
  const sendMode = () =>
    setInputs(router, { mode: modeSelect.value, replacement: replacementInput.value.replace(/\u00b7/g, " ") }, prompt.status, banner);
  // The kernel always holds a replacement that is one token of the model's vocabulary (an empty
  // box asks for that default), so choosing "replace" can be sent at once.
  modeSelect.addEventListener("change", () => {
    replacementInput.hidden = modeSelect.value !== "replace";
    sendMode();
  });
  submitOnEnter(replacementInput, sendMode);
  const progress = element("span", "iw-status iw-progress");
  toolbar.append(prompt.form, featureForm, modeSelect, replacementInput, prompt.status, progress);

  const activationLabel = element("div", "iw-row-label");
  const activationRow = element("div", "iw-tokens");
  const mapLabel = element("div", "iw-row-label");
  const mapRow = element("div", "iw-tokens");
  const readout = element("div", "iw-readout iw-ablation-value");
  readout.setAttribute("aria-live", "polite");
  const modeNote = element("div", "iw-mode-note");
  const pairsBox = element("div", "iw-pairs-box");
  root.append(prompt.stale, activationLabel, activationRow, mapLabel, mapRow, readout, modeNote, pairsBox);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  const hover = (span: HTMLElement, lines: () => string[]) => {
    span.addEventListener("mousemove", (event) => tip.show(lines(), event.clientX, event.clientY));
    span.addEventListener("mouseleave", () => tip.hide());
  };

  function drawActivations(tokens: string[]) {
    const values = decodeCached(model.get("activations"));
    const scale = chooseScale(values.data as ArrayLike<number>, "sequential");
    const kind = model.get("readout_kind");
    const where = model.get("target_given") ? "is the token chosen" : `starts where the ${kind} is largest, not at the last token`;
    activationLabel.textContent = `${model.get("feature_label")} at each token: the target (outlined) ${where}; click a token to make it the target`;
    activationRow.replaceChildren();
    tokens.forEach((token, p) => {
      const span = tokenSpan(token, "iw-token");
      const value = at(values, p);
      span.style.background = colorFor(value, scale);
      if (p === model.get("target")) span.classList.add("iw-target");
      span.setAttribute("aria-label", `token ${p} ${visibleToken(token)}: activation ${formatValue(value)}`);
      if (p >= 2) activate(span, () => setInputs(router, { target: p }, prompt.status, banner));
      hover(span, () => [`${quotedToken(token)} (position ${p})`, `activation ${formatValue(value)}`, p >= 2 ? "click: explain this token" : ""]);
      activationRow.append(span);
      if (endsLine(token)) activationRow.append(element("br"));
    });
  }

  function drawMap(tokens: string[]) {
    const drops = decodeCached(model.get("drops"));
    const target = model.get("target");
    const removed = new Set(model.get("removed"));
    const scale = chooseScale(drops.data as ArrayLike<number>, "diverging");
    mapLabel.textContent = `drop at ${quotedToken(tokens[target] ?? "")} (position ${target}) when each earlier token is removed (drop = clean − ablated): orange = removing it lowers the feature, blue = raises it; click tokens to remove them together`;
    mapRow.replaceChildren();
    tokens.forEach((token, p) => {
      const span = tokenSpan(token, "iw-token");
      const drop = at(drops, p);
      if (p === target) span.classList.add("iw-target");
      if (p > target) span.classList.add("iw-after");
      if (p >= 1 && p < target) {
        span.style.background = colorFor(drop, scale);
        span.classList.toggle("iw-removed", removed.has(p));
        span.setAttribute("aria-pressed", String(removed.has(p)));
        span.setAttribute("aria-label", `remove token ${p} ${visibleToken(token)}: drop ${formatValue(drop)}`);
        activate(span, () => ask(router, "toggle", { position: p }, prompt.status, banner));
        hover(span, () => [`${quotedToken(token)} (position ${p})`, `removing it alone: drop ${formatValue(drop)}`, removed.has(p) ? "removed (click to restore)" : "click: remove"]);
      }
      mapRow.append(span);
      if (endsLine(token)) mapRow.append(element("br"));
    });
  }

  function drawReadout() {
    const clean = model.get("clean");
    const removed = model.get("removed");
    const value = model.get("removed_value");
    const base = `clean activation ${formatValue(clean)}`;
    readout.textContent =
      removed.length && value !== null
        ? `${base} · with ${removed.length} token${removed.length > 1 ? "s" : ""} removed ${formatValue(value)} (drop ${formatValue(clean - value)})`
        : base;
    const replacement = model.get("replacement");
    modeNote.textContent =
      model.get("mode") === "replace"
        ? `replace mode: a removed token is replaced by ${quotedToken(replacement)}; positions stay`
        : "delete mode: a removed token is cut out; later tokens shift left";
  }

  function drawPairs(tokens: string[]) {
    const pairs = model.get("pairs");
    pairsBox.replaceChildren();
    if (!pairs.positions || !pairs.joint || !pairs.single || !pairs.interaction) return;
    const positions = pairs.positions;
    const joint = decodeCached(pairs.joint);
    const single = decodeCached(pairs.single);
    const interaction = decodeCached(pairs.interaction);
    const k = positions.length;
    const rows: { a: number; b: number; joint: number; inter: number }[] = [];
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) rows.push({ a: i, b: j, joint: at(joint, i * k + j), inter: at(interaction, i * k + j) });
    rows.sort((x, y) => Math.abs(y.inter) - Math.abs(x.inter));
    const table = element("table", "iw-pairs");
    const head = element("tr");
    for (const text of ["pair (top single tokens)", "drop alone", "joint drop", "interaction"]) head.append(element("th", "", text));
    table.append(head);
    for (const row of rows) {
      const tr = element("tr");
      tr.append(
        element("td", "", `${quotedToken(tokens[positions[row.a]] ?? "")}@${positions[row.a]} + ${quotedToken(tokens[positions[row.b]] ?? "")}@${positions[row.b]}`),
        element("td", "", `${formatValue(at(single, row.a))} / ${formatValue(at(single, row.b))}`),
        element("td", "", formatValue(row.joint)),
        element("td", "", formatValue(row.inter)),
      );
      table.append(tr);
    }
    pairsBox.append(element("div", "iw-row-label", `pairs among the top ${k}: interaction = joint drop − (drop A + drop B); positive: the pair matters more than the two alone, as in "(A or B) … C"; negative: either alone already removes it, as in an AND`), table);
  }

  const teardown = redrawOnChange(model, () => {
    const tokens = model.get("tokens");
    title.textContent = `${model.get("title")} · ${model.get("feature_label")}`;
    prompt.sync(model.get("prompt"));
    featureForm.hidden = !model.get("feature_editable");
    featureCaption.textContent = model.get("readout_kind") === "neuron" ? "neuron" : "feature";
    featureInput.setAttribute("aria-label", `${featureCaption.textContent} index`);
    const names = model.get("sae_names");
    saeSelect.hidden = names.length < 2;
    if (saeSelect.options.length !== names.length || names.some((name, i) => saeSelect.options[i].value !== name)) {
      saeSelect.replaceChildren(...names.map((name) => Object.assign(element("option", "", `${name} SAE`), { value: name })));
    }
    saeSelect.value = model.get("sae_name");
    if (document.activeElement !== featureInput) featureInput.value = String(model.get("feature"));
    modeSelect.value = model.get("mode");
    replacementInput.hidden = model.get("mode") !== "replace";
    const replacement = model.get("replacement");
    if (document.activeElement !== replacementInput) replacementInput.value = replacement ? visibleToken(replacement) : "";
    progress.textContent = model.get("progress");
    drawActivations(tokens);
    drawMap(tokens);
    drawReadout();
    drawPairs(tokens);
  });
  return () => {
    teardown();
    tip.hide();
  };
});
