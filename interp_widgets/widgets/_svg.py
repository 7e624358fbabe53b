"""A view's static snapshot drawn as a standalone SVG picture, in the kernel: one description drawn two ways.

Every widget already describes its view as a small, script-free HTML snapshot (`to_static_html()`:
token spans coloured by class or style, tables of coloured cells, lists, preformatted text, inline
SVG charts). The browser draws that HTML; this module lays the same description out as SVG:

- text in monospace (so a width is characters x 0.6 em), wrapping at spaces in a 960 px column;
- a coloured token span (class `p1`…`n8` of `_snapshot`, or a `background` style) is a rectangle
  under its text, never broken across lines;
- a table is a grid: each cell a rectangle (its background) with its text;
- an inline `<svg>` (a chart) is kept as a nested SVG; a list item gets a bullet;
- a legend: the colour scale as a bar (diverging or sequential, as the colours drawn were), under
  the snapshot's own words for it.

Text is XML-escaped; characters XML cannot hold are dropped. No front-end, no round trip.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any

from interp_widgets.widgets import _colors
from interp_widgets.widgets._snapshot import LEVELS

WIDTH = 960.0  # the column text wraps in (px)
FONT = 12.0  # px
PAD = 12.0
BLOCKS = {"div", "p", "ul", "ol", "li", "table", "pre", "h1", "h2", "h3", "h4", "section", "figure", "svg"}
SKIPPED = {"style", "script", "head", "title"}
VOID = {"br", "img", "hr", "meta", "input"}
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Any] = field(default_factory=list)  # Node or str


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass(frozen=True)
class Style:
    size: float = FONT
    bold: bool = False
    italic: bool = False
    pre: bool = False
    background: tuple[str, float] | None = None  # (rgb, opacity)
    outline: bool = False


def parse(snapshot: str) -> Node:
    tree = _Tree()
    tree.feed(snapshot)
    tree.close()
    return tree.root


def _clean(text: str) -> str:
    return _XML_BAD.sub("", text)


def _esc(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def text_width(text: str, size: float) -> float:
    """Monospace width: 0.6 em a character, 1.2 em for a wide (East Asian) one."""
    return sum(1.2 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text) * size


def _fill(colour: str) -> tuple[str, float] | None:
    """`rgba(r, g, b, a)` / `rgb(...)` / a name -> (rgb(...), opacity) for SVG 1.1 viewers."""
    match = re.match(r"rgba?\(([^)]*)\)", colour.strip())
    if not match:
        return (colour.strip(), 1.0) if colour.strip() else None
    parts = [p.strip() for p in match.group(1).split(",")]
    opacity = float(parts[3]) if len(parts) > 3 else 1.0
    return (f"rgb({parts[0]},{parts[1]},{parts[2]})", opacity) if opacity > 0 else None


def _style_of(node: Node, style: Style) -> Style:
    tag, css = node.tag, node.attrs.get("style", "")
    if tag in ("b", "strong", "th") or re.match(r"h\d", tag):
        style = replace(style, bold=True)
    if tag in ("i", "em"):
        style = replace(style, italic=True)
    if tag == "small" or "font-size:smaller" in css.replace(" ", ""):
        style = replace(style, size=style.size * 0.85)
    if tag == "pre" or "white-space:pre" in css.replace(" ", ""):
        style = replace(style, pre=True)
    background = re.search(r"background(?:-color)?\s*:\s*([^;]+)", css)
    step = re.fullmatch(r"([pn])([1-9])", node.attrs.get("class", "").strip())
    if step:  # the quantised colour classes of _snapshot.colour_classes
        sign = 1 if step.group(1) == "p" else -1
        background = None
        style = replace(style, background=_fill(_colors.rgba(sign * int(step.group(2)) / LEVELS)))
    if background:
        style = replace(style, background=_fill(background.group(1)))
    if "outline" in css:
        style = replace(style, outline=True)
    return style


class Drawing:
    """SVG elements laid out top to bottom; `signs` records which colour hues were drawn (for the legend)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.right = 0.0
        self.signs: set[int] = set()

    def rect(self, x: float, y: float, w: float, h: float, fill: tuple[str, float] | None, outline: bool = False) -> None:
        if fill is None and not outline:
            return
        paint = f'fill="{fill[0]}" fill-opacity="{fill[1]:.3f}"' if fill else 'fill="none"'
        if fill:
            self.signs.add(-1 if fill[0] == "rgb({},{},{})".format(*_colors.NEGATIVE_RGB) else 1)
        stroke = ' stroke="#333" stroke-width="1"' if outline else ""
        self.items.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2" {paint}{stroke}/>')
        self.right = max(self.right, x + w)

    def text(self, x: float, y: float, text: str, style: Style) -> None:
        if not text:
            return
        weight = ' font-weight="bold"' if style.bold else ""
        italic = ' font-style="italic"' if style.italic else ""
        self.items.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{style.size:.1f}"{weight}{italic} xml:space="preserve">{_esc(text)}</text>')
        self.right = max(self.right, x + text_width(text, style.size))


def _inline_atoms(node: Any, style: Style, out: list[tuple[str, Style]]) -> None:
    """Flatten inline content into atoms: words (wrap points between them), whole coloured spans, and breaks."""
    if isinstance(node, str):
        text = node if style.pre else re.sub(r"\s+", " ", node)
        if style.background is not None or style.pre:
            for index, line in enumerate(text.split("\n")):
                if index:
                    out.append(("\n", style))
                out.append((line, style))
        else:
            out.extend((word, style) for word in re.findall(r"\S+\s*|\s+", text))
        return
    if node.tag in SKIPPED:
        return
    if node.tag == "br":
        out.append(("\n", style))
        return
    inner = _style_of(node, style)
    if inner.background is not None and inner.background != style.background:
        out.append(("".join(_text_of(node)), inner))
        return
    for child in node.children:
        _inline_atoms(child, inner, out)


def _text_of(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if node.tag in SKIPPED:
        return []
    return [piece for child in node.children for piece in _text_of(child)]


def _flow(drawing: Drawing, atoms: list[tuple[str, Style]], x0: float, y: float, width: float) -> float:
    """Lay inline atoms into lines from (x0, y); returns the y below the last line."""
    if not any(text.strip() or style.background for text, style in atoms):
        return y
    height = max(style.size for _, style in atoms) * 1.6
    x = x0
    for text, style in atoms:
        if text == "\n":
            x, y = x0, y + height
            continue
        w = text_width(text, style.size)
        if x + w > x0 + width and x > x0:
            x, y = x0, y + height
            if not style.pre and style.background is None:
                text = text.lstrip()
                w = text_width(text, style.size)
        drawing.rect(x, y + 1, w, height - 2, style.background, style.outline)
        drawing.text(x, y + height * 0.72, text, style)
        x += w + (1 if style.background is not None else 0)
    return y + height


def _table(drawing: Drawing, node: Node, x0: float, y: float, style: Style) -> float:
    rows = [row for row in _descendants(node, "tr")]
    cells = [[(cell, _style_of(cell, style)) for cell in row.children if isinstance(cell, Node) and cell.tag in ("td", "th")] for row in rows]
    texts = [[re.sub(r"\s+", " ", "".join(_text_of(cell))).strip() for cell, _ in row] for row in cells]
    columns = max((len(row) for row in cells), default=0)
    widths = [max([text_width(texts[r][c], cells[r][c][1].size) + 8 for r in range(len(cells)) if c < len(cells[r])] + [14.0])
              for c in range(columns)]
    height = style.size * 1.6
    for r, row in enumerate(cells):
        x = x0
        for c, (cell, cell_style) in enumerate(row):
            drawing.rect(x, y, widths[c] - 1, height - 1, cell_style.background, cell_style.outline)
            drawing.text(x + 4, y + height * 0.72, texts[r][c], replace(cell_style, background=None))
            x += widths[c]
        y += height
    return y + 4


def _descendants(node: Node, tag: str) -> list[Node]:
    found = []
    for child in node.children:
        if isinstance(child, Node):
            if child.tag == tag:
                found.append(child)
            elif child.tag not in ("table",):
                found.extend(_descendants(child, tag))
    return found


def _serialise(node: Any) -> str:
    if isinstance(node, str):
        return _esc(node)
    attrs = "".join(f' {k}="{_esc(v)}"' for k, v in node.attrs.items())
    return f"<{node.tag}{attrs}>{''.join(_serialise(c) for c in node.children)}</{node.tag}>"


def _nested_svg(drawing: Drawing, node: Node, x: float, y: float) -> float:
    def number(name: str, default: float) -> float:
        match = re.match(r"[\d.]+", node.attrs.get(name, ""))
        return float(match.group()) if match else default

    w, h = number("width", 240.0), number("height", 240.0)
    attrs = {k: v for k, v in node.attrs.items() if k not in ("x", "y", "width", "height", "xmlns")}
    inner = Node("svg", {**attrs, "x": f"{x:.1f}", "y": f"{y:.1f}", "width": f"{w:g}", "height": f"{h:g}", "color": "#222"}, node.children)
    drawing.items.append(_serialise(inner))
    drawing.right = max(drawing.right, x + w)
    return y + h + 4


def _block(drawing: Drawing, node: Node, x: float, y: float, width: float, style: Style) -> float:
    atoms: list[tuple[str, Style]] = []
    bullet = node.tag == "li"
    if bullet:
        atoms.append(("\u2022 ", style))
    for child in node.children:
        if isinstance(child, Node) and child.tag in BLOCKS:
            y = _flow(drawing, atoms, x, y, width)
            atoms = []
            inner = _style_of(child, style)
            if child.tag == "table":
                y = _table(drawing, child, x, y, inner)
            elif child.tag == "svg":
                y = _nested_svg(drawing, child, x, y)
            else:
                indent = 12.0 if child.tag in ("ul", "ol") else 0.0
                y = _block(drawing, child, x + indent, y, width - indent, inner)
        else:
            _inline_atoms(child, style, atoms)
    return _flow(drawing, atoms, x, y, width)


def _legend(drawing: Drawing, x: float, y: float) -> float:
    """A colour bar: blue below zero to orange above (diverging) or none to orange (sequential), as drawn."""
    if not drawing.signs:
        return y
    diverging = -1 in drawing.signs
    steps = [s / LEVELS for s in range(-LEVELS if diverging else 0, LEVELS + 1)]
    cell = 16.0
    drawing.text(x, y + 12, "colour scale:", Style(size=10.0))
    left = x + text_width("colour scale: ", 10.0)
    drawing.text(left, y + 12, "low" if not diverging else "\u2212", Style(size=10.0))
    bar = left + 30
    for index, step in enumerate(steps):
        drawing.rect(bar + index * cell, y + 2, cell, 12, _fill(_colors.rgba(step)) or ("rgb(255,255,255)", 0.0))
    end = bar + len(steps) * cell + 6
    drawing.text(end, y + 12, "high" if not diverging else "+  (0 in the middle)", Style(size=10.0))
    return y + 20


def snapshot_svg(snapshot: str, title: str = "") -> str:
    """The HTML snapshot `snapshot` as a standalone SVG document (see the module docstring)."""
    drawing = Drawing()
    y = _block(drawing, parse(snapshot), PAD, PAD, WIDTH, Style())
    y = _legend(drawing, PAD, y + 4)
    width, height = max(drawing.right + PAD, 200.0), y + PAD
    label = f"<title>{_esc(title)}</title>" if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" fill="#222">'
            f'{label}<rect width="100%" height="100%" fill="white"/>{"".join(drawing.items)}</svg>\n')
