"""Sparse autoencoders: models, SAELens-format files, activation store, trainer, metrics, comparison."""

from interp_widgets.compute.core.hooks import pack_texts  # plain tokenizing (compute), exported here for SAE training
from interp_widgets.sae.compare import DictionaryComparison, compare_dictionaries, decoder_max_cosine_similarity
from interp_widgets.sae.io import from_saelens, load_sae_from_disk, save_sae
from interp_widgets.sae.metrics import reconstruction_metrics, spliced_loss
from interp_widgets.sae.model import JumpReluSAE, ReluSAE, SparseAutoencoder, TopKSAE
from interp_widgets.sae.store import ActivationStore
from interp_widgets.sae.train import TrainConfig, train_sae, train_saes

__all__ = [
    "ActivationStore",
    "DictionaryComparison",
    "JumpReluSAE",
    "ReluSAE",
    "SparseAutoencoder",
    "TopKSAE",
    "TrainConfig",
    "compare_dictionaries",
    "from_saelens",
    "load_sae_from_disk",
    "decoder_max_cosine_similarity",
    "pack_texts",
    "reconstruction_metrics",
    "save_sae",
    "spliced_loss",
    "train_sae",
    "train_saes",
]
