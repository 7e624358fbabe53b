"""Feature ablation explorer: click a token to remove it and watch a feature's activation drop.

The prompt's tokens coloured by the feature's activation; click one to make it the target. The
earlier tokens then show the leave-one-out map: how much the activation at the target drops when
that token is removed (drop = clean - ablated; orange: removing it lowers the feature). Click those to toggle their removal,
several at once: the kernel recomputes the activation with all of them removed. A pairs panel
lists the pairs among the top-k single tokens whose joint removal matters more (or less) than the
two alone. The maths is `compute.ablation.removal`; this module only keeps the state.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Mapping

import traitlets

from interp_widgets.compute.ablation.removal import default_replacement, remove_tokens
from interp_widgets.compute.ablation.removal_map import pairs_as_arrays, removal_map_in_slices
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.core.readouts import DirectionReadout, NeuronReadout, Readout, SAEFeatureReadout, as_readout, default_hook, sae_hook_name, sae_shape
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae.model import SparseAutoencoder
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop, request_handler, with_arrays


@dataclasses.dataclass(frozen=True, eq=False)
class AblationInputs(Inputs):
    """One readout (an SAE feature, a neuron or a fixed direction) on one prompt, and how tokens are removed."""

    model: Model
    prompt: str
    feature: int = -1
    """The SAE feature or neuron index (-1 for a fixed direction)."""
    sae: str | None = None
    """The name in `saes` of the SAE read (None: a neuron or a direction)."""
    saes: Mapping[str, SparseAutoencoder] = dataclasses.field(default_factory=dict)
    vector: DirectionReadout | None = None
    """A fixed direction `[d]` read instead (then `feature` is -1)."""
    hook: str | None = None
    """Where to read; an SAE reads at its own hook."""
    name: str = ""
    """A name for a neuron or direction in the label (an SAE goes by its name in `saes`)."""
    target: int = -1
    """The position explained (-1: where the readout is largest)."""
    mode: str = "delete"
    replacement: str = ""
    """The token put in a removed one's place in replace mode ("": `compute.ablation.removal.default_replacement`)."""
    top_k: int = 5

    EDITABLE = ("prompt", "target", "feature", "sae", "mode", "replacement")
    RESETS = {"prompt": {"target": -1}, "feature": {"target": -1}, "sae": {"target": -1}}

    def readout(self) -> Readout:
        if self.vector is not None:
            if self.feature != -1:
                raise InterpWidgetsError("this view reads a fixed direction: build a new view for another one.")
            return self.vector
        if self.sae is None:
            return NeuronReadout(int(self.feature))
        if self.sae not in self.saes:
            raise InterpWidgetsError(f"no SAE named {self.sae!r}: choose one of {sorted(self.saes)}.")
        d_sae = sae_shape(self.saes[self.sae])[1]
        if not 0 <= int(self.feature) < d_sae:
            bigger = [name for name, sae in self.saes.items() if name and name != self.sae and sae_shape(sae)[1] > int(self.feature)]
            which = f"the {self.sae} SAE" if self.sae else "this SAE"
            raise InterpWidgetsError(
                f"feature {self.feature} is out of range for {which}, which has {d_sae} features (0 to {d_sae - 1}): "
                f"the view keeps what it showed. Type a feature from 0 to {d_sae - 1} (the nearest is {min(max(0, int(self.feature)), d_sae - 1)})"
                + (f", or stay on an SAE that has it ({', '.join(bigger)})." if bigger else "."))
        return SAEFeatureReadout(self.saes[self.sae], int(self.feature))

    def hook_name(self, readout: Readout) -> str:
        if isinstance(readout, SAEFeatureReadout):
            return sae_hook_name(readout.sae) or self.hook or default_hook([readout])
        return self.hook or default_hook([readout])

    def replacement_token(self) -> str | None:
        """The replacement in replace mode (one token of the model's vocabulary by default), None in delete mode."""
        if self.mode != "replace":
            return None
        return self.replacement or default_replacement(self.model)

    def label(self, readout: Readout, hook: str) -> str:
        name = self.sae if self.sae is not None else self.name
        return f"{name + ' ' if name else ''}{readout.label} at {hook}"


class FeatureAblation(BaseWidget):
    """One feature on one prompt: activations, the leave-one-out map at a target, removals, pairs."""

    tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The prompt's tokens.").tag(sync=True)
    activations = Array(help="The feature's activation at every position `[pos]`.")
    target = traitlets.Int(0, help="The position whose activation the map explains.").tag(sync=True)
    clean = traitlets.Float(0.0, help="The activation at the target on the whole prompt.").tag(sync=True)
    drops = Array(help="`[pos]` clean minus the activation with that token removed (NaN at BOS and from the target on).")
    removed = traitlets.List(traitlets.Int(), default_value=[], help="Positions removed at once (what clicks toggle).").tag(sync=True)
    removed_value = traitlets.Float(None, allow_none=True, help="The activation at the target with every removed position gone (None when none is).").tag(sync=True)
    pairs = with_arrays(traitlets.Dict(key_trait=traitlets.Unicode(), default_value={}, help="Pairs among the top-k single tokens: positions, single/joint drops and interaction."))
    top_k = traitlets.Int(5, help="How many of the most important single tokens the pairs panel pairs up.").tag(sync=True)
    mode = traitlets.Enum(["delete", "replace"], default_value="delete", help="delete: the token is removed and later ones shift left; replace: `replacement` takes its place.").tag(sync=True)
    replacement = traitlets.Unicode("", help="The token put in place of a removed one in replace mode.").tag(sync=True)
    feature = traitlets.Int(0, help="The SAE feature (or neuron) index; editable in the widget.").tag(sync=True)
    sae_names = traitlets.List(traitlets.Unicode(), default_value=[], help="The SAEs to choose from in the view (`saes=` of from_model); empty when there is no choice.").tag(sync=True)
    sae_name = traitlets.Unicode("", help="The SAE whose feature is read, when there is a choice.").tag(sync=True)
    feature_label = traitlets.Unicode("", help='What is read, in words (e.g. "4x feature 495 at blocks.0.hook_resid_post").').tag(sync=True)
    feature_editable = traitlets.Bool(True, help="False for a fixed direction (only SAE features and neurons have an index to type).").tag(sync=True)
    readout_kind = traitlets.Enum(["feature", "neuron", "direction"], default_value="feature", help="What is read: an SAE feature, a neuron or a fixed direction (the view's words and its index box say so).").tag(sync=True)
    target_given = traitlets.Bool(False, help="Whether the target was chosen (a click, `target=`) rather than put where the readout is largest.").tag(sync=True)
    prompt = traitlets.Unicode("", help="The prompt.").tag(sync=True)
    title = traitlets.Unicode("", help="Title shown above the view.").tag(sync=True)
    progress = traitlets.Unicode("", help="While a long map fills in: how far it is.").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, prompt: str, direction: Any = None, hook: str | None = None, target: int | None = None,
                   mode: str = "delete", replacement: str = "", top_k: int = 5, name: str = "",
                   saes: dict[str, Any] | None = None, sae: str | None = None, feature: int | None = None, **kwargs: Any) -> "FeatureAblation":
        """`direction`: `(sae, index)`, a neuron index or a vector `[d]`; `hook` defaults to the SAE's own.

        `saes`: named SAEs to switch between in the view (`direction` may then be `(name, index)`). Instead of
        `direction`: `sae` (a name in `saes`) and `feature` (its index), or `feature` alone (a neuron).
        """
        if direction is None:
            if feature is None:
                raise InterpWidgetsError("say what to read: direction=(sae, index), a neuron index or a vector; or sae=name and feature=index.")
            direction = (sae, int(feature)) if sae is not None else int(feature)
        elif sae is not None or feature is not None:
            raise InterpWidgetsError("pass either direction=... or sae=/feature=, not both.")
        named = dict(saes or {})
        if isinstance(direction, tuple) and len(direction) == 2 and isinstance(direction[0], str):
            if direction[0] not in named:
                raise InterpWidgetsError(f"no SAE named {direction[0]!r}: pass it in saes= (given: {sorted(named)}).")
            direction = (named[direction[0]], direction[1])
        readout = as_readout(direction)
        fields: dict[str, Any] = {"feature": -1, "name": name}
        if isinstance(readout, SAEFeatureReadout):
            key = next((key for key, sae in named.items() if sae is readout.sae), name)
            fields.update(feature=readout.feature, sae=key, saes={**named, key: readout.sae})
        elif isinstance(readout, NeuronReadout):
            fields.update(feature=readout.index)
        else:
            fields.update(vector=readout)
        inputs = AblationInputs(model, prompt, hook=hook or default_hook([readout]) if not isinstance(readout, SAEFeatureReadout) else hook,
                                target=-1 if target is None else int(target), mode=mode,
                                replacement=replacement or default_replacement(model), top_k=top_k, **fields)
        sae_names = list(named) if isinstance(readout, SAEFeatureReadout) and named else []
        return cls.computed(inputs, sae_names=sae_names, title=kwargs.pop("title", "Feature ablation"), **kwargs)

    SELECTION = {"prompt": "prompt", "sae": "sae", "feature": "feature", "target": "target", "saes": "saes"}
    """The selection's feature on its prompt at its target (a new feature or prompt without one: where it peaks); a pick
    here (prompt, SAE, feature, target) is published."""

    # ---- the kernel side of clicks --------------------------------------------------------

    def compute(self, inputs: AblationInputs, progress: Progress, should_stop: ShouldStop) -> Any:
        """Activations, the map (filling in slice by slice: `compute.ablation.removal_map`) and the pairs."""
        readout = inputs.readout()
        hook = inputs.hook_name(readout)
        replacement = inputs.replacement_token()
        target = inputs.target if inputs.target >= 0 else None
        for step in removal_map_in_slices(inputs.model, inputs.prompt, hook, readout, target, inputs.mode, replacement, inputs.top_k,
                            progress=progress, should_stop=should_stop):
            view = {"tokens": step.single.tokens, "activations": step.activations, "target": step.single.target,
                    "clean": step.single.clean, "drops": step.single.drop}
            if not step.complete:
                yield view
        return {**view, "pairs": pairs_as_arrays(step.pairs), "removed": [], "removed_value": None,
                "feature": inputs.feature, "feature_editable": inputs.vector is None, "sae_name": inputs.sae or "",
                "replacement": inputs.replacement or default_replacement(inputs.model),
                "feature_label": inputs.label(readout, hook), "target_given": inputs.target >= 0,
                "readout_kind": "direction" if inputs.vector is not None else "neuron" if inputs.sae is None else "feature"}

    def set_prompt(self, prompt: str) -> None:
        """A new prompt: tokens, activations, the map at the strongest position, pairs."""
        self.set(prompt=prompt)

    def set_target(self, position: int) -> None:
        """Explain the activation at `position` instead (clears the removals)."""
        self.set(target=int(position))

    def set_feature(self, index: int) -> None:
        """Read another feature of the same SAE (or another neuron)."""
        self.set(feature=int(index))

    def set_sae(self, name: str) -> None:
        """Read the same feature index on another of the named SAEs (`saes=`)."""
        self.set(sae=name)

    def set_mode(self, mode: str, replacement: str = "") -> None:
        """delete or replace (with `replacement`, one token); recomputes the map."""
        self.set(mode=mode, replacement=replacement)

    def toggle(self, position: int) -> float | None:
        """Remove `position` too (or put it back); returns the activation with every removed token gone."""
        inputs = self._need_inputs()
        readout = inputs.readout()
        removed = sorted(set(self.removed) ^ {int(position)})
        replacement = inputs.replacement_token()
        value = remove_tokens(inputs.model, inputs.prompt, inputs.hook_name(readout), readout, removed, self.target,
                              inputs.mode, replacement) if removed else None
        with self.hold_sync():
            self.removed = removed
            self.removed_value = value
        return value

    @request_handler("toggle")
    def _request_toggle(self, position: int) -> dict[str, Any]:
        return {"value": self.toggle(position), "removed": self.removed}

    # ---- text and snapshot ----------------------------------------------------------------

    def summary(self) -> str:
        return f"{self.feature_label}, {len(self.tokens)} tokens, target {self.target}"

    def _drops(self) -> list[float]:
        return self.drops.tolist() if self.tokens else []

    def _target_words(self) -> str:
        """The target and how it was picked: given (a click, `target=`) or where the feature is largest (the default)."""
        inputs = getattr(self, "inputs", None)
        how = f"where the {self.readout_kind} is largest" if inputs is None or inputs.target < 0 else "chosen"
        return f"target {self.target} {self.tokens[self.target]!r} ({how})"

    def to_text(self) -> str:
        drops = self._drops()
        lines = [f"{self.title}: {self.feature_label}; {self.mode} mode",
                 f"{self._target_words()}: {_colors.format_value(self.clean)}" if self.tokens else "no prompt"]
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
                             f"(clean {_colors.format_value(self.clean)}; drop = clean - ablated; orange: removing it lowers the feature, blue: raises it)")
        return _snapshot.page("iw-fa", f"{self.title} · {self.feature_label}", _snapshot.token_spans(self.tokens, drops, scale, marks), footer)
