"""Linked views: how a view follows the shared `Selection` (widgets/selection.py) and publishes its picks to it.

A view declares once, in `SELECTION`, how the selection maps onto its inputs (input name -> what the
selection holds: one of its choices or a value derived from them, `selection.DERIVED`). From that one
declaration this mixin builds `from_selection` (the view of what the selection holds) and `follow` (the
input changes a choice made elsewhere implies, applied through `set`'s undo path). A change the view
cannot follow is shown in its error banner (`_linked_error`) and followed again with the next choice.
"""

from __future__ import annotations

import traceback
from typing import Any, ClassVar

from interp_widgets.errors import InterpWidgetsError, Superseded
from interp_widgets.widgets.selection import SELECTED, reads


class LinkedView:
    """The selection half of `BaseWidget` (which gives `_update`, `_selection`, `_unfollowed`, `_linked_error`)."""

    SELECTION: ClassVar[dict[str, str]] = {}
    """How the shared `Selection` maps onto this view's inputs, declared once: input name (a field or alias of its
    `Inputs`, and a keyword of `from_model` with the same meaning) -> what the selection holds: one of its choices
    (`sae`, `feature`, `prompt`, `target`) or a value derived from them (`selection.DERIVED`, e.g. `sae_feature`)."""

    @classmethod
    def from_selection(cls, selection: Any, *args: Any, **options: Any) -> Any:
        """This view of what `selection` holds (its `SELECTION`); it follows the selection and publishes its picks to it.
        `args`, `options`: what the view needs besides (the graph's transcoders, a steer's strength, a title)."""
        if not cls.SELECTION:
            raise InterpWidgetsError(f"{cls.__name__} does not read a selection: build it with {cls.__name__}.from_model(...).")
        widget = cls.from_selected(selection, cls._selected(selection, None), *args, **options)
        widget.link(selection)
        return widget

    @classmethod
    def from_selected(cls, selection: Any, selected: dict[str, Any], *args: Any, **options: Any) -> Any:
        """The view built from `selected` (input name -> the selection's value): `from_model(selection.model, *args,
        **selected, **options)`, unless a view is built another way (from the selection's activation indexes, say)."""
        return cls.from_model(selection.model, *args, **selected, **options)  # type: ignore[attr-defined]

    @classmethod
    def _selected(cls, selection: Any, changed: set[str] | None) -> dict[str, Any]:
        """The selection's values of the inputs in `SELECTION` that depend on a choice in `changed` (None: all)."""
        return {name: getattr(selection, held) for name, held in cls.SELECTION.items() if changed is None or changed & reads(held)}

    def link(self, selection: Any) -> None:
        """Follow `selection` (every choice another view or code makes) and publish this view's picks to it."""
        self._selection = selection
        selection.on_choice(self, lambda changed: self.follow_selection(selection, changed))

    def follow(self, selection: Any, changed: set[str]) -> dict[str, Any]:
        """The input changes that follow a choice in `selection`: those of `SELECTION` whose choices are in `changed`."""
        return self._selected(selection, changed)

    def follow_selection(self, selection: Any, changed: set[str]) -> None:
        """Follow a choice made elsewhere through `set`'s undo path; if the view cannot, its banner says why (and the
        others still follow). Both the selection and the workbench (a hidden tab catching up) come through here.
        A choice it could not follow is followed again with the next one (a bad SAE, then a feature it has)."""
        changed = set(changed) | self._unfollowed
        try:
            changes = self.follow(selection, changed)
            if changes:
                self._update(changes, publish=False)
        except Superseded:  # busy with a newer request of its own, which it will draw
            self._unfollowed = changed
            return
        except InterpWidgetsError as error:
            self._unfollowed = changed
            self._linked_error = f"could not follow the selection ({', '.join(sorted(changed))}): {error}"
            return
        except Exception as error:  # shown in this view; its traceback stays inspectable
            self._unfollowed = changed
            self.last_traceback = traceback.format_exc()
            self._linked_error = f"{type(error).__name__}: {error} (full traceback in widget.last_traceback)"
            return
        self._unfollowed = set()
        self._linked_error = ""

    def _publish_inputs(self, changes: dict[str, Any], inputs: Any) -> None:
        # The inputs named as a choice this view reads (a prompt typed here, a feature picked), not values made from one.
        published = {name: getattr(inputs, name, changes[name]) for name in changes  # an alias (the norms' prompt): as given
                     if name in SELECTED and name in self.SELECTION.values()}
        if "prompt" in published and "target" not in changes:
            published["target"] = -1  # a new prompt has no target yet: where the feature peaks
        self._publish(**published)

    def _publish(self, **changes: Any) -> None:
        """Announce this view's own pick to every linked view (this one has drawn it already)."""
        if self._selection is not None and changes:
            self._selection.choose(source=self, **changes)
