"""Each teaching notebook executed at most once per test session, shared by test_notebooks.py (runs, snapshots)
and test_curriculum.py (the numbers its prose quotes), so the suite's longest part is not doubled."""

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
SECONDS: dict[str, float] = {}  # how long each notebook took to execute
_EXECUTED: dict[str, nbformat.NotebookNode] = {}


def executed(name: str) -> nbformat.NotebookNode:
    """The notebook `name` (e.g. "03_patching.ipynb") executed as `jupyter nbconvert --execute` does (widget state stored)."""
    if name not in _EXECUTED:
        path = NOTEBOOKS / name
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=300, kernel_name="python3", store_widget_state=True,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        SECONDS[name] = time.perf_counter() - start
        _EXECUTED[name] = notebook
    return _EXECUTED[name]


def printed(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook's cells printed or showed as plain text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)
