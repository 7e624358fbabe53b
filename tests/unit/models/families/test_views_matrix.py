"""Every view's `from_model` and every tab of `iw.explore` on every family: built, or refused with a clear error.

The numbers behind each view are checked against plain references in test_compute_matrix.py;
here a view must come up (or say in an `InterpWidgetsError` what the model lacks), never raise
anything else.
"""

import re

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.core.hooks import tokenize
from interp_widgets.compute.steering import Steer
from interp_widgets.sae.model import ReluSAE
from interp_widgets.widgets.registry import BENCH_TABS
from tests.unit.models.families.conftest import CORRUPT, PROMPT
from tests.unit.models.families.zoo import ALL_FAMILIES

HOOK = "blocks.0.hook_resid_post"


def sae_for(model):
    return ReluSAE(model.cfg.d_model, 32, hook_name=HOOK, seed=0)


def built_or_refused(make):
    """The view `make()` builds, or None where it refuses with an InterpWidgetsError (anything else fails the test)."""
    try:
        return make()
    except iw.InterpWidgetsError as error:
        assert str(error)
        return None


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_every_view_builds_from_the_model(families, name):
    model, _ = families(name)
    sae = sae_for(model)
    metric = (int(tokenize(model, " mat")[0, -1]), int(tokenize(model, " dog")[0, -1]))
    views = {
        "TokenHighlights": lambda: iw.TokenHighlights.from_model(model, PROMPT, directions=[(sae, 0), (sae, 1)]),
        "FeatureAblation": lambda: iw.FeatureAblation.from_model(model, PROMPT, (sae, 0)),
        "DirectionAblation": lambda: iw.DirectionAblation.from_model(model, PROMPT, (sae, 0)),
        "LogitLensBars": lambda: iw.LogitLensBars.from_model(model, (sae, 0), prompt=PROMPT),
        "LogitLensGrid": lambda: iw.LogitLensGrid.from_model(model, PROMPT, target_token=" the"),
        "ResidualNorms": lambda: iw.ResidualNorms.from_model(model, PROMPT),
        "ResidualNorms mid": lambda: iw.ResidualNorms.from_model(model, PROMPT, mid=True),
        "AttentionView": lambda: iw.AttentionView.from_model(model, PROMPT, layer=1, head=1),
        "PatchingView": lambda: iw.PatchingView.from_model(model, PROMPT, CORRUPT, metric),
        "PatchingView heads": lambda: iw.PatchingView.from_model(model, PROMPT, CORRUPT, metric, component="head_out"),
        "SteeringView": lambda: iw.SteeringView.from_model(model, PROMPT, Steer(HOOK, (sae, 0), 3.0), max_new_tokens=4),
        "PositionalEmbeddings": lambda: iw.PositionalEmbeddings.from_model(model),
    }
    built = {label: built_or_refused(make) for label, make in views.items()}
    refused = sorted(label for label, view in built.items() if view is None)
    # only what a model can lack may be refused: the mid-block point (parallel attention / attention-only) and learned positions
    allowed = {"ResidualNorms mid", "PositionalEmbeddings"}
    assert set(refused) <= allowed, refused
    if "blocks.0.hook_resid_mid" in model.hook_dict:
        assert built["ResidualNorms mid"] is not None


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_every_bench_tab_opens(families, name):
    model, _ = families(name)
    bench = iw.explore(model, {"sae": sae_for(model)}, prompt=PROMPT, corrupt=CORRUPT, index_tokens=64 * 8)
    labels = [tab.label for tab in bench.tabs_shown]
    missing = {}
    for tab in BENCH_TABS:
        if bench.show(tab.label) is None:  # the tab shows why instead of the view
            missing[tab.label] = getattr(bench.tab.children[labels.index(tab.label)], "value", "")
    # a tab may refuse a model it cannot handle, saying what the model lacks (circuit discovery on some layouts)
    refused = {label for label, why in missing.items() if re.search(r"this model|not supported|not available", why)}
    assert set(missing) == refused, missing
