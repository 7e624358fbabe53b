"""Feature ablation explorer: click a token to remove it and watch a feature's activation drop.

The prompt's tokens coloured by the feature's activation; click one to make it the target. The
earlier tokens then show the leave-one-out map: how much the activation at the target drops when
that token is removed (red: removing it lowers the feature). Click those to toggle their removal,
several at once: the kernel recomputes the activation with all of them removed. A pairs panel
lists the pairs among the top-k single tokens whose joint removal matters more (or less) than the
two alone. The maths is `compute.ablation`; this module only keeps the state.
"""

from __future__ import annotations

import html
import time
from typing import Any, ClassVar

import torch
import traitlets

from interp_widgets.compute.ablation import LeaveOneOut, as_tokens, leave_one_out, pairwise_removal, readout_values, remove_tokens
from interp_widgets.compute.readouts import DirectionReadout, NeuronReadout, SAEFeatureReadout, as_readout, sae_hook_name
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import BaseWidget, bundle_path, request_handler
from interp_widgets.widgets.token_highlights import _default_hook
from interp_widgets.widgets._wire import from_wire, to_wire
from interp_widgets.widgets.selection import Linked


MAP_SLICE = 32  # removed tokens per slice of a progressively filled map


class FeatureAblation(Linked, BaseWidget):
    """One feature on one prompt: activations, the leave-one-out map at a target, removals, pairs."""

    _esm = bundle_path("feature_ablation.js")

    tokens = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    """The prompt's tokens."""
    activations = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    """The feature's activation at every position `[pos]` (wire form)."""
    target = traitlets.Int(0).tag(sync=True)
    """The position whose activation the map explains."""
    clean = traitlets.Float(0.0).tag(sync=True)
    """The activation at the target on the whole prompt."""
    drops = traitlets.Any(default_value=to_wire(torch.zeros(0))).tag(sync=True)
    """`[pos]` clean minus the activation with that token removed (NaN at BOS and from the target on)."""
    removed = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    """Positions removed at once (what clicks toggle)."""
    removed_value = traitlets.Float(None, allow_none=True).tag(sync=True)
    """The activation at the target with every removed position gone (None when none is)."""
    pairs = traitlets.Dict(default_value={}).tag(sync=True)
    """Pairs among the top-k single tokens: positions, single/joint drops and interaction (wire form)."""
    top_k = traitlets.Int(5).tag(sync=True)
    """How many of the most important single tokens the pairs panel pairs up."""
    mode = traitlets.Enum(["delete", "replace"], default_value="delete").tag(sync=True)
    """delete: the token is removed and later ones shift left; replace: `replacement` takes its place."""
    replacement = traitlets.Unicode("").tag(sync=True)
    """The token put in place of a removed one in replace mode."""
    feature = traitlets.Int(0).tag(sync=True)
    """The SAE feature (or neuron) index; editable in the widget."""
    sae_names = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    """The SAEs to choose from in the view (`saes=` of from_model); empty when there is no choice."""
    sae_name = traitlets.Unicode("").tag(sync=True)
    """The SAE whose feature is read, when there is a choice."""
    feature_label = traitlets.Unicode("").tag(sync=True)
    """What is read, in words (e.g. "4x feature 495 at blocks.0.hook_resid_post")."""
    feature_editable = traitlets.Bool(True).tag(sync=True)
    """False for a fixed direction (only SAE features and neurons have an index to type)."""
    prompt = traitlets.Unicode("").tag(sync=True)
    """The prompt."""
    title = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Unicode("").tag(sync=True)
    """While a long map fills in: how far it is."""

    PROGRESS_AFTER_S: ClassVar[float] = 0.5  # a map that takes longer than this fills in progressively

    @classmethod
    def from_model(cls, model: Any, prompt: str, feature: Any, hook: str | None = None, target: int | None = None,
                   mode: str = "delete", replacement: str = "", top_k: int = 5, name: str = "",
                   saes: dict[str, Any] | None = None, **kwargs: Any) -> "FeatureAblation":
        """`feature`: `(sae, index)`, a neuron index or a direction `[d]`; `hook` defaults to the SAE's own.

        `saes`: named SAEs to switch between in the view (`feature` may then be `(name, index)`).
        """
        saes = dict(saes or {})
        if isinstance(feature, tuple) and len(feature) == 2 and isinstance(feature[0], str):
            if feature[0] not in saes:
                raise InterpWidgetsError(f"no SAE named {feature[0]!r}: pass it in saes= (given: {sorted(saes)}).")
            name, feature = name or feature[0], (saes[feature[0]], feature[1])
        readout = as_readout(feature)
        hook = hook or _default_hook([readout])
        widget = cls(mode=mode, replacement=replacement, top_k=top_k, title=kwargs.pop("title", "Feature ablation"), **kwargs)
        widget._source = {"model": model, "hook": hook, "readout": readout, "name": name, "saes": saes}
        if isinstance(readout, SAEFeatureReadout) and saes:
            widget.sae_names = list(saes)
            widget.sae_name = next((key for key, sae in saes.items() if sae is readout.sae), name)
        widget._compute(prompt, target)
        return widget

    @classmethod
    def from_selection(cls, selection: Any, **kwargs: Any) -> "FeatureAblation":
        """The selection's feature, prompt and target; follows them, and publishes what is picked here."""
        target = selection.target if selection.target >= 0 else None
        widget = cls.from_model(selection.model, selection.prompt, (selection.sae, selection.feature), target=target,
                                saes=selection.saes, **kwargs)

        def follow(changed: set[str]) -> None:
            source = widget._need_source()
            if changed & {"sae", "feature"}:
                sae = selection.current_sae
                source.update(readout=SAEFeatureReadout(sae, selection.feature), name=selection.sae, hook=sae_hook_name(sae) or source["hook"])
                widget.sae_name = selection.sae
            widget._compute(selection.prompt, selection.target if selection.target >= 0 else None)

        widget._follow(selection, follow)
        return widget

    # ---- the kernel side of clicks --------------------------------------------------------

    def _args(self) -> tuple[Any, str, Any, str, Any]:
        source = self._need_source()
        replacement = self.replacement if self.mode == "replace" else None
        return source["model"], source["hook"], source["readout"], self.mode, replacement

    def _compute(self, prompt: str, target: int | None) -> None:
        """Activations, the map and the pairs for a prompt; a map that takes longer than
        `PROGRESS_AFTER_S` fills in on screen slice by slice, and a newer request stops it."""
        model, hook, readout, mode, replacement = self._args()
        tokens = as_tokens(model, prompt)
        activations = readout_values(model, tokens, hook, readout)
        result = leave_one_out(model, tokens, hook, readout, target, mode, replacement, positions=[])
        started, values = time.perf_counter(), result.values.clone()
        todo = list(range(1, result.target))
        for index in range(0, len(todo), MAP_SLICE):
            self.stop_if_superseded()
            part = todo[index : index + MAP_SLICE]
            values[part] = leave_one_out(model, tokens, hook, readout, result.target, mode, replacement, positions=part).values[part]
            done = index + len(part)
            if done < len(todo) and time.perf_counter() - started > self.PROGRESS_AFTER_S:
                with self.hold_sync():  # what is known so far; the rest stays blank
                    self.tokens, self.activations, self.target, self.clean = result.tokens, to_wire(activations), result.target, result.clean
                    self.drops = to_wire(result.clean - values)
                    self.progress = f"computing the map: {done} of {len(todo)} tokens"
        self.stop_if_superseded()
        result = LeaveOneOut(result.tokens, result.target, result.clean, values, mode)
        pairs: dict[str, Any] = {}
        if result.target >= 3:
            found = pairwise_removal(model, tokens, hook, readout, result.target, self.top_k, mode, replacement, single=result)
            pairs = {"positions": found.positions, "single": to_wire(-found.single), "joint": to_wire(-found.joint.nan_to_num(0.0)),
                     "interaction": to_wire(-found.interaction.nan_to_num(0.0))}
        with self.hold_sync():
            self.tokens = result.tokens
            self.activations = to_wire(activations)
            self.target = result.target
            self.clean = result.clean
            self.drops = to_wire(-result.effect)
            self.removed = []
            self.removed_value = None
            self.pairs = pairs
            self.prompt = prompt if isinstance(prompt, str) else self.prompt
            self.feature = self._feature_index(readout)
            self.feature_editable = not isinstance(readout, DirectionReadout)
            self.feature_label = self._label(readout, hook)
            self.progress = ""

    @staticmethod
    def _feature_index(readout: Any) -> int:
        return readout.feature if isinstance(readout, SAEFeatureReadout) else readout.index if isinstance(readout, NeuronReadout) else -1

    def _label(self, readout: Any, hook: str) -> str:
        name = self._need_source()["name"]
        return f"{name + ' ' if name else ''}{readout.label} at {hook}"

    def set_prompt(self, prompt: str) -> None:
        """A new prompt: tokens, activations, the map at the strongest position, pairs."""
        self._compute(prompt, None)

    def set_target(self, position: int) -> None:
        """Explain the activation at `position` instead (clears the removals)."""
        self._compute(self.prompt, int(position))

    def set_feature(self, index: int) -> None:
        """Read another feature of the same SAE (or another neuron)."""
        source = self._need_source()
        readout = source["readout"]
        if isinstance(readout, SAEFeatureReadout):
            new = SAEFeatureReadout(readout.sae, int(index))
        elif isinstance(readout, NeuronReadout):
            new = NeuronReadout(int(index))
        else:
            raise InterpWidgetsError("this view reads a fixed direction: build a new view for another one.")
        old, source["readout"] = source["readout"], new
        try:
            self._compute(self.prompt, None)
        except InterpWidgetsError:
            source["readout"] = old
            raise

    def set_sae(self, name: str) -> None:
        """Read the same feature index on another of the named SAEs (`saes=`)."""
        source = self._need_source()
        if name not in source["saes"]:
            raise InterpWidgetsError(f"no SAE named {name!r}: choose one of {sorted(source['saes'])}.")
        sae = source["saes"][name]
        hook = sae_hook_name(sae) or source["hook"]
        old = dict(source)
        source.update(readout=SAEFeatureReadout(sae, self.feature), name=name, hook=hook)
        try:
            self._compute(self.prompt, None)
        except InterpWidgetsError:
            source.update(old)
            raise
        self.sae_name = name

    def set_mode(self, mode: str, replacement: str = "") -> None:
        """delete or replace (with `replacement`, one token); recomputes the map."""
        if mode not in ("delete", "replace"):
            raise InterpWidgetsError(f'mode must be "delete" or "replace", got {mode!r}.')
        old = (self.mode, self.replacement)
        self.mode, self.replacement = mode, replacement
        try:
            self._compute(self.prompt, self.target)
        except InterpWidgetsError:
            self.mode, self.replacement = old
            raise

    def toggle(self, position: int) -> float | None:
        """Remove `position` too (or put it back); returns the activation with every removed token gone."""
        position = int(position)
        removed = sorted(set(self.removed) ^ {position})
        model, hook, readout, mode, replacement = self._args()
        value = remove_tokens(model, self.prompt, hook, readout, removed, self.target, mode, replacement) if removed else None
        with self.hold_sync():
            self.removed = removed
            self.removed_value = value
        return value

    @request_handler("set_prompt", supersedes=True)
    def _request_prompt(self, prompt: str) -> dict[str, Any]:
        self.set_prompt(prompt)
        self._publish(prompt=prompt, target=-1)
        return {"target": self.target}

    @request_handler("set_target", supersedes=True)
    def _request_target(self, position: int) -> dict[str, Any]:
        self.set_target(position)
        self._publish(target=int(position))
        return {"clean": self.clean}

    @request_handler("set_feature", supersedes=True)
    def _request_feature(self, feature: int) -> dict[str, Any]:
        self.set_feature(feature)
        self._publish(feature=int(feature))
        return {"target": self.target}

    @request_handler("set_sae", supersedes=True)
    def _request_sae(self, name: str) -> dict[str, Any]:
        self.set_sae(name)
        self._publish(sae=name)
        return {"target": self.target}

    @request_handler("set_mode", supersedes=True)
    def _request_mode(self, mode: str, replacement: str = "") -> dict[str, Any]:
        self.set_mode(mode, replacement)
        return {"clean": self.clean}

    @request_handler("toggle")
    def _request_toggle(self, position: int) -> dict[str, Any]:
        return {"value": self.toggle(position), "removed": self.removed}

    # ---- text and snapshot ----------------------------------------------------------------

    def summary(self) -> str:
        return f"{self.feature_label}, {len(self.tokens)} tokens, target {self.target}"

    def _drops(self) -> list[float]:
        return from_wire(self.drops).tolist() if self.tokens else []

    def to_text(self) -> str:
        drops = self._drops()
        lines = [f"{self.title}: {self.feature_label}; {self.mode} mode",
                 f"target {self.target} {self.tokens[self.target]!r}: {_colors.format_value(self.clean)}" if self.tokens else "no prompt"]
        if self.removed:
            lines.append(f"with {self.removed} removed: {_colors.format_value(self.removed_value or 0.0)}")
        ranked = sorted((p for p in range(1, self.target)), key=lambda p: -drops[p])[:10]
        lines += [f"  drop {_colors.format_value(drops[p]):>8} removing {p} {self.tokens[p]!r}" for p in ranked]
        return "\n".join(lines)

    def to_static_html(self) -> str:
        drops = self._drops()
        scale = _colors.choose_scale([d for d in drops if d == d] or [0.0], "diverging")
        marks = ["(target)" if p == self.target else "" for p in range(len(self.tokens))]
        footer = html.escape(f"{self.mode} mode · drop in the activation at token {self.target} when each earlier token is removed "
                             f"(clean {_colors.format_value(self.clean)}; red: removing it lowers the feature)")
        return _snapshot.page("iw-fa", f"{self.title} · {self.feature_label}", _snapshot.token_spans(self.tokens, drops, scale, marks), footer)
