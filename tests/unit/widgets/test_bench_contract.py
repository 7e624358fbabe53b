"""The workbench and the selection keep to the views' contract: no special case by class name, no writes to
another object's private attributes, one follow-error handling (the view's own), every view on the routed front-end."""

import ast
from pathlib import Path

import pytest

import interp_widgets as iw
from interp_widgets.widgets.registry import BENCH_TABS, WIDGETS

PACKAGE = Path(iw.__file__).parent
ROOT = PACKAGE.parent
PROMPT = "salt and pepper, bread and butter"


def source(name):
    return ast.parse((PACKAGE / "widgets" / name).read_text())


@pytest.mark.parametrize("module", ["workbench.py", "selection.py"])
def test_no_special_case_by_class_name_and_no_private_writes_to_others(module):
    tree = source(module)
    names = {row.name for row in WIDGETS}
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not strings & names, f"{module} names a view class: {sorted(strings & names)} (say it in the registry row instead)"
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr.startswith("_"):
                assert isinstance(target.value, ast.Name) and target.value.id == "self", (
                    f"{module}:{node.lineno} writes another object's private attribute {target.attr}")


def test_the_follow_error_handling_lives_in_the_view_once():
    """Selection and the workbench's catch-up call the view's own `follow_selection` (no copy of its except clauses)."""
    for module in ("workbench.py", "selection.py"):
        handlers = [node for node in ast.walk(source(module)) if isinstance(node, ast.ExceptHandler)]
        assert not any("Superseded" in ast.unparse(h.type or ast.Constant(None)) for h in handlers), module


def test_bench_options_reach_the_tab_that_names_them():
    import inspect

    (patching,) = [tab for tab in BENCH_TABS if tab.name == "PatchingView"]
    arguments = set(inspect.signature(iw.explore).parameters)
    assert patching.options == ("corrupt",) and all(set(tab.options) <= arguments for tab in BENCH_TABS)
    model = iw.load_model()
    clean = "When Mary and John went to the store, John gave a drink to"
    corrupt = "When Mary and John went to the store, John went a drink to"  # as many tokens, not the default swap
    bench = iw.explore(model, {"4x": iw.load_sae("4x")}, prompt=clean, corrupt=corrupt, index_tokens=64 * 20)
    view = bench.show("Patching")
    assert view.clean_prompt == clean and view.corrupt_prompt == corrupt


def test_a_hidden_tab_that_cannot_catch_up_says_so_in_its_own_banner():
    model = iw.load_model()
    bench = iw.explore(model, {"4x": iw.load_sae("4x")}, prompt=PROMPT, index_tokens=64 * 20)
    grid = bench.show("Lens grid")
    bench.show("Highlights")
    bench.selection.choose(prompt="")  # the grid is hidden: nothing tried yet
    assert grid.prompt == PROMPT and grid._linked_error == ""
    bench.show("Lens grid")
    assert "could not follow the selection (prompt)" in grid._linked_error and grid.prompt == PROMPT
    bench.selection.choose(prompt="fish and chips")
    assert grid.prompt == "fish and chips" and grid._linked_error == ""


@pytest.mark.parametrize("row", WIDGETS, ids=lambda row: row.name)
def test_every_view_uses_the_routed_front_end(row):
    """Save menu, banners (the linked-error one too) and redraw on change come from lib/widget.ts's routedWidget."""
    text = (ROOT / "js" / f"{row.bundle}.ts").read_text()
    assert "export default routedWidget" in text, f"js/{row.bundle}.ts renders on its own"
