"""Static snapshots shared by the token views: escaped token spans with quantised colours."""

from __future__ import annotations

import html
from typing import Sequence

from interp_widgets.widgets import _colors

LEVELS = 8  # colour steps per sign
_DARK = 'body[data-jp-theme-light="false"]'  # JupyterLab's dark themes
_VISIBLE = {" ": "\u00b7", "\n": "\u21b5", "\t": "\u2192", "\r": "\u240d"}
NO_MATHS = "tex2jax_ignore mathjax_ignore"
"""Classes that keep MathJax off our HTML (JupyterLab's MathJax 3 skips `mathjax_ignore`, the classic
Notebook's and nbconvert's MathJax 2 `tex2jax_ignore`): a token or prompt holding `$x$`, `\\href{…}` or
`\\style{…}` is shown as written, not typeset as maths, made a link or used to restyle the page."""


def visible(token: str) -> str:
    """Python twin of `visibleToken` in js/lib/tokens.ts."""
    if not token:
        return "\u2205"
    out = []
    for ch in token:
        if ch in _VISIBLE:
            out.append(_VISIBLE[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: str) -> str:
    """`text` on one line with its control characters shown: a newline as ↵, a tab as →, any other
    control character as its Unicode picture (U+0018 as ␘), so a token in a path or tooltip neither
    breaks the line nor shows as an escape code."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\t\r":
            out.append(_VISIBLE[ch])
        elif code < 0x20:
            out.append(chr(0x2400 + code))
        elif code == 0x7F:
            out.append("\u2421")
        else:
            out.append(ch)
    return "".join(out)


def colour_classes(root: str) -> str:
    """CSS for `.{root} .p1`…`.n8`: the quantised scale, light and dark."""
    rules = []
    for step in range(1, LEVELS + 1):
        for sign, prefix in ((1, "p"), (-1, "n")):
            rules.append(f".{root} .{prefix}{step}{{background:{_colors.rgba(sign * step / LEVELS)}}}")
            rules.append(f"{_DARK} .{root} .{prefix}{step}{{background:{_colors.rgba(sign * step / LEVELS, dark=True)}}}")
    return "".join(rules)


def token_spans(tokens: Sequence[str], values: Sequence[float], scale: _colors.Scale, marks: Sequence[str] = ()) -> str:
    """One escaped `<span>` per token, its class the value's colour step (NaN: none), title its value.

    `marks` (one per token, may be empty) are extra escaped words added to the title.
    """
    spans = []
    for index, (token, value) in enumerate(zip(tokens, values)):
        finite = value == value and abs(value) != float("inf")
        step = round(_colors.strength(value, scale) * LEVELS) if finite else 0
        css = f' class="{"p" if step > 0 else "n"}{abs(step)}"' if step else ""
        title = _colors.format_value(value) if finite else ""
        mark = marks[index] if index < len(marks) else ""
        title = html.escape(f"{title} {mark}".strip(), quote=True)
        spans.append(f'<span{css} title="{title}">{html.escape(visible(token))}</span>')
        if "\n" in token:
            spans.append("<br>")
    return "".join(spans)


def no_maths(html_text: str) -> str:
    """`html_text` inside an element that MathJax leaves alone (see `NO_MATHS`)."""
    return f'<div class="{NO_MATHS}">{html_text}</div>'


def page(root: str, heading: str, body: str, footer: str = "") -> str:
    """The snapshot's frame: heading (escaped here), body and footer (already escaped HTML)."""
    return (
        f'<div class="{root}"><style>.{root} span{{font-family:monospace;white-space:pre;border-radius:2px}}'
        f"{colour_classes(root)}</style>"
        f"<div><b>{html.escape(heading)}</b> <small>(static snapshot)</small></div>"
        f'<div style="line-height:1.9">{body}</div>'
        f"<div><small>{footer}</small></div></div>"
    )
