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

/** A banner for errors from the kernel, hidden while there is none. */
export function errorBanner(): { node: HTMLDivElement; show(message: string): void; clear(): void } {
  const node = element("div", "iw-error");
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

/** The part of the page the user can see around `node`: the viewport cut by every scrolling ancestor. */
export function visibleBox(node: Element): { left: number; top: number; right: number; bottom: number } {
  const box = { left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight };
  for (let parent = node.parentElement; parent; parent = parent.parentElement) {
    const style = getComputedStyle(parent);
    if (/(auto|scroll|hidden|clip)/.test(style.overflow + style.overflowX + style.overflowY)) {
      const rect = parent.getBoundingClientRect();
      box.left = Math.max(box.left, rect.left);
      box.top = Math.max(box.top, rect.top);
      box.right = Math.min(box.right, rect.right);
      box.bottom = Math.min(box.bottom, rect.bottom);
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
 * A tooltip that follows the pointer; its lines are set as text. It lives inside `host` (which
 * becomes its positioning box), so it sits next to the pointer even inside panels with CSS
 * containment or transforms, where `position: fixed` is relative to the panel, not the window.
 */
export function tooltip(host: HTMLElement): { node: HTMLDivElement; show(lines: string[], clientX: number, clientY: number): void; hide(): void } {
  const node = element("div", "iw-tooltip");
  node.hidden = true;
  host.classList.add("iw-tooltip-host");
  return {
    node,
    show(lines: string[], clientX: number, clientY: number) {
      node.textContent = lines.join("\n");
      node.hidden = false;
      const origin = host.getBoundingClientRect();
      const place = placeTooltip(clientX, clientY, { width: node.offsetWidth, height: node.offsetHeight }, visibleBox(host));
      node.style.left = `${place.left - origin.left}px`;
      node.style.top = `${place.top - origin.top}px`;
    },
    hide() {
      node.hidden = true;
    },
  };
}
