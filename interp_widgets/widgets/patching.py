"""Patching view: denoising and noising side by side, on one colour scale centred on zero.

Each heatmap cell is one patched run. Its colour is the change the patch makes to the metric,
as a fraction of the clean-minus-corrupt gap: denoising (clean activation into the corrupt run)
is positive where the patch restores the clean answer, noising (corrupt into clean) negative where
it breaks it. Hover for the value; click a cell for that run's top predictions; the component and
both prompts are editable (the kernel recomputes). The maths is `compute.patching.activation`.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import torch
import traitlets

from interp_widgets.compute.core.hooks import token_strings
from interp_widgets.compute.core.model import Model
from interp_widgets.compute.patching.default_pair import patching_pair
from interp_widgets.compute.patching.activation import COMPONENTS, AnswerProb, LogitDiff, UserMetric, as_metric, patch_both_ways, patched_predictions, token_pair
from interp_widgets.compute.patching.tasks import special_token_warnings
from interp_widgets.widgets import _colors
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop, request_handler
from interp_widgets.widgets._snapshot import visible

TOP_K = 5
SMALL_GAP = 0.25
"""A clean-corrupt gap under this share of the metric's size across the runs (clean, corrupt, every patched run) is
too small to divide by: the view says so instead of drawing the normalised maps."""


@dataclasses.dataclass(frozen=True, eq=False)
class PatchingInputs(Inputs):
    """A model, a metric of its logits, the two prompts, the component patched and how."""

    model: Model
    metric: LogitDiff | AnswerProb | UserMetric
    clean: str
    corrupt: str
    component: str = "resid_pre"
    method: str = "exact"

    EDITABLE = ("clean", "corrupt", "component", "method")
    RESETS = {}
    ALIASES = {"prompt": lambda inputs, prompt: default_pair(inputs.model, prompt)}
    """`prompt`: a new clean prompt, with its default corruption and metric (`default_pair`)."""


def default_pair(model: Any, prompt: str, corrupt: str = "") -> dict[str, Any]:
    """`prompt` as the clean prompt; `corrupt` as given or one token swapped for a neighbour, and the metric the logit
    difference of the two runs' top answers (`compute.patching.default_pair.patching_pair`)."""
    corrupt, answers = patching_pair(model, prompt, corrupt)
    return {"clean": prompt, "corrupt": corrupt, "metric": as_metric(model, answers)}


class PatchingView(BaseWidget):
    """Activation patching of one component, both directions, with the prompts editable."""

    clean_prompt = traitlets.Unicode("", help="The clean prompt (editable in the view).").tag(sync=True)
    corrupt_prompt = traitlets.Unicode("", help="The corrupt prompt, same length in tokens (editable in the view).").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The clean prompt's tokens (the corrupt one's differ at `differing`).").tag(sync=True)
    corrupt_tokens = traitlets.List(traitlets.Unicode(), default_value=[], help="The corrupt prompt's tokens.").tag(sync=True)
    differing = traitlets.List(traitlets.Int(), default_value=[], help="Positions where the two prompts differ.").tag(sync=True)
    components = traitlets.List(traitlets.Dict(), default_value=[c.as_data() for c in COMPONENTS.values()], help="The registry (`compute.patching.components`) as data: each component's name, axes and description.").tag(sync=True)
    component = traitlets.Enum(list(COMPONENTS), default_value="resid_pre", help="The patched component (a row of `compute.patching.components`).").tag(sync=True)
    method = traitlets.Enum(["exact", "attribution"], default_value="exact", help="exact: every cell patched; attribution: the first-order estimate (one backward pass), a click patches that cell exactly.").tag(sync=True)
    axes = traitlets.List(traitlets.Unicode(), default_value=[], help="The maps' axes for this component (e.g. layer, position or layer, head).").tag(sync=True)
    denoise = Array(shape=(0, 0), help="Denoising effect per cell, (patched - corrupt) / (clean - corrupt): 1 = fully restored.")
    noise = Array(shape=(0, 0), help="Noising effect per cell, (patched - clean) / (clean - corrupt): -1 = fully broken.")
    clean_metric = traitlets.Float(0.0, help="The metric on the clean run.").tag(sync=True)
    corrupt_metric = traitlets.Float(0.0, help="The metric on the corrupt run.").tag(sync=True)
    metric_label = traitlets.Unicode("", help="What the metric is (e.g. the logit difference of two tokens).").tag(sync=True)
    n_heads = traitlets.Int(0, help="Heads per layer of the model.").tag(sync=True)
    selected = traitlets.Dict(key_trait=traitlets.Unicode(), default_value={}, help="The clicked cell: direction, cell, metric and the run's top predictions.").tag(sync=True)
    warnings = traitlets.List(traitlets.Unicode(), default_value=[], help="Warnings on the prompts (a special token at a differing position, …).").tag(sync=True)
    gap_note = traitlets.Unicode("", help="Why the maps are not drawn, when the two runs hardly differ on the metric ('' when they do).").tag(sync=True)
    title = traitlets.Unicode("", help="Title shown above the maps.").tag(sync=True)
    progress = traitlets.Unicode("", help="While a long map is computed: how far it is.").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, clean: str, corrupt: str, metric: Any, component: str = "resid_pre", method: str = "exact",
                   **kwargs: Any) -> "PatchingView":
        """`metric`: `(answer, wrong)` for a logit difference, one answer for its probability, or a function
        of the logits `[runs, pos, vocab] -> [runs]`."""
        checked = as_metric(model, metric)
        return cls.computed(PatchingInputs(model, checked, clean, corrupt, component, method), title=kwargs.pop("title", "Activation patching"),
                            n_heads=model.cfg.n_heads, **kwargs)

    @classmethod
    def from_selected(cls, selection: Any, selected: dict[str, Any], corrupt: str = "", **options: Any) -> "PatchingView":
        """The selection's prompt as the clean one, `corrupt` as given or the default one (`default_pair`)."""
        return cls.from_model(selection.model, **default_pair(selection.model, selected["prompt"], corrupt), **options)

    SELECTION = {"prompt": "prompt"}
    """The selection's prompt as the clean one (a new prompt brings its default corruption and metric)."""

    def compute(self, inputs: PatchingInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        """Both maps of the component (`compute.patching.activation.patch_both_ways`), normalised to the clean-corrupt gap."""
        model = inputs.model
        clean_tokens, corrupt_tokens = token_pair(model, inputs.clean, inputs.corrupt)
        denoise, noise = patch_both_ways(model, clean_tokens, corrupt_tokens, inputs.metric, inputs.component, inputs.method,
                                      progress, should_stop)
        differing = (clean_tokens[0] != corrupt_tokens[0]).nonzero()[:, 0].tolist()
        return {"clean_prompt": inputs.clean, "corrupt_prompt": inputs.corrupt, "metric_label": _metric_label(model, inputs.metric),
                "tokens": token_strings(model, clean_tokens[0]),
                "corrupt_tokens": token_strings(model, corrupt_tokens[0]), "differing": differing,
                "axes": list(denoise.axes), "denoise": denoise.normalised, "noise": noise.normalised - 1,
                "clean_metric": denoise.clean, "corrupt_metric": denoise.corrupt, "selected": {},
                "warnings": special_token_warnings(model, corrupt_tokens[0], differing), "gap_note": gap_note(denoise, noise)}

    def set_prompts(self, clean: str, corrupt: str) -> None:
        """New clean and corrupt prompts (same number of tokens); both maps are recomputed."""
        self.set(clean=clean, corrupt=corrupt)

    def set_component(self, component: str) -> None:
        """Patch another component: resid_pre, attn_out, mlp_out, head_out or head_out_by_pos."""
        self.set(component=component)

    def set_method(self, method: str) -> None:
        """exact patching of every cell, or attribution patching (a fast estimate; clicks patch exactly)."""
        self.set(method=method)

    def inspect(self, direction: str, cell: list[int]) -> dict[str, Any]:
        """The patched run of one cell, patched exactly: its metric and top predictions at the last position."""
        inputs: PatchingInputs = self._need_inputs()
        value, top = patched_predictions(inputs.model, inputs.clean, inputs.corrupt, inputs.metric, inputs.component, direction, cell, TOP_K)
        self.selected = {"direction": direction, "cell": [int(i) for i in cell], "metric": value, "top": [list(item) for item in top]}
        return self.selected

    @request_handler("inspect")
    def _request_inspect(self, direction: str, cell: list[int]) -> dict[str, Any]:
        return self.inspect(direction, cell)

    # ---- text and snapshot ----------------------------------------------------------------

    @staticmethod
    def _rows(values: torch.Tensor) -> tuple[list[str], torch.Tensor]:
        """Row labels and a 2-D `[rows, columns]` view of a map: `axes[1]` as the columns, the other axes as the
        rows (`L3`, or `3.1` for layer 3, head 1) — the layout js/patching.ts draws."""
        if values.ndim == 3:
            layers, columns, inner = values.shape
            return [f"{l}.{h}" for l in range(layers) for h in range(inner)], values.permute(0, 2, 1).reshape(layers * inner, columns)
        return [f"L{l}" for l in range(values.shape[0])], values

    def summary(self) -> str:
        return f"{self.component}, {len(self.tokens)} tokens"

    def to_text(self) -> str:
        lines = [f"{self.title}: {self.component} ({self.method}); {self.metric_label} clean {self.clean_metric:.3f}, corrupt {self.corrupt_metric:.3f}"]
        for name in ("denoise", "noise"):
            values = getattr(self, name)
            if values.numel():
                flat = values.flatten().abs().argmax()
                index = [int(i) for i in torch.unravel_index(flat, values.shape)]
                lines.append(f"  {name}: strongest cell {dict(zip(self.axes, index))} {float(values[tuple(index)]):+.3f}")
        lines += [f"  warning: {w}" for w in self.warnings]
        if self.gap_note:
            lines.append(f"  not drawn: {self.gap_note}")
        return "\n".join(lines)

    def to_static_html(self) -> str:
        tables = []
        for name, label in (("denoise", "denoising: clean into corrupt (+ restores)"), ("noise", "noising: corrupt into clean (− breaks)")):
            values = getattr(self, name)
            if not values.numel():
                continue
            labels, grid = self._rows(values)
            columns = self.tokens if grid.shape[1] == len(self.tokens) else [f"H{h}" for h in range(grid.shape[1])]
            head = "".join(f"<th>{html.escape(visible(c))}</th>" for c in columns)
            body = "".join(
                f"<tr><th>{html.escape(label_)}</th>" + "".join(
                    f'<td title="{v:+.3f}" style="background:{_colors.rgba(max(-1.0, min(1.0, v)))}">&nbsp;</td>' for v in row.tolist()) + "</tr>"
                for label_, row in zip(labels, grid))
            tables.append(f"<div><b>{html.escape(label)}</b><table><tr><th></th>{head}</tr>{body}</table></div>")
        if self.gap_note:
            tables = [f"<div><b>The maps are not drawn:</b> {html.escape(self.gap_note)}</div>"]
        heading = html.escape(f"{self.title} · {self.component} · {self.metric_label}")
        return f"<div><div><b>{heading}</b> <small>(static snapshot)</small></div>{''.join(tables)}</div>"


def gap_note(denoise: Any, noise: Any) -> str:
    """'' when the clean and corrupt runs differ enough on the metric to normalise by their gap; else why not."""
    gap = denoise.clean - denoise.corrupt
    spread = max(abs(denoise.clean), abs(denoise.corrupt), float(denoise.values.abs().max()), float(noise.values.abs().max()))
    if abs(gap) >= SMALL_GAP * spread:
        return ""
    return (f"the clean and corrupt runs hardly differ on the metric (clean {denoise.clean:.3f}, corrupt {denoise.corrupt:.3f}: "
            f"a gap of {gap:.3f} against values up to {spread:.3f} across the runs), so every cell divided by that gap "
            "would be noise. Type a corrupt prompt that changes the answer (a name, a number, the word the prediction "
            "depends on).")


def _metric_label(model: Any, metric: Any) -> str:
    if hasattr(metric, "wrong"):
        return f"logit difference {model.tokenizer.decode([metric.answer])!r} − {model.tokenizer.decode([metric.wrong])!r}"
    if hasattr(metric, "answer"):
        return f"p({model.tokenizer.decode([metric.answer])!r})"
    return "metric"
