"""What a model's learned position embeddings look like: the picture behind the positional view.

`W_pos [n_ctx, d_model]` adds one vector per position to the residual stream. Its principal
components (position 0 apart, which is usually an outlier: the "first token" direction) show how
the model encodes position: a component that rises steadily is a "how late" direction; two
components that are sinusoids of the same frequency trace a circle, and a circle plus a "how late"
direction is a helix (GPT-2 small has one). A model can also learn just an arc: position moving
smoothly along a curve with no repeating frequency. `positional_structure` does the
maths (principal components, each one's share in one Fourier frequency); `positional_picture` and
`verdict` read it for a picture and a plain-language verdict.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from interp_widgets.errors import InterpWidgetsError

HOW_LATE_MIN_CORRELATION = 0.9  # |correlation with position| for a "how late" component
SINUSOID_MIN_SHARE = 0.5  # a component with at least this share of its variance in one frequency is a sinusoid


def position_embeddings(model: Any) -> Tensor:
    """The learned absolute position embeddings `W_pos [n_ctx, d_model]` (transformer-lens 3.9 and 4.x bridges)."""
    kind = getattr(getattr(model, "cfg", None), "positional_embedding_type", "standard")
    w_pos = getattr(getattr(model, "pos_embed", None), "W_pos", None) if kind == "standard" else None
    if not isinstance(w_pos, Tensor):
        found = f"{kind} positions" if kind != "standard" else f"no pos_embed.W_pos ({type(model).__name__})"
        raise InterpWidgetsError(f"this model has {found}, not learned position embeddings W_pos: use a GPT-2-style model "
                                 "such as iw.load_model(\"embedded-6l\"), or pass W_pos [n_ctx, d_model] itself.")
    return w_pos.detach()


def positional_structure(w_pos: Tensor, k: int = 6) -> dict[str, Any]:
    """Principal components of `w_pos [n_ctx, d_model]` (position 0 apart) and how sinusoidal each is.

    Returns the variance share of the first `k` components, the components' values over position
    (`[k, n_ctx - 1]`, for a picture) and position 0's coordinates on them, each component's dominant frequency (cycles over the context)
    and the share of its variance in that frequency, the correlation of each with position (a
    "how late" direction), and the first token's distance from the rest in standard deviations.
    """
    w = w_pos.detach().double()
    k = max(1, min(k, w.shape[0] - 1, w.shape[1]))
    rest = w[1:]
    centred = rest - rest.mean(dim=0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = singular**2 / (singular**2).sum()
    components = centred @ vh[:k].T  # [n_ctx - 1, k]
    spectrum = torch.fft.rfft(components - components.mean(dim=0), dim=0).abs() ** 2  # [freqs, k]
    spectrum[0] = 0
    dominant = spectrum.argmax(dim=0)
    share = spectrum.max(dim=0).values / spectrum.sum(dim=0)
    position = torch.arange(1, w.shape[0], dtype=torch.float64)
    late = [float(torch.corrcoef(torch.stack([components[:, i], position]))[0, 1]) for i in range(k)]
    spread = (rest - rest.mean(dim=0)).norm(dim=1)
    first = float(((w[0] - rest.mean(dim=0)).norm() - spread.mean()) / spread.std())
    return {
        "first_token": ((w[0] - rest.mean(dim=0)) @ vh[:k].T).float(),  # position 0 on the same components, [k]
        "variance_share": variance[:k].tolist(),
        "components": components.T.float(),
        "dominant_frequency": dominant.tolist(),
        "frequency_share": share.tolist(),
        "position_correlation": late,
        "first_token_z": first,
    }


def positional_picture(model_or_w_pos: Any, k: int = 6) -> dict[str, Any]:
    """Everything the positional view draws, from a model (with learned positions) or `W_pos [n_ctx, d_model]`.

    `positional_structure`'s measures, plus the first token's coordinates on the components
    (`first_token [k]`), which components are "how late" (`how_late`: indices), pairs of
    sinusoids sharing a frequency (`circles`: `(i, j, frequency)`), whether there is a helix
    (a circle plus a "how late" component, or a circle at frequency ≥ 2) and `verdict` lines.
    """
    w_pos = model_or_w_pos if isinstance(model_or_w_pos, Tensor) else position_embeddings(model_or_w_pos)
    if w_pos.ndim != 2 or w_pos.shape[0] < 3:
        raise InterpWidgetsError(f"W_pos must be [n_ctx, d_model] with at least 3 positions, got shape {tuple(w_pos.shape)}.")
    structure = positional_structure(w_pos, k=k)
    k = len(structure["variance_share"])
    how_late = [i for i, c in enumerate(structure["position_correlation"]) if abs(c) >= HOW_LATE_MIN_CORRELATION]
    sinusoids = [i for i in range(k) if i not in how_late and structure["frequency_share"][i] >= SINUSOID_MIN_SHARE]
    circles = [(i, j, structure["dominant_frequency"][i]) for n, i in enumerate(sinusoids) for j in sinusoids[n + 1:]
               if structure["dominant_frequency"][i] == structure["dominant_frequency"][j]]
    structure.update(how_late=how_late, circles=circles,
                     helix=bool(circles) and (bool(how_late) or any(f >= 2 for _, _, f in circles)),
                     n_ctx=int(w_pos.shape[0]), d_model=int(w_pos.shape[1]))
    structure["verdict"] = verdict(structure)
    return structure


def verdict(picture: dict[str, Any]) -> list[str]:
    """Plain-language lines about a `positional_picture`, each with its number."""
    share = picture["variance_share"]
    lines = [f"PC1 and PC2 hold {share[0] + (share[1] if len(share) > 1 else 0):.0%} of W_pos's variance (position 0 left out)."]
    for i in picture["how_late"]:
        lines.append(f"PC{i + 1} is a \"how late\" direction: correlation {picture['position_correlation'][i]:+.2f} with position.")
    for i, j, frequency in picture["circles"]:
        lines.append(f"PC{i + 1} and PC{j + 1} are sinusoids of the same frequency ({frequency} cycles over the context): a circle.")
    if picture["helix"]:
        lines.append("A circle plus a steady drift over position: a helix.")
    else:
        lines.append("No two components are sinusoids of one shared frequency with a drift beside them: no helix"
                     + (" — PC1 against PC2 traces an arc." if picture["how_late"] else "."))
    lines.append(f"Position 0 sits {picture['first_token_z']:.1f} standard deviations further from the mean than a typical position.")
    return lines
