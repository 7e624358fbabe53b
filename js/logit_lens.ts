// Logit lens grid: rows are layer boundaries, columns positions; each cell shows the top-1 next
// token read off the stream at that depth, coloured by its probability. Click a cell (or press
// Enter on it) for its top-k bars; type a target token to see its rank in every cell; the column
// beside the layer names is the KL divergence from the final layer. Only top-k ids and probabilities arrive, as arrays.
import { barRow } from "./lib/bars";
import { at, decodeCached, type Decoded, type WireArray } from "./lib/codec";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { activate, element, submitOnEnter, tooltip } from "./lib/dom";
import { promptBox } from "./lib/prompt";
import { frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";
import { tokenSpan, visibleToken } from "./lib/tokens";

interface State {
  tokens: string[];
  labels: string[];
  top_ids: WireArray;
  top_probs: WireArray;
  vocab: Record<string, string>;
  kl: WireArray;
  target_token: string;
  target_rank: WireArray;
  target_prob: WireArray;
  k: number;
  prompt: string;
  editable: boolean;
  title: string;
}
export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-logit-lens");
  const prompt = promptBox(router, banner);
  const targetForm = element("form", "iw-lens-target");
  const targetInput = element("input", "iw-prompt-input iw-lens-target-input");
  targetInput.setAttribute("aria-label", "target token");
  targetInput.placeholder = "target token, e.g. \u00b7the";
  targetForm.append(targetInput);
  const caption = element("div", "iw-caption");
  const scroller = element("div", "iw-grid-scroll");
  const grid = element("table", "iw-lens-grid");
  scroller.append(grid);
  const bars = element("div", "iw-bars");
  toolbar.append(prompt.form, targetForm, prompt.status);
  root.append(caption, scroller, bars);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  const sendTarget = () => setInputs(router, { target_token: targetInput.value.replace(/\u00b7/g, " ") }, prompt.status, banner);
  targetForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sendTarget();
  });
  submitOnEnter(targetInput, sendTarget);

  let selected: [number, number] | null = null; // UI state: the cell whose bars are shown

  function drawBars(ids: Decoded, probs: Decoded, b: number, p: number) {
    const [, nPos, k] = ids.shape;
    const vocab = model.get("vocab");
    const heading = element("div", "iw-chart-title", `top ${k} after ${model.get("labels")[b]} at position ${p} ${JSON.stringify(visibleToken(model.get("tokens")[p] ?? ""))}`);
    const list = element("div", "iw-bar-list");
    for (let j = 0; j < k; j++) {
      const index = (b * nPos + p) * k + j;
      const prob = at(probs, index);
      list.append(barRow(vocab[String(at(ids, index))] ?? "?", prob, prob));
    }
    bars.replaceChildren(heading, list);
  }

  function draw() {
    title.textContent = model.get("title");
    prompt.form.hidden = targetForm.hidden = !model.get("editable");
    prompt.sync(model.get("prompt"));
    if (document.activeElement !== targetInput) targetInput.value = visibleToken(model.get("target_token") || "").replace("\u2205", "");
    const tokens = model.get("tokens");
    const labels = model.get("labels");
    const vocab = model.get("vocab");
    const ids = decodeCached(model.get("top_ids"));
    const probs = decodeCached(model.get("top_probs"));
    const kl = decodeCached(model.get("kl"));
    const rank = decodeCached(model.get("target_rank"));
    const targetProb = decodeCached(model.get("target_prob"));
    const hasTarget = rank.data.length > 0;
    const [nB, nPos, k] = ids.shape;
    caption.textContent = hasTarget
      ? `Cells: the rank of ${JSON.stringify(model.get("target_token"))} (0 = top prediction) after each layer, coloured by its probability.`
      : "Cells: the top next-token prediction after each layer, coloured by its probability. Click a cell for its top " + k + ".";
    const probScale = chooseScale([0, 1], "sequential");
    const header = element("tr");
    header.append(element("th", "iw-lens-corner", "layer \\ position"), element("th", "iw-kl-head", "KL from final"));
    tokens.forEach((token) => {
      const th = element("th", "", visibleToken(token));
      th.title = JSON.stringify(token);
      header.append(th);
    });
    // Each layer's KL divergence from the final prediction, averaged over positions: how far it still has to go.
    const meanKl = Array.from({ length: nB }, (_, b) => {
      let sum = 0;
      for (let p = 0; p < nPos; p++) sum += at(kl, b * nPos + p);
      return sum / Math.max(1, nPos);
    });
    const klScale = chooseScale(meanKl, "sequential");
    const body: HTMLTableRowElement[] = [header];
    for (let b = nB - 1; b >= 0; b--) {
      const row = element("tr");
      const klCell = element("td", "iw-kl-cell", formatValue(meanKl[b])); // beside the layer's name: on screen however long the prompt
      klCell.title = "mean over positions, in nats";
      klCell.style.backgroundColor = colorFor(meanKl[b], klScale);
      row.append(element("th", "", labels[b]), klCell);
      for (let p = 0; p < nPos; p++) {
        const index = (b * nPos + p) * k;
        const prob = hasTarget ? at(targetProb, b * nPos + p) : at(probs, index);
        const text = hasTarget ? String(at(rank, b * nPos + p)) : visibleToken(vocab[String(at(ids, index))] ?? "?");
        const cell = element("td", "iw-lens-cell", text);
        cell.dataset.layer = String(b);
        cell.dataset.position = String(p);
        cell.style.backgroundColor = colorFor(prob, probScale);
        if (selected && selected[0] === b && selected[1] === p) cell.classList.add("iw-selected");
        const choose = () => {
          selected = [b, p];
          grid.querySelectorAll(".iw-selected").forEach((node) => node.classList.remove("iw-selected"));
          cell.classList.add("iw-selected");
          drawBars(ids, probs, b, p);
        };
        activate(cell, choose);
        cell.addEventListener("mousemove", (event) =>
          tip.show([`after ${labels[b]}, position ${p} ${JSON.stringify(tokens[p])}`,
            `top-1 ${JSON.stringify(vocab[String(at(ids, index))] ?? "?")} p=${formatValue(at(probs, index))}`,
            ...(hasTarget ? [`target rank ${at(rank, b * nPos + p)} p=${formatValue(at(targetProb, b * nPos + p))}`] : []),
            `KL from final ${formatValue(at(kl, b * nPos + p))} nats`], event.clientX, event.clientY));
        cell.addEventListener("mouseleave", () => tip.hide());
        row.append(cell);
      }
      body.push(row);
    }
    grid.replaceChildren(...body);
    if (selected && selected[0] < nB && selected[1] < nPos) drawBars(ids, probs, selected[0], selected[1]);
    else bars.replaceChildren();
  }
  return redrawOnChange(model, draw);
});
