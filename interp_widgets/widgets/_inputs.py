"""What a widget computes from: a frozen dataclass of typed inputs (see CONTRIBUTING.md), and the
callbacks its compute step gets."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable, ClassVar

from interp_widgets.errors import InterpWidgetsError

Progress = Callable[..., None]
"""`progress(done, total, what="")`: how far a long computation is (shown in the view's `progress` line)."""
ShouldStop = Callable[[], bool]
"""`should_stop()`: True once a newer request replaced this one; a computation asks between slices."""


@dataclasses.dataclass(frozen=True, eq=False)
class Inputs:
    """What a widget computes from. Subclass as a frozen dataclass with typed fields:

        @dataclasses.dataclass(frozen=True, eq=False)
        class NormsInputs(Inputs):
            models: tuple[Any, ...]
            prompts: tuple[str, ...]
            include_bos: bool = False
            EDITABLE = ("prompt", "include_bos")

    `EDITABLE`: the fields the front-end may set (the model never is). `RESETS`: changing a field
    also resets others unless they are set too (a new prompt has no target yet). `ALIASES`: a name
    the front-end or a setter uses for a change that is not a field, mapped to a function
    `(inputs, value) -> {field: value}` (e.g. the first prompt of several).
    """

    EDITABLE: ClassVar[tuple[str, ...]] = ()
    RESETS: ClassVar[dict[str, dict[str, Any]]] = {"prompt": {"target": -1}}
    ALIASES: ClassVar[dict[str, Callable[[Any, Any], dict[str, Any]]]] = {}

    @classmethod
    def input_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)] + list(cls.ALIASES)

    def with_changes(self, changes: dict[str, Any]) -> "Inputs":
        """A copy with `changes` (fields or aliases), plus the resets they imply; an unknown name is an error naming the valid ones."""
        names = self.input_names()
        unknown = sorted(set(changes) - set(names))
        if unknown:
            close = [match for name in unknown for match in difflib.get_close_matches(name, names, n=1)]
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise InterpWidgetsError(f"{type(self).__name__} has no input {', '.join(map(repr, unknown))}{hint}: "
                                     f"its inputs are {', '.join(names)}.")
        fields = {f.name for f in dataclasses.fields(self)}
        resolved: dict[str, Any] = {}
        for name, value in changes.items():
            resolved.update(self.ALIASES[name](self, value) if name in self.ALIASES else {name: value})
        for name in list(resolved):
            for other, value in self.RESETS.get(name, {}).items():
                if other in fields and other not in resolved:
                    resolved[other] = value
        return dataclasses.replace(self, **resolved)
