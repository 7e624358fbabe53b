// Horizontal bars with a token label and a value: top-k lists (logit lens, feature logit lens).
import { element } from "./dom";
import { formatValue } from "./colors";
import { tokenSpan } from "./tokens";

/** One row: the token as text, a bar `fraction` (0..1) of the track long, the value; `negative` uses the other hue. */
export function barRow(token: string, fraction: number, value: number, negative = false): HTMLDivElement {
  const row = element("div", "iw-bar-row");
  const label = tokenSpan(token, "iw-bar-label");
  const track = element("span", "iw-bar-track");
  const fill = element("span", negative ? "iw-bar-fill iw-bar-negative" : "iw-bar-fill");
  fill.style.width = `${(100 * Math.min(1, Math.max(0, fraction))).toFixed(1)}%`;
  track.append(fill);
  row.append(label, track, element("span", "iw-bar-value", formatValue(value)));
  return row;
}
