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

/** A tooltip that follows the pointer; its lines are set as text. */
export function tooltip(): { node: HTMLDivElement; show(lines: string[], x: number, y: number): void; hide(): void } {
  const node = element("div", "iw-tooltip");
  node.hidden = true;
  return {
    node,
    show(lines: string[], x: number, y: number) {
      node.textContent = lines.join("\n");
      node.style.left = `${x + 12}px`;
      node.style.top = `${y + 12}px`;
      node.hidden = false;
    },
    hide() {
      node.hidden = true;
    },
  };
}
