"""Helpers shared by the browser tests: notebooks to write, open and run in JupyterLab or Notebook 7."""


KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write_notebook(path, sources):
    """A notebook of code cells with the python3 kernel, written to `path`."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nbformat.write(new_notebook(cells=[new_code_cell(source) for source in sources], metadata=KERNELSPEC), path)


def open_notebook(page, lab_server, name, ui="lab"):
    """Open a notebook in JupyterLab (`ui="lab"`) or Notebook 7 (`ui="notebook"`) and wait for its kernel."""
    base, token = lab_server
    page.goto(f"{base}/lab/tree/{name}?token={token}&reset" if ui == "lab" else f"{base}/notebooks/{name}?token={token}")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=90_000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget; return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel; }",
        timeout=90_000,
    )


def run_all_cells(page, wait_for):
    """Run every cell of the open notebook and wait for the selector `wait_for`."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(wait_for, timeout=120_000)
