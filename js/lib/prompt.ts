// The editable prompt every model-backed view shares: a multi-line box (prompts of code and
// docstrings hold line breaks) whose Enter (or Run) sends the prompt to the kernel as a superseding
// request, Shift+Enter inserting a line break; Enter on an unchanged prompt sends nothing, a status while the kernel computes, and the
// kernel's error in the view's banner. While the banner shows an error, the view still shows the
// previous prompt's tokens: the box's `stale` note says so (a token view puts it above its tokens),
// and `onOutcome(false)` lets the view mark them too.
import { element, numberInput, submitOnEnter, typedIndex } from "./dom";
import type { Router } from "./router";
import { setInputs, type Banner } from "./widget";

export interface PromptBox {
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  status: HTMLSpanElement;
  /** "These tokens are from the previous prompt": shown while the last prompt sent failed. */
  stale: HTMLDivElement;
  /** Show the kernel's prompt, unless the user is typing in the box. */
  sync(prompt: string): void;
}

export function promptBox(
  router: Router,
  banner: Banner,
  onOutcome: (ok: boolean) => void = () => undefined,
): PromptBox {
  const form = element("form", "iw-prompt");
  const input = promptArea("prompt");
  let shown = ""; // the kernel's prompt
  const submit = element("button", "iw-button", "Run");
  submit.type = "submit";
  const status = element("span", "iw-status");
  status.setAttribute("aria-live", "polite");
  form.append(input, submit);
  const stale = staleNote();

  async function send() {
    if (input.value === shown) return; // nothing edited: the kernel's prompt stays exactly as it is
    const ok = await setInputs(router, { prompt: input.value }, status, banner);
    if (ok === null) return;
    stale.hidden = ok;
    onOutcome(ok);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  submitOnEnter(input, send);
  return {
    form,
    input,
    status,
    stale,
    sync(prompt: string) {
      shown = prompt;
      showText(input, prompt);
    },
  };
}

/** The note a token view shows (hidden until then) while its tokens are the previous prompt's because the new one failed. */
function staleNote(): HTMLDivElement {
  const note = element("div", "iw-stale-note", "These tokens are from the previous prompt: the new one failed (see the message above).");
  note.hidden = true;
  return note;
}

export interface FeatureIndexForm {
  form: HTMLFormElement;
  input: HTMLInputElement;
  /** "feature" before the box (a view reading a neuron says "neuron"). */
  caption: HTMLSpanElement;
}

/**
 * A form with a feature index box: Enter (or submit) sets the widget's `feature` input. An empty or
 * bad box changes nothing (the banner says why); a refused index puts the kernel's `current()` back.
 */
export function featureIndexForm(router: Router, banner: Banner, status: { textContent: string | null }, current: () => number): FeatureIndexForm {
  const form = element("form", "iw-prompt");
  const input = numberInput("feature index");
  const caption = element("span", "iw-caption", "feature");
  form.append(caption, input);
  const send = async () => {
    const feature = typedIndex(input, "feature index", banner);
    if (feature === null || (await setInputs(router, { feature }, status, banner)) === false) input.value = String(current());
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  submitOnEnter(input, send);
  return { form, input, caption };
}

/** A multi-line prompt box (Enter is the caller's to handle; Shift+Enter adds a line), as tall as its lines up to 8. */
export function promptArea(label: string): HTMLTextAreaElement {
  const area = element("textarea", "iw-prompt-input");
  area.rows = 1;
  area.spellcheck = false;
  area.setAttribute("aria-label", label);
  area.addEventListener("input", () => fitRows(area));
  return area;
}

function fitRows(area: HTMLTextAreaElement): void {
  area.rows = Math.min(8, Math.max(1, area.value.split("\n").length));
}

/** Show the kernel's text in the box, unless the user is typing in it. */
export function showText(area: HTMLTextAreaElement, text: string): void {
  if (document.activeElement === area) return;
  area.value = text;
  fitRows(area);
}
