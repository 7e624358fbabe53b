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


def set_theme(page, theme):
    """Switch JupyterLab's theme ("JupyterLab Light" or "JupyterLab Dark") and wait until the page says so."""
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {theme!r}}})")
    light = "true" if "Light" in theme else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)


def light_and_dark(page, read, changed=None, restore=True):
    """`read` (a JS function's source) evaluated under the light theme, then under the dark one once
    `changed(light)` (a JS predicate's source; default: the value differs) holds: `(light, dark)`.
    With `restore`, the page goes back to the light theme (later tests expect it)."""
    set_theme(page, "JupyterLab Light")
    light = page.evaluate(read)
    set_theme(page, "JupyterLab Dark")
    changed = changed or f"(light) => JSON.stringify(({read})()) !== JSON.stringify(light)"
    page.wait_for_function(f"(light) => ({changed})(light)", arg=light, timeout=30_000)
    dark = page.evaluate(read)
    if restore:
        set_theme(page, "JupyterLab Light")
    return light, dark


def brightness(css_colour):
    """r + g + b of a CSS `rgb(...)` colour: a dark theme's text is brighter than a light theme's."""
    import re

    return sum(map(int, re.findall(r"\d+", css_colour)[:3]))
