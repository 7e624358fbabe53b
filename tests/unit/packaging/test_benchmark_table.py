"""The README's benchmark table is the one run_all.py wrote last (not a hand-edited copy that drifts)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_md_is_the_table_of_the_kept_results():
    run_all = _run_all()
    kept = {path.stem: json.loads(path.read_text()) for path in (ROOT / "benchmarks" / "results").glob("*.json")}
    assert kept, "benchmarks/results holds no <device>.json"
    assert (ROOT / "benchmarks" / "results" / "RESULTS.md").read_text() == run_all.table(kept)


def test_readme_shows_results_md_between_its_markers():
    run_all = _run_all()
    readme = (ROOT / "README.md").read_text()
    written = (ROOT / "benchmarks" / "results" / "RESULTS.md").read_text()
    assert run_all.readme_with(readme, written) == readme, "README's table differs from RESULTS.md: run benchmarks/run_all.py"


def test_readme_with_replaces_only_the_table():
    run_all = _run_all()
    readme = f"intro\n{run_all.TABLE_START}| old |\n{run_all.TABLE_END}outro\n"
    assert run_all.readme_with(readme, "| new |\n") == f"intro\n{run_all.TABLE_START}| new |\n{run_all.TABLE_END}outro\n"
    with pytest.raises(SystemExit, match="markers"):
        run_all.readme_with("no markers here\n", "| new |\n")
