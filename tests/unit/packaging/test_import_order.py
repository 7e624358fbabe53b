"""The package's layers import only to their left: errors <- compute <- sae <- models <- widgets.

Every import in every module of the package is read from its syntax tree (module level, inside
functions and classes, under `if TYPE_CHECKING:`, and `importlib.import_module("...")` with a literal
name), resolved to the package module it names, and checked:

- a module may import only modules of its own layer or a layer to its left; the package root and its
  top-level entry points (`interp_widgets/__init__.py`, `attention.py`, `tokens.py`, `nbconvert.py`) sit
  right of `widgets` and nothing inside a layer may import them;
- inside `compute/`, `core/` is the ground floor: it imports no technique package (`ablation/`,
  `patching/`, `attribution/`, ...), while every technique package may import `core/`;
- no module takes a private name (`_name`) from another module: what two modules share is made
  public (or moved to a shared module) first.

No allowlist: a break is fixed, not excused.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[3] / "interp_widgets"
LAYERS = ["errors", "compute", "sae", "models", "widgets"]
ENTRY_POINTS = len(LAYERS)  # the package root and its top-level modules


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. interp_widgets.compute.features.index
    target: str  # the package module imported, e.g. interp_widgets.sae.store
    name: str | None  # the name taken from it (`from target import name`), if any
    line: int

    def __str__(self) -> str:
        taken = f" ({self.name})" if self.name else ""
        return f"{self.module}:{self.line} imports {self.target}{taken}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """Index in LAYERS; the package root and top-level modules other than errors rank after widgets."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else ENTRY_POINTS


def resolve_from(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names (relative imports resolved against `module`)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> list[Import]:
    """Every import of a package module in `module`'s source, wherever it is written."""
    found = []
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = resolve_from(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:  # `from interp_widgets.sae import store` imports a module
                    found.append(Import(module, submodule, None, node.lineno))
                else:
                    found.append(Import(module, source, alias.name, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append(Import(module, node.args[0].value, None, node.lineno))
    return [found_import for found_import in found if found_import.target.split(".")[0] == "interp_widgets"]


ALL_IMPORTS = [found for module in MODULES for found in imports_of(module)]


def layer_breaks(imports: list[Import]) -> list[Import]:
    return [found for found in imports if layer(found.target) > layer(found.module)]


def private_names_taken(imports: list[Import]) -> list[Import]:
    return [found for found in imports
            if found.name is not None and found.name.startswith("_") and not found.name.startswith("__")
            and found.target != found.module]


CORE = "interp_widgets.compute.core"


def technique(module: str) -> str | None:
    """The compute subpackage a module belongs to (`core`, `ablation`, ...), None outside compute/ or at its top."""
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "compute" else None


def core_breaks(imports: list[Import]) -> list[Import]:
    """Imports from compute/core/ up into a technique package (core is the ground floor)."""
    return [found for found in imports
            if technique(found.module) == "core" and found.target.startswith("interp_widgets.compute.")
            and technique(found.target) not in (None, "core")]


def test_the_walk_sees_the_package():
    assert {"interp_widgets.errors", "interp_widgets.compute.core.hooks", "interp_widgets.sae.store",
            "interp_widgets.models.loaders", "interp_widgets.widgets.selection"} <= set(MODULES)
    assert len(ALL_IMPORTS) > 100
    # Imports inside functions are seen too (the lazy exports of the package root, for one).
    assert any(found.module == "interp_widgets" and found.target.startswith("interp_widgets.widgets") for found in ALL_IMPORTS)


def test_every_import_follows_the_layer_order():
    breaks = layer_breaks(ALL_IMPORTS)
    assert not breaks, ("imports against the order errors <- compute <- sae <- models <- widgets:\n  "
                        + "\n  ".join(map(str, breaks)))


def test_no_module_takes_private_names_from_another():
    taken = private_names_taken(ALL_IMPORTS)
    assert not taken, "modules importing another module's private names (make them public or share them):\n  " + "\n  ".join(map(str, taken))


def test_compute_core_is_the_ground_floor():
    assert any(technique(module) == "core" for module in MODULES)
    breaks = core_breaks(ALL_IMPORTS)
    assert not breaks, "compute/core/ importing a technique package (move the shared piece into core/):\n  " + "\n  ".join(map(str, breaks))


def test_core_check_can_fail(monkeypatch):
    source = "from interp_widgets.compute.patching.tasks import ioi_pair\nfrom interp_widgets.compute.core import linear\n"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    assert [found.target for found in core_breaks(imports_of("interp_widgets.compute.core.decoding"))] == ["interp_widgets.compute.patching.tasks"]


@pytest.mark.parametrize("source, module, expected", [
    # compute reaching up into sae and models, from inside a function: breaks
    ("def f():\n    from interp_widgets.sae.store import pack\n", "interp_widgets.compute.features.index", ["interp_widgets.sae.store"]),
    ("def f():\n    from interp_widgets.models import validation_tokens\n", "interp_widgets.compute.features.index", ["interp_widgets.models"]),
    # sae importing a widget, relative and by importlib: breaks
    ("from ..widgets.histogram import HistogramView\n", "interp_widgets.sae.compare", ["interp_widgets.widgets.histogram"]),
    ("import importlib\nimportlib.import_module('interp_widgets.widgets')\n", "interp_widgets.sae.compare", ["interp_widgets.widgets"]),
    # a layer importing the package root: a break; widgets importing compute, models: fine
    ("import interp_widgets\n", "interp_widgets.models.loaders", ["interp_widgets"]),
    ("from interp_widgets.compute import hooks\nfrom ..models import load_model\n", "interp_widgets.widgets.selection", []),
])
def test_layer_check_can_fail(source, module, expected, monkeypatch):
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    assert [found.target for found in layer_breaks(imports_of(module))] == expected


@pytest.mark.parametrize("module, source, expected", [
    ("interp_widgets.widgets.feature_ablation", "from .token_highlights import _visible, TokenHighlights\nfrom . import _wire\n",
     [("interp_widgets.widgets.token_highlights", "_visible")]),
    # outside widgets/ too: compute and sae modules
    ("interp_widgets.compute.core.decoding", "from interp_widgets.compute.core.prefix_runner import _raw, PrefixRunner\n",
     [("interp_widgets.compute.core.prefix_runner", "_raw")]),
    ("interp_widgets.sae.transcoder", "from interp_widgets.sae.train import TrainConfig, _aux_k_loss\n",
     [("interp_widgets.sae.train", "_aux_k_loss")]),
])
def test_private_name_check_can_fail(module, source, expected, monkeypatch):
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    taken = private_names_taken(imports_of(module))
    assert [(found.target, found.name) for found in taken] == expected
