// The anywidget module shape every model-backed view shares: one request router per widget model
// (made in `initialize`, so every view of the model shares it), the stylesheet, and teardown.
import type { AnyModel } from "@anywidget/types";
import { element, errorBanner } from "./dom";
import { Router } from "./router";
import { addSaveMenu } from "./save_menu";
import { ensureStyles, ensureViewStyles } from "./style";

export type Banner = ReturnType<typeof errorBanner>;
export type Status = { textContent: string | null };

/** Build `{initialize, render}`; `build` draws the view and returns its own teardown. */
export function routedWidget<S extends object>(
  build: (context: { model: AnyModel<S>; el: HTMLElement; router: Router }) => () => void,
) {
  const routers = new WeakMap<object, Router>();
  return {
    initialize({ model }: { model: AnyModel<S> }) {
      const router = new Router(model as any);
      routers.set(model, router);
      return () => router.dispose();
    },
    render({ model, el }: { model: AnyModel<S>; el: HTMLElement }) {
      ensureStyles();
      const router = routers.get(model) ?? new Router(model as any);
      const teardown = build({ model, el, router });
      const stopLinkedErrors = showLinkedErrors(model, el);
      const removeSaveMenu = addSaveMenu(el); // save what is on screen as SVG or PNG (lib/save_menu.ts)
      return () => {
        teardown();
        stopLinkedErrors();
        removeSaveMenu();
        if (!routers.has(model)) router.dispose();
      };
    },
  };
}

/**
 * Show the kernel's `progress` trait (a long computation's "what: done of total") in `status` as it
 * changes, without redrawing the view; returns the teardown.
 */
export function showProgress(model: AnyModel<any>, status: Status): () => void {
  const update = () => {
    const text = model.get("progress");
    if (text) status.textContent = text;
  };
  model.on("change:progress", update);
  return () => model.off("change:progress", update);
}

/** Redraw on every change of the model; returns the teardown. */
export function redrawOnChange(model: AnyModel<any>, draw: () => void): () => void {
  draw();
  const onChange = () => draw();
  model.on("change", onChange);
  return () => model.off("change", onChange);
}

/**
 * A view's frame: root element (with `className`), toolbar with a title, and an error banner. `css`:
 * the view's own rules (its entry's `STYLE`, every selector under `.${className}`), added once.
 */
export function frame(className: string, css = ""): { root: HTMLDivElement; toolbar: HTMLDivElement; title: HTMLSpanElement; banner: Banner } {
  ensureViewStyles(className, css);
  const root = element("div", `iw-root ${className}`);
  const toolbar = element("div", "iw-toolbar");
  const title = element("span", "iw-title");
  const banner = errorBanner();
  toolbar.append(title);
  root.append(toolbar, banner.node);
  return { root, toolbar, title, banner };
}

/**
 * Send a superseding request, showing "computing…" in `status` meanwhile and the kernel's error in
 * `banner`; resolves to whether it succeeded (null when a newer request of the type replaced it).
 */
export async function ask(router: Router, type: string, payload: unknown, status: Status, banner: Banner, busy = "computing\u2026"): Promise<boolean | null> {
  status.textContent = busy;
  const outcome = await router.latest(type, payload);
  if (outcome.status === "stale") return null;
  status.textContent = "";
  if (outcome.status === "error") banner.show(outcome.error);
  else banner.clear();
  return outcome.status === "ok";
}

/**
 * Change some of the widget's inputs (`EDITABLE` in its Python `Inputs`): the kernel recomputes,
 * keeps the old view on an error, and publishes the change to a linked selection. The one request
 * every widget answers the same way; other requests are actions (toggle, inspect, searches).
 */
export function setInputs(router: Router, changes: Record<string, unknown>, status: Status, banner: Banner, busy?: string): Promise<boolean | null> {
  return ask(router, "set", changes, status, banner, busy);
}

/**
 * A view linked to a shared selection may fail to follow a change made in another view (say, a
 * feature index that this view's SAE does not have): the kernel puts the reason in `_linked_error`,
 * shown here in a banner of its own until the view follows again.
 */
function showLinkedErrors(model: AnyModel<any>, el: HTMLElement): () => void {
  const banner = errorBanner("iw-linked-error");
  el.querySelector(".iw-root")?.prepend(banner.node);
  const update = () => {
    const message = model.get("_linked_error");
    if (message) banner.show(message);
    else banner.clear();
  };
  update();
  model.on("change:_linked_error", update);
  return () => model.off("change:_linked_error", update);
}
