"""PositionalEmbeddings: the principal components of a model's learned position embeddings `W_pos`.

    iw.PositionalEmbeddings.from_model(iw.load_model("embedded-6l"))

Two components plotted against each other, each position a dot coloured from early to late (and
position 0, usually an outlier, marked apart); the components over position; the variance each
explains; and a verdict in words ("how late" direction, circles, helix or not), all from
`compute.residual.positions.positional_picture`. A model with rotary positions (the 2-layer default) has no
`W_pos`: building the view says so and names a model that has one.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import traitlets

from interp_widgets.compute.core.model import Model
from interp_widgets.compute.residual.positions import positional_picture
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, Progress, ShouldStop
from interp_widgets.widgets._colors import format_value


@dataclasses.dataclass(frozen=True, eq=False)
class PositionalInputs(Inputs):
    """A model with learned positions (or `W_pos [n_ctx, d_model]` itself) and how many components to keep."""

    model: Model
    k: int = 6


class PositionalEmbeddings(BaseWidget):
    """PCs of `W_pos`: a scatter of two of them coloured by position, the components over position, a verdict."""

    components = Array(shape=(0, 0), help="`[k, n_ctx - 1]`: each component's value at positions 1 .. n_ctx - 1.")
    first_token = Array(help="`[k]`: position 0 on the same components.")
    variance_share = traitlets.List(traitlets.Float(), default_value=[], help="`[k]` each component's share of W_pos's variance (positions 1 onwards).").tag(sync=True)
    position_correlation = traitlets.List(traitlets.Float(), default_value=[], help="`[k]` each component's correlation with position.").tag(sync=True)
    dominant_frequency = traitlets.List(traitlets.Int(), default_value=[], help="`[k]` each component's dominant frequency (cycles over the context).").tag(sync=True)
    frequency_share = traitlets.List(traitlets.Float(), default_value=[], help="`[k]` the share of a component's variance in its dominant frequency.").tag(sync=True)
    how_late = traitlets.List(traitlets.Int(), default_value=[], help="Indices of the components that track position itself (|correlation| high): 'how late' directions.").tag(sync=True)
    helix = traitlets.Bool(False, help="Whether the components form a helix (a circle plus a 'how late' direction, or a circle at frequency 2 or more).").tag(sync=True)
    first_token_z = traitlets.Float(0.0, help="Position 0's distance from the others, in standard deviations of their spread.").tag(sync=True)
    verdict = traitlets.List(traitlets.Unicode(), default_value=[], help="Plain-language reading of the picture, one line each.").tag(sync=True)
    pc_x = traitlets.Int(0, help="The component on the scatter's x axis (0-based; set in the view).").tag(sync=True)
    pc_y = traitlets.Int(1, help="The component on the scatter's y axis (0-based; set in the view).").tag(sync=True)
    title = traitlets.Unicode("Learned position embeddings", help="Title shown above the view.").tag(sync=True)

    @classmethod
    def from_model(cls, model: Any, k: int = 6, **kwargs: Any) -> "PositionalEmbeddings":
        """The view of `model`'s `W_pos` (or of a `W_pos [n_ctx, d_model]` tensor); refuses rotary models clearly."""
        name = getattr(getattr(model, "cfg", None), "model_name", "")
        kwargs.setdefault("title", f"Learned position embeddings{' of ' + name if name else ''}")
        return cls.computed(PositionalInputs(model, k), **kwargs)

    def compute(self, inputs: PositionalInputs, progress: Progress, should_stop: ShouldStop) -> dict[str, Any]:
        picture = positional_picture(inputs.model, k=inputs.k)
        k = len(picture["variance_share"])
        return {
            "components": picture["components"], "first_token": picture["first_token"],
            "variance_share": picture["variance_share"], "position_correlation": picture["position_correlation"],
            "dominant_frequency": picture["dominant_frequency"], "frequency_share": picture["frequency_share"],
            "how_late": picture["how_late"], "helix": picture["helix"], "first_token_z": picture["first_token_z"],
            "verdict": picture["verdict"], "pc_x": min(self.pc_x, k - 1), "pc_y": min(self.pc_y, k - 1),
        }

    def summary(self) -> str:
        return f"{len(self.variance_share)} components over {self.components.shape[1] + 1} positions, helix: {self.helix}"

    def to_text(self) -> str:
        lines = [f"{self.title}"] + [f"  {line}" for line in self.verdict]
        for i, share in enumerate(self.variance_share):
            lines.append(f"  PC{i + 1}: {share:6.1%} of variance, correlation with position {self.position_correlation[i]:+.2f}, "
                         f"{self.frequency_share[i]:.0%} in frequency {self.dominant_frequency[i]}")
        return "\n".join(lines)

    def to_static_html(self) -> str:
        return (f'<div class="iw-positions-snapshot"><div><b>{html.escape(self.title)}</b> <small>(static snapshot)</small></div>'
                f"{self._scatter_svg()}<ul>{''.join(f'<li>{html.escape(line)}</li>' for line in self.verdict)}</ul></div>")

    def _scatter_svg(self) -> str:
        """PC x against PC y as a polyline over position (a static picture of the arc, circle or helix)."""
        if self.components.ndim != 2 or self.components.shape[0] <= max(self.pc_x, self.pc_y):
            return ""
        xs, ys = self.components[self.pc_x], self.components[self.pc_y]
        span = float(max(xs.abs().max(), ys.abs().max(), 1e-9))
        points = " ".join(f"{float(x) / span:.3f},{-float(y) / span:.3f}" for x, y in zip(xs, ys))
        label = html.escape(f"PC{self.pc_x + 1} against PC{self.pc_y + 1}, {format_value(float(len(xs)))} positions")
        return (f'<svg viewBox="-1.1 -1.1 2.2 2.2" width="240" height="240" role="img" aria-label="{label}">'
                f'<polyline points="{points}" fill="none" stroke="currentColor" stroke-width="0.01"/></svg>')
