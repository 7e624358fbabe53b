"""One registry of widgets: its rows, the classes, the package's lazy exports and the esbuild entries agree, and a
bundle's name is written in its row only (the class's `_esm` comes from the row, esbuild takes every entry)."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import interp_widgets
import interp_widgets.widgets as widgets_package
from interp_widgets.widgets.registry import OTHER_EXPORTS, WIDGETS

ROOT = Path(__file__).resolve().parents[3]


def widget_classes() -> dict[str, type]:
    """Every widget class (a view with a bundle) defined anywhere in interp_widgets.widgets."""
    from interp_widgets.widgets._base import BaseWidget

    found = {}
    for info in pkgutil.iter_modules(widgets_package.__path__):
        module = importlib.import_module(f"interp_widgets.widgets.{info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseWidget) and value is not BaseWidget and value.__module__ == module.__name__:
                found[name] = value
    return found


def test_every_widget_class_is_one_registry_row_with_its_own_bundle():
    rows = {row.name: row for row in WIDGETS}
    assert len(rows) == len(WIDGETS), "a widget is listed twice"
    classes = widget_classes()
    assert sorted(classes) == sorted(rows), "registry rows and widget classes differ"
    for name, cls in classes.items():
        row = rows[name]
        assert cls.__module__ == f"interp_widgets.widgets.{row.module}"
        bundle = ROOT / "interp_widgets" / "static" / f"{row.bundle}.js"
        assert str(cls._esm) == bundle.read_text(), f"{name} does not load {bundle.name}, the bundle its row names"


def test_lazy_exports_name_every_widget():
    lazy_widgets = {name for name in interp_widgets.__all__ if name in {row.name for row in WIDGETS}}
    assert lazy_widgets == {row.name for row in WIDGETS}
    for name in [row.name for row in WIDGETS] + list(OTHER_EXPORTS):
        assert getattr(interp_widgets, name) is getattr(widgets_package, name)


def test_esbuild_entries_are_the_registry_bundles():
    # js/build.mjs bundles every js/*.ts (not .d.ts) into interp_widgets/static/
    build = (ROOT / "js" / "build.mjs").read_text()
    assert 'name.endsWith(".ts")' in build and 'outdir: "interp_widgets/static"' in build
    entries = {path.stem for path in (ROOT / "js").glob("*.ts") if not path.name.endswith(".d.ts")}
    assert entries == {row.bundle for row in WIDGETS}


def test_wheel_build_ensures_the_bundles_were_built():
    # one esbuild call builds every entry or fails, so one bundle stands for all (the clean-clone wheel test checks each)
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"ensured-targets\s*=\s*\[(.*?)\]", text, re.S).group(1)
    targets = set(re.findall(r'"([^"]+)"', block))
    assert targets == {"interp_widgets/static/token_highlights.js", "interp_widgets/labextension/package.json"}
    assert "entryPoints: entries" in (ROOT / "js" / "build.mjs").read_text()


def test_no_widget_module_names_its_bundle():
    # the row is the one place: BaseWidget sets `_esm` from it, so renaming a bundle is one edit (and the file's)
    for info in pkgutil.iter_modules(widgets_package.__path__):
        if info.name in ("_base", "registry"):
            continue
        source = (Path(widgets_package.__path__[0]) / f"{info.name}.py").read_text()
        assert "bundle_path(" not in source and "_esm =" not in source, f"widgets/{info.name}.py names its bundle: its registry row does"
