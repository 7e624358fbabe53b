"""One palette on each side: the colours of js/lib/palette.ts (the live views) and of
interp_widgets/widgets/_colors.py (static snapshots, SVG pictures) are the same values, and no view
writes a data colour of its own."""

import re
from pathlib import Path

from interp_widgets.widgets import _charts, _colors

ROOT = Path(__file__).resolve().parents[3]
PALETTE_TS = (ROOT / "js" / "lib" / "palette.ts").read_text()


def ts_constant(name: str):
    """A constant of palette.ts: an `[r, g, b]` triple as a tuple of ints, a list of colours as a tuple of strings."""
    match = re.search(rf"^export const {name}(?:: \w+)? = \[(.*?)\];", PALETTE_TS, re.M)
    assert match, f"palette.ts has no {name}"
    items = [item.strip() for item in match.group(1).split(",")]
    return tuple(int(item) for item in items) if items[0].isdigit() else tuple(item.strip('"') for item in items)


def test_both_sides_have_the_same_palette():
    for name in ("NEGATIVE_RGB", "POSITIVE_RGB", "NEGATIVE_RGB_DARK", "POSITIVE_RGB_DARK", "SERIES", "NODE_KINDS"):
        assert ts_constant(name) == getattr(_colors, name), f"{name} differs between js/lib/palette.ts and widgets/_colors.py"


def test_snapshot_charts_and_graphs_draw_with_the_palette():
    assert _charts.PALETTE == _colors.SERIES
    assert _colors.hex_color(_colors.POSITIVE_RGB) == "#e66101" and _colors.hex_color(_colors.NEGATIVE_RGB) == "#2166ac"


def test_no_entry_hard_codes_a_data_colour():
    # colours live in js/lib/palette.ts (data) and js/lib/style.ts (theme fallbacks); an entry names them
    hard_coded = {}
    for path in sorted((ROOT / "js").glob("*.ts")):
        found = re.findall(r"#[0-9a-fA-F]{6}\b|rgb\(\s*\d", path.read_text())
        if found:
            hard_coded[path.name] = found
    allowed = {"graph_view.ts": 3}  # theme fallbacks of --iw-fg, --iw-fg-muted and --iw-accent, as in style.ts
    assert {name: len(found) for name, found in hard_coded.items()} == allowed, hard_coded
