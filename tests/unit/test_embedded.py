"""The shipped model and SAEs load offline and still have the properties the model card reports.

Thresholds sit below the measured values (MODEL_CARD.md) with a margin, so a broken export,
a wrong loader or a changed tokenizer fails here. The suite never trains the model.
"""

import json

import pytest
import torch

from interp_widgets.compute.circuits import (
    docstring_accuracy,
    induction_scores,
    previous_token_scores,
    repeated_random_tokens,
    repeated_sequence_loss,
    residual_norms,
)
from interp_widgets.models.loaders import EMBEDDED_SAE_SIZES, embedded_dir, load_model, load_sae
from interp_widgets.sae import reconstruction_metrics

THRESHOLDS = json.loads((embedded_dir() / "thresholds.json").read_text())
TEXT = THRESHOLDS["held_out_text"]  # written for this test, in none of the training sources


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_loads_offline_as_a_bridge(model):
    assert type(model).__name__ == "TransformerBridge"
    assert model.cfg.n_layers == 2 and model.cfg.d_model == 256
    assert model.to_str_tokens("Hello")[0] == model.tokenizer.bos_token


def test_held_out_loss(model):
    with torch.inference_mode():
        loss = float(model(TEXT, return_type="loss"))
    assert loss < THRESHOLDS["held_out_loss_max"], loss


def test_previous_token_head(model):
    scores = previous_token_scores(model, model.to_tokens(TEXT))
    assert scores.max() > THRESHOLDS["previous_token_score_min"], scores


def test_induction_head(model):
    tokens = repeated_random_tokens(model, n_sequences=8, half=60, seed=3)
    assert induction_scores(model, tokens).max() > THRESHOLDS["induction_score_min"]
    first, second = repeated_sequence_loss(model, tokens)
    assert second < first - THRESHOLDS["repeat_loss_drop_min"], (first, second)


def test_residual_norm_grows(model):
    norms = residual_norms(model, model.to_tokens(TEXT))
    assert (norms[1:] > norms[:-1]).all(), norms


def test_docstring_task_beats_chance(model):
    assert docstring_accuracy(model, n=60, seed=7) > THRESHOLDS["docstring_accuracy_min"]


@pytest.mark.parametrize("size", EMBEDDED_SAE_SIZES)
def test_shipped_saes(model, size):
    sae = load_sae(size)
    assert sae.hook_name == "blocks.0.hook_resid_post" and sae.d_sae == 256 * int(size[0])
    _, cache = model.run_with_cache(TEXT)
    metrics = reconstruction_metrics(sae, cache[sae.hook_name][0, 1:])
    assert metrics["explained_variance"] > THRESHOLDS["sae_explained_variance_min"], metrics
    assert 1 <= metrics["l0"] < sae.d_sae / 4, metrics


def test_default_sae_is_4x():
    assert load_sae().d_sae == 1024
