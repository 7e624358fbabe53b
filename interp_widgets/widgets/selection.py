"""One shared selection for linked views (mosaic's `Selection`): model, SAE, feature, prompt, target.

    sel = iw.Selection(model, saes={"1x": sae1, "4x": sae4}, sae="4x", feature=495, prompt="bread and butter")
    iw.FeatureBrowser.from_selection(sel); iw.FeatureDashboard.from_selection(sel)
    iw.TokenHighlights.from_selection(sel); iw.FeatureAblation.from_selection(sel)

Every linked view publishes what the user picks in it to the selection and listens to it, so a
click in one moves the others; views never call each other. The selection is a model-only widget
(no view of its own) whose traits sync with the front-end; the model and SAEs stay in the kernel.
It also keeps one activation index per SAE (built on first use) for the dashboard and the browser.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import ipywidgets
import traitlets

from interp_widgets.compute.core.model import Model
from interp_widgets.compute.core.readouts import sae_hook_name
from interp_widgets.compute.features.index import ActivationIndex
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.model import SparseAutoencoder
from interp_widgets.widgets._inputs import Inputs

SELECTED = ("sae", "feature", "prompt", "target", "head")
"""The choices a selection holds: an SAE by name, a feature index (an int), a prompt, a target position (an int, -1:
where the feature peaks), an attention head as "L<layer>H<head>" ("" for none). Every view uses these names with these
meanings."""
DERIVED = {"sae_feature": ("sae", "feature"), "hook": ("sae",), "current_index": ("sae",), "saes": (), "index": ()}
"""What a view may also read from a selection, and the choices each depends on (`BaseWidget.SELECTION`)."""


def reads(held: str) -> set[str]:
    """The choices that `held` (a choice, or a name in `DERIVED`) depends on: a view follows it when one of them changes."""
    if held in SELECTED:
        return {held}
    if held not in DERIVED:
        raise InterpWidgetsError(f"a selection holds {', '.join(SELECTED)} and {', '.join(DERIVED)}; got {held!r}.")
    return set(DERIVED[held])


@dataclasses.dataclass(frozen=True, eq=False)
class IndexedInputs(Inputs):
    """What a view reading an SAE's activation index computes from: the named SAEs, their indexes, which SAE and feature."""

    model: Model
    saes: Mapping[str, SparseAutoencoder]
    index_of: Callable[..., ActivationIndex]
    """`index_of(progress, sae=name)`: the activation index of the SAE `name`, built once (a selection's `index`)."""
    sae: str
    feature: int = -1


class Selection(ipywidgets.Widget):
    """The shared choice: which SAE (by name), feature, prompt, target position (-1: where the feature peaks) and
    attention head ("L1H3"; "" for none)."""

    sae = traitlets.Unicode("").tag(sync=True)
    feature = traitlets.Int(0).tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    target = traitlets.Int(-1).tag(sync=True)
    head = traitlets.Unicode("").tag(sync=True)
    _iw_model_only = traitlets.Bool(True).tag(sync=True)
    """Marks a model-only widget of ours (no view): an HTML export leaves its saved state out (`interp_widgets.nbconvert`)."""

    def __init__(self, model: Any, saes: dict[str, Any] | None, sae: str | None = None, feature: int = 0, prompt: str = "",
                 target: int = -1, index_tokens: int | None = 65_536, **kwargs: Any) -> None:
        name = sae or next(iter(saes or {}), "")  # no SAEs (a model-only bench): no feature to read
        if name not in (saes or {"": None}):
            raise InterpWidgetsError(f"no SAE named {name!r}: choose one of {sorted(saes)}.")
        self.model, self.saes = model, dict(saes or {})
        self.index_tokens = index_tokens
        self._indexes: dict[str, Any] = {}
        self._listeners: list[tuple[Any, Callable[[set[str]], None]]] = []
        super().__init__(sae=name, feature=int(feature), prompt=prompt, target=int(target), **kwargs)

    @traitlets.validate("sae")
    def _valid_sae(self, proposal: Any) -> str:
        if proposal["value"] not in (getattr(self, "saes", None) or {"": None}):
            raise traitlets.TraitError(f"no SAE named {proposal['value']!r}: choose one of {sorted(self.saes)}.")
        return proposal["value"]

    @property
    def current_sae(self) -> Any:
        if not self.saes:
            raise InterpWidgetsError("this selection has no SAE: pass saes={'name': sae} (e.g. iw.load_sae()) to read features.")
        return self.saes[self.sae]

    @property
    def sae_feature(self) -> tuple[Any, int]:
        """The current feature as `(sae, index)`: the direction the feature views read, ablate, steer."""
        return self.current_sae, self.feature

    @property
    def current_index(self) -> Any:
        """The activation index of the current SAE (built on first use)."""
        return self.index()

    @property
    def hook(self) -> str:
        hook = sae_hook_name(self.current_sae)
        if hook is None:
            raise InterpWidgetsError(f"the SAE {self.sae!r} does not record its hook: save it with save_sae(..., hook_name=...).")
        return hook

    def index(self, progress: Callable[[int, int], None] | None = None, sae: str | None = None) -> Any:
        """The activation index of the SAE named `sae` (default: the current one) over the embedded held-out
        tokens (built once, then kept)."""
        from interp_widgets.models import held_out_index

        name = self.sae if sae is None else sae
        if name not in self._indexes:
            self._indexes[name] = held_out_index(self.model, self.saes[name], max_tokens=self.index_tokens, progress=progress)
        return self._indexes[name]

    def has_index(self, sae: str | None = None) -> bool:
        """Whether the activation index of the SAE named `sae` (default: the current one) is built already."""
        return (self.sae if sae is None else sae) in self._indexes

    def set_index(self, sae: str, index: Any) -> None:
        """Use an index built elsewhere (other texts, more tokens, a memory-mapped one) for the SAE `sae`."""
        self._indexes[sae] = index

    def choose(self, source: Any = None, **changes: Any) -> None:
        """Publish a choice: any of sae, feature, prompt, target, head at once. Every listener but `source`
        (the view that made the choice and has drawn it already) hears of it once."""
        unknown = set(changes) - set(SELECTED)
        if unknown:
            raise InterpWidgetsError(f"a selection holds {', '.join(SELECTED)}; got {sorted(unknown)}.")
        changed = {name for name, value in changes.items() if getattr(self, name) != value}
        self._choosing = True
        try:
            with self.hold_sync():
                for name in changed:
                    setattr(self, name, changes[name])
        finally:
            self._choosing = False
        if changed:
            self._notify(changed, source)

    def on_choice(self, owner: Any, callback: Callable[[set[str]], None]) -> None:
        """Call `callback(changed names)` after each choice that `owner` did not make itself. The callback handles its
        own errors (a view's `BaseWidget.follow_selection` shows them in that view), so one view failing stops no other."""
        self._listeners.append((owner, callback))

    @traitlets.observe(*SELECTED)
    def _changed_directly(self, change: Any) -> None:  # set from code or from the front-end, not through choose()
        if not getattr(self, "_choosing", False):
            self._notify({change["name"]}, None)

    def _notify(self, changed: set[str], source: Any) -> None:
        for owner, callback in list(self._listeners):
            if owner is not source:
                callback(set(changed))
