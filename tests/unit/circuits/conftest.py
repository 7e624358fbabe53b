import pytest
import torch

from interp_widgets.compute.patching.tasks import docstring_pair


@pytest.fixture(scope="session")
def six_layer():
    from interp_widgets.models import load_model

    return load_model("embedded-6l")


@pytest.fixture(scope="session")
def docstring_pairs(six_layer):
    return [docstring_pair(six_layer, seed=seed) for seed in range(2)]


@pytest.fixture(scope="session")
def gpt2_shaped():
    """A random GPT-2 (HF path: save_pretrained, then iw.load_model(path))."""
    from tests.unit.models.families.zoo import hf_family

    return hf_family("gpt2")[0]


@pytest.fixture(scope="session")
def linear_model():
    """Attention only, no norms, W_Q = W_K = 0 (every head averages the earlier positions): the logits, and so the
    logit difference, are linear in every receiver's input."""
    from interp_widgets.models.bridge import boot_from_config
    from interp_widgets.models.toy import toy_tokenizer

    tokenizer = toy_tokenizer()
    model = boot_from_config(dict(n_layers=2, d_model=32, n_ctx=32, d_head=8, n_heads=4, d_vocab=len(tokenizer), act_fn="gelu",
                                  normalization_type=None, attn_only=True, seed=0), tokenizer)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".q." in name or ".k." in name:
                parameter.zero_()
    return model


def random_pairs(model, n=2, length=7, seed=0):
    """Random token pairs differing at two positions, with fixed answer tokens."""
    generator = torch.Generator().manual_seed(seed)
    clean = torch.randint(1, min(model.cfg.d_vocab, 400), (n, length), generator=generator)
    corrupt = clean.clone()
    corrupt[:, 2] = torch.randint(1, 400, (n,), generator=generator)
    corrupt[:, 4] = torch.randint(1, 400, (n,), generator=generator)
    return [(c, k, 5, 7) for c, k in zip(clean, corrupt)]


def transformer_lens_attribution():
    """transformer-lens 4.3's attribution_patching (the outside oracle), or skip where it is older (3.9 has no edge graph)."""
    module = pytest.importorskip("transformer_lens.tools.analysis.attribution_patching")
    from typing import get_args

    if "q_input" not in get_args(getattr(module, "NodeKind", None)):
        pytest.skip("this transformer-lens has no edge-level attribution_patch (4.3 has)")
    return module
