// Legends: every chart says what its colours and lines are. A colour bar for a colour scale (its
// ends' values and the colours' meaning in words), and a line key (a short stroke drawn as the
// line is drawn, with its name) for line charts.
import { formatValue, legendGradient, type Scale } from "./colors";
import { element } from "./dom";

/** The colour scale's range as a bar, with what the colours mean (e.g. "orange: the patch restores"). */
export function colorBar(scale: Scale, words: string): HTMLDivElement {
  const bar = element("div", "iw-legend iw-color-bar");
  const gradient = element("span", "iw-legend-bar");
  gradient.style.background = legendGradient(scale);
  bar.append(
    element("span", "iw-legend-min", formatValue(scale.min)),
    gradient,
    element("span", "iw-legend-max", formatValue(scale.max)),
    element("span", "iw-legend-label", words),
  );
  return bar;
}

export type KeyEntry = { label: string; color: string; dash?: string; opacity?: number; width?: number };

/** One short stroke per line, styled as the line is, and its name. */
export function lineKey(entries: KeyEntry[]): HTMLDivElement {
  const key = element("div", "iw-legend iw-line-key");
  for (const entry of entries) {
    const item = element("span", "iw-legend-item");
    const stroke = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    stroke.setAttribute("width", "22");
    stroke.setAttribute("height", "8");
    stroke.setAttribute("aria-hidden", "true");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
    const attributes: Record<string, string> = {
      x1: "1", y1: "4", x2: "21", y2: "4", stroke: entry.color,
      "stroke-width": String(entry.width ?? 2), "stroke-opacity": String(entry.opacity ?? 1),
    };
    if (entry.dash) attributes["stroke-dasharray"] = entry.dash;
    for (const [name, value] of Object.entries(attributes)) line.setAttribute(name, value);
    stroke.append(line);
    item.append(stroke, document.createTextNode(` ${entry.label}`));
    key.append(item);
  }
  return key;
}
