// Token strings are data, never markup: they go into the DOM through textContent only.

const VISIBLE: Record<string, string> = {
  " ": "\u00b7", // middle dot
  "\n": "\u21b5", // downwards arrow with corner leftwards
  "\t": "\u2192", // rightwards arrow
  "\r": "\u240d", // symbol for carriage return
};

/** The token as the tokenizer decoded it, with whitespace and control characters made visible. */
export function visibleToken(token: string): string {
  if (token.length === 0) return "\u2205"; // empty set
  let out = "";
  for (const ch of token) {
    const code = ch.codePointAt(0)!;
    if (ch in VISIBLE) out += VISIBLE[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}

/** A token as it is quoted in captions and tooltips: visible (`visibleToken`), in double quotes. */
export function quotedToken(token: string): string {
  return JSON.stringify(visibleToken(token));
}

/** Text on one line with its control characters shown (newline ↵, tab →, others as their Unicode
 * picture, U+0018 as ␘): for labels and tooltip lines, where a raw control character would break the
 * line or show as nothing. Spaces stay spaces (unlike `visibleToken`). Python twin: `_snapshot.one_line`. */
export function oneLine(text: string): string {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === "\n" || ch === "\t" || ch === "\r") out += VISIBLE[ch];
    else if (code < 0x20) out += String.fromCodePoint(0x2400 + code);
    else if (code === 0x7f) out += "\u2421";
    else out += ch;
  }
  return out;
}

/** Whether a line break should follow the token when text is laid out as prose. */
export function endsLine(token: string): boolean {
  return token.includes("\n");
}

/** A span showing one token as text. */
export function tokenSpan(token: string, className: string): HTMLSpanElement {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = visibleToken(token);
  return span;
}
