"""Every notebook executes without error; saved outputs carry a static snapshot of the last view."""

import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from tests.notebooks.executed import executed as execute_once

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
# The curriculum's lessons (10_ and on) are executed, timed and their claims checked by
# test_curriculum.py; executing them here too would only double the suite's longest part.
EXECUTED_HERE = [path for path in NOTEBOOKS if int(path.name[:2]) < 10]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Executed(dict):
    """Notebooks by name, each executed the first time a test asks for it (so `-k 01_sae` runs only that one), once
    per session: test_curriculum.py reads the same runs for the numbers the prose quotes (`executed.py`)."""

    def __missing__(self, name: str) -> nbformat.NotebookNode:
        self[name] = execute_once(name)
        return self[name]


@pytest.fixture(scope="module")
def executed():
    return Executed()


def test_there_are_notebooks():
    assert any(path.name == "00_quickstart.ipynb" for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("name", [p.name for p in EXECUTED_HERE])
def test_notebook_runs_without_errors(executed, name):
    errors = [o for cell in executed[name].cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert not errors, "\n".join(f"{e.ename}: {e.evalue}" for e in errors)


@pytest.mark.parametrize("name", [p.name for p in EXECUTED_HERE])
def test_no_cell_shows_a_stray_return_value(executed, name):
    """A cell's last line that only sets a mode (torch.set_grad_enabled(...)) must not print the mode object's repr."""
    shown = [o["data"].get("text/plain", "") for cell in executed[name].cells for o in cell.get("outputs", [])
             if o.output_type == "execute_result"]
    stray = [text for text in shown if re.search(r"torch\.autograd\.grad_mode|<torch\._C\.|set_grad_enabled", text)]
    assert not stray, stray


def widget_outputs(notebook):
    return [o for cell in notebook.cells for o in cell.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]


def test_quickstart_outputs_have_static_snapshots(executed):
    outputs = widget_outputs(executed["00_quickstart.ipynb"])
    assert len(outputs) >= 3
    for output in outputs:
        snapshot = output["data"]["text/html"]
        assert "static snapshot" in snapshot and "<script" not in snapshot.lower()
    # The escaped markup token of the plain-data example is shown as text.
    assert any("&lt;b&gt;not·bold&lt;/b&gt;" in o["data"]["text/html"] for o in outputs)


def shown_text(snapshot: str) -> str:
    """The token text of a snapshot, tags removed (each token is its own span)."""
    return re.sub(r"<style>.*?</style>|<[^>]+>", "", snapshot)


def test_snapshot_follows_the_last_view(executed):
    """A later cell calls view.set_prompt(...): the saved output of the earlier cell shows the new prompt."""
    first = widget_outputs(executed["00_quickstart.ipynb"])[0]
    assert "Ein·kleiner·Hund" in shown_text(first["data"]["text/html"])
    assert "Baskervilles" not in shown_text(first["data"]["text/html"])
    plain_tokens = re.findall(r"^\s+\d+\s+\S+\s+'(.*)'$", first["data"]["text/plain"], flags=re.M)
    assert "".join(plain_tokens).startswith("<|endoftext|>Ein kleiner Hund")


def test_html_export_shows_the_snapshot_without_a_kernel(executed):
    """With the widget state saved, the package's preprocessor still makes the export show the snapshots."""
    from traitlets.config import Config

    assert "widgets" in executed["00_quickstart.ipynb"].metadata
    config = Config({"HTMLExporter": {"preprocessors": ["interp_widgets.nbconvert.SnapshotPreprocessor"]}})
    body, _ = HTMLExporter(config=config).from_notebook_node(executed["00_quickstart.ipynb"])
    assert "static snapshot" in body and "Ein·kleiner·Hund" in shown_text(body)
