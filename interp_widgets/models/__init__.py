"""Models: the embedded default and its SAEs, loaders for local and hub models, and a toy model for tests."""

from interp_widgets.models.datasets import held_out_index
from interp_widgets.models.loaders import feature_catalogue, load_model, load_sae, validation_tokens
from interp_widgets.models.toy import toy_model, toy_tokenizer

__all__ = ["feature_catalogue", "held_out_index", "load_model", "load_sae", "toy_model", "toy_tokenizer", "validation_tokens"]
