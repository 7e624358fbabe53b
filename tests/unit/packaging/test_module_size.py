"""No module of the package or of its front-end is over 400 lines: past that, split it by topic."""

from pathlib import Path

ROOT = Path(__file__).parents[3]
LIMIT = 400


def sources() -> list[Path]:
    package = sorted((ROOT / "interp_widgets").rglob("*.py"))
    front_end = sorted(path for pattern in ("js/*.ts", "js/lib/*.ts", "js/tests/*.ts", "js/labextension/src/*.ts", "js/*.mjs")
                       for path in ROOT.glob(pattern))
    return package + front_end


def too_long(paths: list[Path], limit: int = LIMIT) -> list[str]:
    counts = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in paths}
    return [f"{path}: {n} lines" for path, n in counts.items() if n > limit]


def test_modules_are_under_400_lines():
    paths = sources()
    assert len(paths) > 60 and any(path.suffix == ".ts" for path in paths)
    assert too_long(paths) == []


def test_the_size_check_can_fail(tmp_path):
    long = tmp_path / "long.py"
    long.write_text("x = 1\n" * (LIMIT + 1))
    (tmp_path / "short.py").write_text("x = 1\n" * LIMIT)
    assert too_long([long, tmp_path / "short.py"]) == [f"{long}: {LIMIT + 1} lines"]
