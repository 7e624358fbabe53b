// The editable prompt every model-backed view shares: a text box whose Enter (or Run) sends the
// prompt to the kernel as a superseding request, a status while the kernel computes, and the
// kernel's error in the view's banner. While the banner shows an error, the view still shows the
// previous prompt's tokens: `onOutcome(false)` lets it mark them as such.
import { element, submitOnEnter } from "./dom";
import type { Router } from "./router";
import { setInputs, type Banner } from "./widget";

export interface PromptBox {
  form: HTMLFormElement;
  input: HTMLInputElement;
  status: HTMLSpanElement;
  /** Show the kernel's prompt, unless the user is typing in the box. */
  sync(prompt: string): void;
}

export function promptBox(
  router: Router,
  banner: Banner,
  onOutcome: (ok: boolean) => void,
): PromptBox {
  const form = element("form", "iw-prompt");
  const input = element("input", "iw-prompt-input");
  input.type = "text";
  input.setAttribute("aria-label", "prompt");
  const submit = element("button", "iw-button", "Run");
  submit.type = "submit";
  const status = element("span", "iw-status");
  status.setAttribute("aria-live", "polite");
  form.append(input, submit);

  async function send() {
    const ok = await setInputs(router, { prompt: input.value }, status, banner);
    if (ok !== null) onOutcome(ok);
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
    sync(prompt: string) {
      if (document.activeElement !== input) input.value = prompt;
    },
  };
}
