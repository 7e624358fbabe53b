"""The teaching notebooks are kept as text: edit `notebooks/NN_name.py`, then regenerate its `.ipynb`.

Each source is a Python file in jupytext's percent format: `# %%` opens a code cell, `# %% [markdown]`
a markdown cell whose lines are commented out with `# `, and a notebook magic such as `%pip` is written
commented out too (`# %pip ...`). The `.ipynb` next to it is generated, outputs stripped, with stable
cell ids (`cell-00`, `cell-01`, ...) so a diff shows only what changed.

    python notebooks/sync.py            # write every .ipynb from its .py source
    python notebooks/sync.py 03_patching.py   # only this one
    python notebooks/sync.py --check    # exit 1 naming each .ipynb that differs from its source

(`jupytext` comes with the development extras: `pip install -e ".[dev]"`.)
"""

import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


def sources() -> list[Path]:
    """Every notebook source: the numbered `.py` files next to this script."""
    return sorted(path for path in HERE.glob("[0-9][0-9]_*.py"))


def notebook_text(source: Path) -> str:
    """The `.ipynb` text generated from one percent-format source, outputs stripped."""
    notebook = jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            built = nbformat.v4.new_markdown_cell(cell.source)
        else:
            built = nbformat.v4.new_code_cell(cell.source)
        built.id = f"cell-{index:02d}"
        cells.append(built)
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells, metadata=METADATA)) + "\n"


def out_of_date(source: Path) -> bool:
    target = source.with_suffix(".ipynb")
    return not target.exists() or target.read_text(encoding="utf-8") != notebook_text(source)


def main(arguments: list[str]) -> int:
    check = "--check" in arguments
    names = [name for name in arguments if name != "--check"]
    chosen = [HERE / Path(name).with_suffix(".py").name for name in names] if names else sources()
    stale = []
    for source in chosen:
        if not source.exists():
            print(f"no notebook source {source}; the sources are {[path.name for path in sources()]}")
            return 2
        if check:
            if out_of_date(source):
                stale.append(source.with_suffix(".ipynb").name)
        else:
            source.with_suffix(".ipynb").write_text(notebook_text(source), encoding="utf-8")
    if stale:
        print("out of date with their .py sources: " + ", ".join(stale) + "; run: python notebooks/sync.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
