"""Traits on both sides: each front-end entry's `interface State` (js/<bundle>.ts) names exactly its
widget's synced traits, each with the kind the kernel sends (string, number, boolean, list, dict, wire
array; `| null` where the trait allows None; a string-literal union lists the trait's Enum values), and
every trait says what it is in its `help=` text (shown by `help(Widget)` and `Widget.class_traits()`)."""

import importlib
import re
from pathlib import Path

import pytest
import traitlets

from interp_widgets.widgets._wire import Array
from interp_widgets.widgets.registry import WIDGETS

JS = Path(__file__).resolve().parents[3] / "js"


def interface_fields(source: str, name: str = "State") -> dict[str, str]:
    """The fields of `interface <name> { ... }` in a TypeScript source, `{field: type}` (nested braces kept)."""
    match = re.search(rf"^(?:export )?interface {name} \{{", source, re.M)
    assert match, f"no `interface {name}` found"
    depth, start, body = 1, match.end(), None
    for i in range(start, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            body = source[start:i]
            break
    fields, depth, current = {}, 0, ""
    for char in re.sub(r"//[^\n]*|/\*.*?\*/", "", body, flags=re.S) + ";":
        depth += {"{": 1, "}": -1, "[": 1, "]": -1, "<": 1, ">": -1, "(": 1, ")": -1}.get(char, 0)
        if char in ";\n" and depth == 0:
            if current.strip():
                field, _, kind = current.partition(":")
                fields[field.strip().rstrip("?")] = kind.strip()
            current = ""
        else:
            current += char
    return fields


def ts_kind(ts_type: str) -> tuple[str, bool, frozenset[str] | None]:
    """(kind, nullable, string literals or None) of a TypeScript field type."""
    parts = [part.strip() for part in ts_type.split("|")] if not ts_type.startswith(("{", "(", "[")) else [ts_type]
    nullable = "null" in parts
    parts = [part for part in parts if part != "null"]
    if all(re.fullmatch(r'"[^"]*"', part) for part in parts):
        return "string", nullable, frozenset(part.strip('"') for part in parts)
    (single,) = parts
    if single.endswith("[]") or single.startswith("["):
        return "list", nullable, None
    if single.startswith(("{", "Record<")):
        return "dict", nullable, None
    return {"WireArray": "array", "string": "string", "number": "number", "boolean": "boolean"}.get(single, "?" + single), nullable, None


def element_type(ts_type: str, source: str) -> str | None:
    """The element type of a TypeScript array type `T[]` (named types resolved in `source`); None for a tuple."""
    ts_type = named_type(ts_type.strip(), source)
    if ts_type.endswith("[]"):
        element = ts_type[:-2].strip()
        return named_type(element[1:-1] if element.startswith("(") and element.endswith(")") else element, source)
    return None


def named_type(ts_type: str, source: str) -> str:
    """A `type Name = ...` alias replaced by what it stands for; an `interface Name` by an object type."""
    alias = re.search(rf"^(?:export )?type {re.escape(ts_type)} = (.+?);?$", source, re.M)
    if alias:
        return alias.group(1).strip()
    if re.search(rf"^(?:export )?interface {re.escape(ts_type)} ", source, re.M):
        return "{}"
    return ts_type


def trait_kind(trait: traitlets.TraitType) -> str:
    if isinstance(trait, Array):
        return "array"
    if isinstance(trait, traitlets.Enum):
        return "string" if all(isinstance(value, str) for value in trait.values) else "?enum"
    for kinds, name in (((traitlets.Unicode,), "string"), ((traitlets.Bool,), "boolean"),
                        ((traitlets.Int, traitlets.Float), "number"), ((traitlets.List, traitlets.Tuple), "list"),
                        ((traitlets.Dict,), "dict")):
        if isinstance(trait, kinds):
            return name
    return "?" + type(trait).__name__


def widget_class(row):
    return getattr(importlib.import_module(f"interp_widgets.widgets.{row.module}"), row.name)


@pytest.mark.parametrize("row", WIDGETS, ids=lambda row: row.name)
def test_front_end_state_matches_the_traits(row):
    cls = widget_class(row)
    source = (JS / f"{row.bundle}.ts").read_text()
    fields = interface_fields(source)
    traits = {name: cls.class_traits()[name] for name in cls.public_trait_names()}
    assert sorted(fields) == sorted(traits), (
        f"js/{row.bundle}.ts State and {row.name}'s traits differ: only in TypeScript {sorted(set(fields) - set(traits))}, "
        f"only in Python {sorted(set(traits) - set(fields))}")
    for name, trait in traits.items():
        kind, nullable, literals = ts_kind(fields[name])
        assert kind == trait_kind(trait), f"{row.name}.{name}: TypeScript says {fields[name]!r}, the trait is {type(trait).__name__}"
        assert nullable == bool(trait.allow_none), f"{row.name}.{name}: `| null` in TypeScript exactly when the trait allows None"
        if kind == "list":
            assert getattr(trait, "_trait", None) is not None, f"{row.name}.{name}: say what the list holds (traitlets.List(traitlets.X()))"
            element = element_type(fields[name], source)
            if element is not None:
                assert ts_kind(element)[0] == trait_kind(trait._trait), (
                    f"{row.name}.{name}: TypeScript's elements are {element!r}, the trait's {type(trait._trait).__name__}")
        if kind == "dict":
            assert trait._key_trait is not None or trait._value_trait is not None, (
                f"{row.name}.{name}: say what the dict holds (traitlets.Dict(key_trait=traitlets.Unicode()) or a value trait)")
        if literals is not None and isinstance(trait, traitlets.Enum):
            assert literals == set(trait.values), f"{row.name}.{name}: TypeScript lists {sorted(literals)}, the trait {sorted(trait.values)}"


@pytest.mark.parametrize("row", WIDGETS, ids=lambda row: row.name)
def test_every_trait_says_what_it_is(row):
    cls = widget_class(row)
    missing = [name for name in cls.public_trait_names() if not (cls.class_traits()[name].help or "").strip()]
    assert not missing, f"{row.name}: give these traits a help= text: {missing}"


def test_the_interface_parser_reads_nested_types_and_unions():
    source = 'interface State {\n  a: { x?: number[]; y: [string, number][] };\n  b: "p" | "q";\n  c: number | null; // note\n  d: Record<string, string>;\n}'
    fields = interface_fields(source)
    assert fields == {"a": "{ x?: number[]; y: [string, number][] }", "b": '"p" | "q"', "c": "number | null", "d": "Record<string, string>"}
    assert ts_kind(fields["a"]) == ("dict", False, None)
    assert ts_kind(fields["b"]) == ("string", False, frozenset({"p", "q"}))
    assert ts_kind(fields["c"]) == ("number", True, None)
    assert ts_kind("(string | number)[][]") == ("list", False, None)
    assert element_type("(string | number)[][]", "") == "(string | number)[]"
    assert element_type("Item[]", "type Item = [string, number];\n") == "[string, number]"
    assert element_type("Example[]", "interface Example {\n  a: number;\n}") == "{}"
    assert element_type("[string, number]", "") is None


@pytest.mark.parametrize("row", WIDGETS, ids=lambda row: row.name)
def test_no_input_is_typed_any(row):
    # the model is `Model` (compute/core/model.py), an SAE `SparseAutoencoder`, an index `ActivationIndex`, a direction `ReadoutSpec`
    import dataclasses

    from interp_widgets.widgets._inputs import Inputs

    module = importlib.import_module(f"interp_widgets.widgets.{row.module}")
    untyped = [f"{cls.__name__}.{field.name}: {field.type}" for cls in vars(module).values()
               if isinstance(cls, type) and issubclass(cls, Inputs) and cls is not Inputs and cls.__module__ == module.__name__
               for field in dataclasses.fields(cls) if re.search(r"\bAny\b", str(field.type))]
    assert not untyped, f"give these inputs their type: {untyped}"
