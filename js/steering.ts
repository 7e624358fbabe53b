// Steering: the default and the steered completion side by side, streamed token by token. A
// strength slider and a method menu per steer, max tokens, temperature and seed send a `set`
// request (the kernel re-generates both runs, streaming; a newer request stops the older one).
// The first token where the runs differ is marked; hover a token for its log-prob under both runs
// and the steer's activation. A sweep shows n strengths as small multiples with two charts.
import { at, decodeCached, numbersOf, toNumbers, type Decoded, type WireArray } from "./lib/codec";
import { chooseScale, colorFor, formatValue } from "./lib/colors";
import { lineChart } from "./lib/chart";
import { element, tooltip } from "./lib/dom";
import { colorBar } from "./lib/legend";
import { promptBox } from "./lib/prompt";
import { frame, redrawOnChange, routedWidget, setInputs } from "./lib/widget";
import { endsLine, tokenSpan, visibleToken } from "./lib/tokens";

interface SteerState {
  label: string;
  hook: string;
  method: string;
  strength: number;
  positions: string;
  limit: number;
}

interface State {
  title: string;
  prompt: string;
  prompt_tokens: string[];
  steers: SteerState[];
  max_new_tokens: number;
  temperature: number;
  seed: number;
  sweep_points: number;
  generating: boolean;
  engine: string;
  unsteered_tokens: string[];
  steered_tokens: string[];
  unsteered_logprobs: WireArray;
  steered_logprobs: WireArray;
  unsteered_other: WireArray;
  steered_other: WireArray;
  unsteered_activations: WireArray;
  steered_activations: WireArray;
  first_divergence: number;
  sweep_strengths: WireArray;
  sweep_activation: WireArray;
  sweep_logprob: WireArray;
  sweep_logprob_unsteered: WireArray;
  sweep_tokens: string[][];
}

const METHODS = ["add", "set", "cap"];

/** A slider's value with the step's rounding error removed (0, not 2e-16). */
function sliderValue(slider: HTMLInputElement): number {
  const step = Number(slider.step);
  return Number((Math.round(Number(slider.value) / step) * step).toPrecision(6));
}

export default routedWidget<State>(({ model, el, router }) => {
  const { root, toolbar, title, banner } = frame("iw-steering");
  const prompt = promptBox(router, banner);
  toolbar.append(prompt.form, prompt.status);
  const status = element("div", "iw-status iw-steer-status");
  status.setAttribute("aria-live", "polite");
  const steerBox = element("div", "iw-steer-controls");
  const options = element("div", "iw-toolbar iw-steer-options");
  const columns = element("div", "iw-steer-columns");
  const sweepBox = element("div", "iw-steer-sweep");
  root.append(steerBox, options, status, columns, sweepBox);
  const tip = tooltip(root);
  root.append(tip.node);
  el.appendChild(root);

  const asking = element("span", "iw-status"); // "asking the kernel…" while a request is out (cleared by its reply); the
  options.after(asking); // stream's own "generating… n tokens" line is `status`, so the word shows once
  const send = (changes: Record<string, unknown>) => setInputs(router, changes, asking, banner, "asking the kernel\u2026");

  // ---- options: max tokens, temperature, seed, sweep ------------------------------------------
  function numberField(label: string, name: "max_new_tokens" | "temperature" | "seed" | "sweep_points", step: string, integer: boolean) {
    const wrap = element("label", "iw-check", `${label} `);
    const input = element("input", "iw-number");
    input.type = "number";
    input.step = step;
    input.min = "0";
    input.setAttribute("aria-label", label);
    input.addEventListener("keydown", (event) => event.stopPropagation());
    input.addEventListener("change", () => {
      const value = integer ? Math.round(Number(input.value)) : Number(input.value);
      if (Number.isFinite(value)) send({ [name]: value });
    });
    wrap.append(input);
    options.append(wrap);
    return () => {
      if (document.activeElement !== input) input.value = String(model.get(name));
    };
  }
  const syncOptions = [
    numberField("max tokens", "max_new_tokens", "1", true),
    numberField("temperature", "temperature", "0.1", false),
    numberField("seed", "seed", "1", true),
    numberField("sweep strengths", "sweep_points", "1", true),
  ];

  // ---- steers: a slider and a method menu each --------------------------------------------------
  let sliders: HTMLInputElement[] = [];
  let menus: HTMLSelectElement[] = [];
  let steerKey = "";
  function drawSteers() {
    const steers = model.get("steers");
    const key = JSON.stringify(steers.map((s) => [s.label, s.hook, s.limit, s.positions]));
    if (key !== steerKey) {
      steerKey = key;
      steerBox.replaceChildren();
      sliders = [];
      menus = [];
      steers.forEach((steer, index) => {
        const row = element("div", "iw-steer-row");
        const name = element("span", "iw-steer-label", `${steer.label} at ${steer.hook} (${steer.positions})`);
        const range = Math.max(steer.limit, Math.abs(steer.strength));
        const slider = element("input", "iw-steer-slider");
        slider.type = "range";
        slider.min = String(-range);
        slider.max = String(range);
        slider.step = String(range / 200);
        slider.setAttribute("aria-label", `strength of ${steer.label}`);
        const readout = element("span", "iw-steer-value");
        slider.addEventListener("keydown", (event) => event.stopPropagation()); // arrows and Home/End move it, not the notebook
        slider.addEventListener("input", () => (readout.textContent = formatValue(sliderValue(slider))));
        slider.addEventListener("change", () => send({ strengths: sliders.map(sliderValue) }));
        const menu = element("select", "iw-steer-method");
        menu.setAttribute("aria-label", `method of ${steer.label}`);
        METHODS.forEach((method) => menu.append(element("option", "", method)));
        menu.addEventListener("change", () => send({ methods: menus.map((m) => m.value) }));
        row.append(name, menu, slider, readout);
        steerBox.append(row);
        sliders.push(slider);
        menus[index] = menu;
      });
    }
    steers.forEach((steer, index) => {
      const slider = sliders[index];
      if (document.activeElement !== slider) slider.value = String(steer.strength);
      (slider.nextElementSibling as HTMLElement).textContent = formatValue(document.activeElement === slider ? sliderValue(slider) : steer.strength);
      menus[index].value = steer.method;
    });
  }

  // ---- the two completions ---------------------------------------------------------------------
  type Run = { tokens: string[]; own: Decoded; other: Decoded; activations: Decoded };
  let runs: Run[] = [];
  columns.addEventListener("mousemove", (event) => {
    const span = (event.target as HTMLElement).closest?.(".iw-token") as HTMLElement | null;
    if (!span || span.dataset.step === undefined) return tip.hide();
    const row = Number(span.dataset.row);
    const step = Number(span.dataset.step);
    const run = runs[row];
    const n = run.tokens.length;
    const names = model.get("steers").map((s) => s.label);
    const lines = [
      `${JSON.stringify(run.tokens[step])} (new token ${step}${step === model.get("first_divergence") ? ", first difference" : ""})`,
      `log-prob, ${row === 0 ? "default" : "steered"} run: ${formatValue(at(run.own, step))}`,
      `log-prob, ${row === 0 ? "steered" : "default"} run: ${Number.isFinite(at(run.other, step)) ? formatValue(at(run.other, step)) : "after the generation"}`,
      ...names.map((name, s) => `${name} activation: ${formatValue(at(run.activations, s * n + step))}`),
    ];
    tip.show(lines, event.clientX, event.clientY);
  });
  columns.addEventListener("mouseleave", () => tip.hide());

  function drawColumns() {
    const names = ["unsteered", "steered"] as const;
    runs = names.map((name) => ({
      tokens: model.get(`${name}_tokens`),
      own: decodeCached(model.get(`${name}_logprobs`)),
      other: decodeCached(model.get(`${name}_other`)),
      activations: decodeCached(model.get(`${name}_activations`)),
    }));
    const scale = chooseScale([...numbersOf(runs[0].activations), ...numbersOf(runs[1].activations)], "auto");
    const divergence = model.get("first_divergence");
    const strengths = model.get("steers").map((s) => `${s.label} ${s.method} ${formatValue(s.strength)}`).join(", ");
    const steered = model.get("steers")[0]?.label ?? "the steer";
    const legend = colorBar(scale, `token colour: ${steered}'s activation at that token (the steer's own feature or direction)`);
    legend.classList.add("iw-steer-legend");
    columns.replaceChildren(legend,
      ...runs.map((run, row) => {
        const column = element("div", `iw-steer-column ${row === 0 ? "iw-steer-default" : "iw-steer-steered"}`);
        column.append(element("div", "iw-row-label", row === 0 ? "default" : `steered: ${strengths}`));
        const text = element("div", "iw-tokens");
        run.tokens.forEach((token, step) => {
          const span = tokenSpan(token, "iw-token");
          span.dataset.row = String(row);
          span.dataset.step = String(step);
          span.style.background = colorFor(at(run.activations, step), scale);
          if (step === divergence) span.classList.add("iw-steer-diverge");
          text.append(span);
          if (endsLine(token)) text.append(element("br"));
        });
        column.append(text);
        return column;
      }),
    );
    const generating = model.get("generating");
    if (generating) asking.textContent = ""; // the stream has started: its line below says so
    status.textContent = generating ? `generating\u2026 ${runs[1].tokens.length} tokens` : model.get("engine") ? `${runs[1].tokens.length} tokens (${model.get("engine")})` : "";
    root.classList.toggle("iw-steer-generating", generating);
  }

  // ---- the sweep -------------------------------------------------------------------------------
  let sweepDrawn: unknown = null;
  function drawSweep() {
    if (model.get("sweep_tokens") === sweepDrawn) return;
    sweepDrawn = model.get("sweep_tokens");
    const strengths = toNumbers(model.get("sweep_strengths"));
    if (!strengths.length) return sweepBox.replaceChildren();
    const texts = model.get("sweep_tokens");
    const grid = element("div", "iw-steer-multiples");
    texts.forEach((tokens, i) => {
      const card = element("div", "iw-steer-card");
      card.append(element("div", "iw-row-label", `strength ${formatValue(strengths[i])}`), element("div", "iw-steer-card-text", tokens.map(visibleToken).join("")));
      grid.append(card);
    });
    const charts = element("div", "iw-charts");
    const label = model.get("steers")[0]?.label ?? "steer";
    charts.append(
      lineChart(strengths, [toNumbers(model.get("sweep_activation"))], { title: `${label}: mean activation`, xLabel: "strength", yLabel: "activation", names: ["activation"], log: false }),
      // Its key sits under it (lineChart's own), naming each line as drawn.
      lineChart(strengths, [toNumbers(model.get("sweep_logprob")), toNumbers(model.get("sweep_logprob_unsteered"))], {
        title: "completion: mean log-prob", xLabel: "strength", yLabel: "log-prob",
        names: ["log-prob under the steered run", "under the default run"], log: false,
      }),
    );
    sweepBox.replaceChildren(element("div", "iw-row-label", `sweep: ${strengths.length} strengths of ${label} in one batch`), charts, grid);
  }

  const teardown = redrawOnChange(model, () => {
    title.textContent = model.get("title");
    prompt.sync(model.get("prompt"));
    syncOptions.forEach((sync) => sync());
    drawSteers();
    drawColumns();
    drawSweep();
  });
  return () => {
    teardown();
    tip.hide();
  };
});
