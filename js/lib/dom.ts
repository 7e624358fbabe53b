// Small DOM helpers shared by every widget. Text always goes in through textContent.

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const SVG_NAMESPACE = "http://www.w3.org/2000/svg"; // the SVG namespace name (an identifier, never fetched)

/** An SVG element with `attributes` set (text, if any, goes in through textContent). */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NAMESPACE, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** A box for a whole number from `min` (an index, a count of tokens), named `label` for screen readers. */
export function numberInput(label: string, min = 0, max?: number): HTMLInputElement {
  const input = element("input", "iw-prompt-input iw-number");
  input.type = "number";
  input.min = String(min);
  if (max !== undefined) input.max = String(max);
  input.setAttribute("aria-label", label);
  return input;
}

/**
 * Run `action` when Enter is pressed in a text box. The box keeps every key it is typed: notebook
 * front-ends bind Enter (and others) to their own commands.
 */
export function submitOnEnter(input: HTMLElement, action: () => void): void {
  input.addEventListener("keydown", (event) => {
    event.stopPropagation();
    // Shift+Enter is left to the box: a line break in a multi-line prompt
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      action();
    }
  });
}

/** The whole number typed in an index box, or null (after saying so in `banner`) when it is empty or not one. */
export function typedIndex(input: HTMLInputElement, what: string, banner: { show(message: string): void }): number | null {
  const text = input.value.trim();
  if (text === "" || !/^\d+$/.test(text)) {
    banner.show(`type a ${what} (a whole number from 0) and press Enter; ${text === "" ? "the box is empty" : `${JSON.stringify(text)} is not one`}.`);
    return null;
  }
  return Number(text);
}

/** Make a focusable element act on click, Enter and Space (keyboard users reach it with Tab). */
export function activate(node: HTMLElement, action: () => void): void {
  node.tabIndex = 0;
  node.addEventListener("click", action);
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      event.stopPropagation();
      action();
    }
  });
}

/**
 * A banner for errors from the kernel, hidden while there is none. `kind` is the class: "iw-error"
 * for the view's own requests, "iw-linked-error" for a shared selection it could not follow.
 */
export function errorBanner(kind: "iw-error" | "iw-linked-error" = "iw-error"): { node: HTMLDivElement; show(message: string): void; clear(): void } {
  const node = element("div", kind);
  node.setAttribute("role", "alert");
  node.hidden = true;
  return {
    node,
    show(message: string) {
      node.textContent = message;
      node.hidden = false;
    },
    clear() {
      node.textContent = "";
      node.hidden = true;
    },
  };
}

/**
 * The part of the window the user can see around `node`: the viewport, cut by every ancestor that
 * scrolls (a notebook panel, say). Containers that merely could scroll but fit their content (an
 * output area with `overflow-x: auto`) cut nothing.
 */
export function visibleBox(node: Element): { left: number; top: number; right: number; bottom: number } {
  const box = { left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight };
  for (let parent = node.parentElement; parent; parent = parent.parentElement) {
    const style = getComputedStyle(parent);
    const rect = parent.getBoundingClientRect();
    if (style.overflowY !== "visible" && parent.scrollHeight > parent.clientHeight + 1) {
      box.top = Math.max(box.top, rect.top);
      box.bottom = Math.min(box.bottom, rect.bottom);
    }
    if (style.overflowX !== "visible" && parent.scrollWidth > parent.clientWidth + 1) {
      box.left = Math.max(box.left, rect.left);
      box.right = Math.min(box.right, rect.right);
    }
  }
  return box;
}

const GAP = 12; // pixels between the pointer and the tooltip

/**
 * Where a tooltip of `size` goes for a pointer at (x, y), in the same coordinates as `visible`:
 * below and right of the pointer, flipped to the other side where it would leave the visible box.
 */
export function placeTooltip(
  x: number,
  y: number,
  size: { width: number; height: number },
  visible: { left: number; top: number; right: number; bottom: number },
): { left: number; top: number } {
  let left = x + GAP;
  let top = y + GAP;
  if (left + size.width > visible.right) left = Math.max(visible.left, x - GAP - size.width);
  if (top + size.height > visible.bottom) top = Math.max(visible.top, y - GAP - size.height);
  return { left, top };
}

/**
 * A tooltip that follows the pointer; its lines are set as text. It lives inside `host` and is
 * shown in the browser's top layer (a popover), so neither an ancestor's CSS containment or
 * transform (which makes `position: fixed` relative to a panel, not the window) nor an output
 * area's overflow clipping can displace or cut it. Browsers without popovers get it positioned
 * inside `host`.
 */
export function tooltip(host: HTMLElement): { node: HTMLDivElement; show(lines: string[], clientX: number, clientY: number): void; hide(): void } {
  const node = element("div", "iw-tooltip");
  const topLayer = typeof node.showPopover === "function";
  if (topLayer) node.setAttribute("popover", "manual");
  else host.classList.add("iw-tooltip-host");
  node.hidden = true;
  return {
    node,
    show(lines: string[], clientX: number, clientY: number) {
      node.textContent = lines.join("\n");
      node.hidden = false;
      if (topLayer && !node.matches(":popover-open")) node.showPopover();
      const place = placeTooltip(clientX, clientY, { width: node.offsetWidth, height: node.offsetHeight }, visibleBox(host));
      const origin = topLayer ? { left: 0, top: 0 } : host.getBoundingClientRect();
      node.style.left = `${place.left - origin.left}px`;
      node.style.top = `${place.top - origin.top}px`;
    },
    hide() {
      if (topLayer && node.matches(":popover-open")) node.hidePopover();
      node.hidden = true;
    },
  };
}
