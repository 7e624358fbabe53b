"""The notebooks are kept as text: each .ipynb is exactly what notebooks/sync.py generates from its .py source."""

import importlib.util
from pathlib import Path

import pytest

from tests.parts import need_module

NOTEBOOKS = Path(__file__).parents[3] / "notebooks"
nbformat = need_module("nbformat", "a development extra, not in the sae-lens environment: pip install -e '.[dev]'", required_by=None)
need_module("jupytext", "a development extra, not in the sae-lens environment: pip install -e '.[dev]'", required_by=None)


def load_sync():
    spec = importlib.util.spec_from_file_location("notebook_sync", NOTEBOOKS / "sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = load_sync()


def test_every_notebook_has_exactly_one_source():
    notebooks = {path.stem for path in NOTEBOOKS.glob("*.ipynb")}
    sources = {path.stem for path in sync.sources()}
    assert notebooks, "no notebooks found"
    assert notebooks == sources, f"notebooks without a source: {notebooks - sources}; sources without a notebook: {sources - notebooks}"


@pytest.mark.parametrize("source", sync.sources(), ids=lambda path: path.name)
def test_notebook_matches_its_source(source):
    committed = source.with_suffix(".ipynb").read_text(encoding="utf-8")
    assert committed == sync.notebook_text(source), f"{source.with_suffix('.ipynb').name} is stale: run python notebooks/sync.py"


@pytest.mark.parametrize("source", sync.sources(), ids=lambda path: path.name)
def test_source_is_percent_format_with_code_and_markdown(source):
    notebook = nbformat.reads(sync.notebook_text(source), as_version=4)
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"code", "markdown"}
    assert source.read_text(encoding="utf-8").count("# %%") == len(notebook.cells)


def test_check_finds_an_edited_source(tmp_path, monkeypatch):
    """The comparison can fail: a source edited without regenerating its notebook is reported."""
    for path in sync.sources()[:1]:
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8") + "\n# %%\nprint('new cell')\n", encoding="utf-8")
        (tmp_path / path.with_suffix(".ipynb").name).write_text(path.with_suffix(".ipynb").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(sync, "HERE", tmp_path)
    assert sync.main(["--check"]) == 1
    assert sync.main([]) == 0
    assert sync.main(["--check"]) == 0
    assert "print('new cell')" in (tmp_path / sync.sources()[0].with_suffix(".ipynb").name).read_text(encoding="utf-8")
