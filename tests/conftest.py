import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def toy():
    """A tiny random TransformerBridge (2 layers, d_model 64) with a small BPE tokenizer."""
    from interp_widgets.models import toy_model

    return toy_model(seed=0)
