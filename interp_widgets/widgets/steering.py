"""Steering view: the default and the steered completion of a prompt, side by side, streamed token by token.

One or more steers (an SAE feature, a neuron or a vector, `compute.steering.steer.Steer`), each with a
strength slider spanning ± 2 × the largest activation seen (`compute.steering.strength`) and a method
(add / set / cap); max tokens, temperature and seed. Moving a slider re-generates both runs in one
batch with a key/value cache, streaming the tokens as they come (a newer request stops the older
generation). The first token where the runs differ is marked; hovering a token shows its log-prob
under both runs and the steer's activation. A sweep runs n strengths in one batch: small multiples
of the completions and charts of the mean activation and mean log-prob against strength.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import traitlets

from interp_widgets.compute.core.model import Model
from interp_widgets.compute.features.index import ActivationIndex
from interp_widgets.compute.steering.steer import Steer, generate_tokens, neuron_label, prepare_steer
from interp_widgets.compute.steering.strength import strength_limit, sweep_summary
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets import _colors, _snapshot
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop

MAX_SWEEP_POINTS = 16


def _with_steer_field(field: str, convert: Any) -> Any:
    """An alias setting one field of every steer from a list (the front-end's sliders or method menus)."""
    def change(inputs: "SteeringInputs", values: Any) -> dict[str, Any]:
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if len(values) != len(inputs.steers):
            raise InterpWidgetsError(f"{field}: give one value per steer ({len(inputs.steers)}), got {len(values)}.")
        return {"steers": tuple(dataclasses.replace(s, **{field: convert(v)}) for s, v in zip(inputs.steers, values))}
    return change


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


@dataclasses.dataclass(frozen=True, eq=False)
class SteeringInputs(Inputs):
    """A prompt, the steers, how to sample, and how many strengths to sweep (0: none)."""

    model: Model
    prompt: str
    steers: tuple[Steer, ...]
    max_new_tokens: int = 32
    temperature: float = 0.0
    seed: int = 0
    sweep_points: int = 0
    index: ActivationIndex | None = None  # the first steer's SAE activation index, for the slider's range

    EDITABLE = ("prompt", "strengths", "methods", "max_new_tokens", "temperature", "seed", "sweep_points")
    ALIASES = {"strengths": _with_steer_field("strength", _number), "methods": _with_steer_field("method", str),
               "direction": lambda inputs, direction: {"steers": (dataclasses.replace(inputs.steers[0], hook=None, direction=direction),
                                                                  *inputs.steers[1:])}}
    """`direction`: the first steer's direction (at its own hook), the others kept."""


def _pair(tokens: list[list[str]], logprobs: list[list[float]], activations: list[list[list[float]]]) -> dict[str, Any]:
    """Traits of the two runs so far: row 0 unsteered, row 1 steered; `activations[row][step][steer]`."""
    divergence = next((i for i, (a, b) in enumerate(zip(tokens[0], tokens[1])) if a != b), -1)
    out: dict[str, Any] = {"first_divergence": divergence}
    for row, name in enumerate(("unsteered", "steered")):
        out[f"{name}_tokens"] = list(tokens[row])
        out[f"{name}_logprobs"] = torch.tensor(logprobs[row], dtype=torch.float32)
        out[f"{name}_activations"] = torch.tensor(activations[row], dtype=torch.float32).reshape(len(tokens[row]), -1).T.contiguous()
    return out


class SteeringView(BaseWidget):
    """Default and steered completions side by side, streamed, with strength sliders and a sweep."""

    PROGRESS_AFTER_S = 0.0  # stream every token

    title = traitlets.Unicode("Steering", help="Title shown above the view.").tag(sync=True)
    prompt = traitlets.Unicode("", help="The prompt both runs continue (editable in the view).").tag(sync=True)
    prompt_tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The prompt's tokens.").tag(sync=True)
    steers = traitlets.List(traitlets.Dict(), default_value=[], help="[{label, hook, method, strength, positions, limit}] per steer; `limit` is the slider's half-range.").tag(sync=True)
    max_new_tokens = traitlets.Int(32, help="How many tokens each run generates.").tag(sync=True)
    temperature = traitlets.Float(0.0, help="Sampling temperature (0: greedy); both runs share one seed.").tag(sync=True)
    seed = traitlets.Int(0, help="The sampling seed, the same for both runs.").tag(sync=True)
    sweep_points = traitlets.Int(0, help="How many strengths the sweep runs in one batch (0: no sweep).").tag(sync=True)
    generating = traitlets.Bool(False, help="True while the runs are being generated (tokens stream in).").tag(sync=True)
    engine = traitlets.Unicode("", help="How the runs were generated (the batched key/value-cache path or the plain loop).").tag(sync=True)
    unsteered_tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The default run's generated tokens.").tag(sync=True)
    steered_tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The steered run's generated tokens.").tag(sync=True)
    unsteered_logprobs = Array(help="[n] each token's log-prob under its own run")
    steered_logprobs = Array(help="[n] each steered token's log-prob under the steered run.")
    unsteered_other = Array(help="[n] the same tokens under the other run (NaN while generating)")
    steered_other = Array(help="[n] the steered tokens under the unsteered run (NaN while generating).")
    unsteered_activations = Array(shape=(0, 0), help="[n_steers, n] at the position that predicted each token")
    steered_activations = Array(shape=(0, 0), help="[n_steers, n] the steered run's steer activations, at the position that predicted each token.")
    first_divergence = traitlets.Int(-1, help="The first generated position where the two runs differ (-1: they agree).").tag(sync=True)
    sweep_strengths = Array(help="[k]")
    sweep_activation = Array(help="[k] the first steer's mean activation over the steered completion")
    sweep_logprob = Array(help="[k] mean log-prob under the steered run")
    sweep_logprob_unsteered = Array(help="[k] mean log-prob under the unsteered run")
    sweep_tokens = traitlets.List(traitlets.List(traitlets.Unicode()), default_value=[], help="[k][n] token strings").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, prompt: str, steers: Steer | Sequence[Steer] | None = None, max_new_tokens: int = 32,
                   temperature: float = 0.0, seed: int = 0, sweep_points: int = 0, index: Any = None, direction: Any = None,
                   strength: float = 0.0, method: str = "add", **kwargs: Any) -> "SteeringView":
        """`steers`: one `Steer` or several; or `direction` (`(sae, index)`, a `Neuron`, a vector) with `strength` and
        `method` for one steer at the direction's own hook. `index`: an activation index of the first steer's SAE (slider range)."""
        if steers is None and direction is not None:
            steers = Steer(None, direction, strength, method)
        steers = (steers,) if isinstance(steers, Steer) else tuple(steers or ())
        if not steers or not all(isinstance(s, Steer) for s in steers):
            raise InterpWidgetsError("pass one or more Steer(hook, direction, strength, method, positions) objects.")
        inputs = SteeringInputs(model, prompt, steers, max_new_tokens, temperature, seed, sweep_points, index)
        return cls.computed(inputs, **kwargs)

    SELECTION = {"prompt": "prompt", "direction": "sae_feature", "index": "current_index"}
    """Steer the selection's feature (the first steer; `from_selection(selection, strength=, method=)`) on its prompt, the
    slider's range from its SAE's activation index."""

    def compute(self, inputs: SteeringInputs, progress: Progress, should_stop: ShouldStop) -> Iterator[dict[str, Any]]:
        """Both runs streamed step by step (`compute.steering.steer.generate_tokens`), then the cross log-probs and the sweep."""
        if not isinstance(inputs.sweep_points, int) or not 0 <= inputs.sweep_points <= MAX_SWEEP_POINTS:
            raise InterpWidgetsError(f"sweep_points must be a whole number from 0 (no sweep) to {MAX_SWEEP_POINTS}, got {inputs.sweep_points!r}.")
        prepared = [prepare_steer(inputs.model, steer) for steer in inputs.steers]  # each steer checked once, then reused
        limits = [strength_limit(inputs.model, inputs.prompt, ready, inputs.index if i == 0 else None) for i, ready in enumerate(prepared)]
        steers = [{"label": _label(steer), "hook": ready.site, "method": steer.method, "strength": float(steer.strength),
                   "positions": steer.positions, "limit": limit} for steer, ready, limit in zip(inputs.steers, prepared, limits)]
        span = max(limits[0], abs(float(inputs.steers[0].strength)))  # the slider's range: it stretches to a larger strength
        sweep = list(np.linspace(-span, span, inputs.sweep_points)) if inputs.sweep_points else []
        steps = generate_tokens(inputs.model, inputs.prompt, prepared, strengths=[inputs.steers[0].strength, *sweep],
                                max_new_tokens=inputs.max_new_tokens, temperature=inputs.temperature, seed=inputs.seed)
        tokens: list[list[str]] = [[], []]
        logprobs: list[list[float]] = [[], []]
        activations: list[list[list[float]]] = [[], []]
        while True:
            try:
                event = next(steps)
            except StopIteration as done:
                results = done.value
                break
            for row in (0, 1):
                tokens[row].append(event.tokens[row])
                logprobs[row].append(event.logprobs[row])
                activations[row].append(event.activations[row])
            yield {"generating": True, **_pair(tokens, logprobs, activations), "steers": steers,
                   "unsteered_other": torch.full((len(tokens[0]),), float("nan")), "steered_other": torch.full((len(tokens[1]),), float("nan"))}
        main = results[0]
        final = _pair([main.unsteered.tokens, main.steered.tokens], [main.unsteered.logprobs.tolist(), main.steered.logprobs.tolist()],
                      [main.unsteered.activations.T.tolist(), main.steered.activations.T.tolist()])
        summary = sweep_summary(results[1:]) if sweep else {name: np.zeros(0) for name in ("strength", "activation", "logprob", "logprob_unsteered")}
        return {**final, "steers": steers, "generating": False, "engine": main.engine, "prompt_tokens": main.prompt_tokens,
                "unsteered_other": torch.from_numpy(main.unsteered.other_logprobs.copy()),
                "steered_other": torch.from_numpy(main.steered.other_logprobs.copy()),
                "sweep_strengths": summary["strength"], "sweep_activation": summary["activation"], "sweep_logprob": summary["logprob"],
                "sweep_logprob_unsteered": summary["logprob_unsteered"], "sweep_tokens": [r.steered.tokens for r in results[1:]]}

    def set_strength(self, strength: float, steer: int = 0) -> None:
        """Turn steer `steer` to `strength` and generate again."""
        values = [s["strength"] for s in self.steers]
        values[steer] = strength
        self.set(strengths=values)

    def set_prompt(self, prompt: str) -> None:
        self.set(prompt=prompt)

    def summary(self) -> str:
        strengths = ", ".join(f"{s['label']} {s['method']} {s['strength']:g}" for s in self.steers)
        return f"{strengths}; {len(self.steered_tokens)} tokens"

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.prompt!r}", *(f"  steer: {s['label']} at {s['hook']}, {s['method']} "
                                                    f"{s['strength']:g} (slider ±{max(s['limit'], abs(s['strength'])):.3g}, "
                                                    f"positions {s['positions']})" for s in self.steers)]
        lines += [f"  default: {''.join(self.unsteered_tokens)!r}", f"  steered: {''.join(self.steered_tokens)!r}"]
        if self.first_divergence >= 0:
            lines.append(f"  first differing token: {self.first_divergence}")
        for strength, activation, logprob, tokens in zip(self.sweep_strengths.tolist(), self.sweep_activation.tolist(),
                                                         self.sweep_logprob_unsteered.tolist(), self.sweep_tokens):
            lines.append(f"  sweep {strength:+.3g}: activation {activation:.3g}, log-prob (default run) {logprob:.3g}: {''.join(tokens)!r}")
        return "\n".join(lines)

    def to_static_html(self) -> str:
        def column(name: str, tokens: list[str], activations: torch.Tensor) -> str:
            values = activations[0].tolist() if activations.numel() else [0.0] * len(tokens)
            marks = ["first difference" if i == self.first_divergence else "" for i in range(len(tokens))]
            return f"<div><i>{html.escape(name)}</i>: {_snapshot.token_spans(tokens, values, scale, marks)}</div>"

        both = self.unsteered_activations.flatten().tolist() + self.steered_activations.flatten().tolist()
        scale = _colors.choose_scale([v for v in both if v == v] or [0.0], "auto")
        strengths = ", ".join(f"{s['label']} {s['method']} {s['strength']:g}" for s in self.steers)
        body = (f"<div>{html.escape(''.join(self.prompt_tokens))}</div>" + column("default", self.unsteered_tokens, self.unsteered_activations)
                + column(f"steered ({strengths})", self.steered_tokens, self.steered_activations))
        return _snapshot.page("iw-steer", f"{self.title} · {strengths}", body, "colour: the first steer's activation")


def _label(steer: Steer) -> str:
    direction = steer.direction
    if isinstance(direction, tuple):
        return f"feature {int(direction[1])}"
    if hasattr(direction, "layer") and hasattr(direction, "index"):
        return neuron_label(direction.layer, direction.index)
    return "direction"
