"""SAELens interop, run in the second environment (transformer-lens 3.9 + sae-lens).

SAELens loads the files we write, we load the files it writes, and its `SAE` objects work
wherever ours do.
"""


import pytest
import torch

from tests.parts import need_module  # noqa: E402

# the test command's second environment must have it (IW_REQUIRE_SAELENS); the first one lists it as a missing part
sae_lens = need_module("sae_lens", "the second environment has it: bash scripts/setup-saelens.sh", required_by="IW_REQUIRE_SAELENS")
from sae_lens import SAE, StandardSAE, StandardSAEConfig, TopKSAE as SaeLensTopK, TopKSAEConfig  # noqa: E402
from sae_lens.saes.sae import SAEMetadata  # noqa: E402

from interp_widgets.compute import SAEFeatureReadout, token_values  # noqa: E402
from interp_widgets.errors import InterpWidgetsError  # noqa: E402
from interp_widgets.sae import (  # noqa: E402
    ActivationStore, ReluSAE, TopKSAE, TrainConfig, compare_dictionaries, from_saelens, load_sae_from_disk,
    pack_texts, reconstruction_metrics, save_sae, spliced_loss, train_saes,
)
from interp_widgets.widgets import TokenHighlights  # noqa: E402

HOOK = "blocks.0.hook_resid_post"


def randomize(sae, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in sae.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return sae


@pytest.mark.parametrize("ours", [ReluSAE(64, 128, hook_name=HOOK), TopKSAE(64, 128, k=6, hook_name=HOOK)], ids=["relu", "topk"])
def test_saelens_loads_our_files(ours, tmp_path):
    randomize(ours)
    with torch.no_grad():
        ours.normalize_decoder_()
    theirs = SAE.load_from_disk(str(save_sae(ours, tmp_path)))
    assert theirs.cfg.metadata.hook_name == HOOK
    x = torch.randn(20, 64)
    torch.testing.assert_close(theirs.encode(x), ours.encode(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(theirs.decode(theirs.encode(x)), ours(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["standard", "topk"])
def test_we_load_saelens_files(kind, tmp_path):
    metadata = SAEMetadata(hook_name=HOOK, model_name="toy")
    if kind == "standard":
        theirs = StandardSAE(StandardSAEConfig(d_in=64, d_sae=96, metadata=metadata))
    else:
        theirs = SaeLensTopK(TopKSAEConfig(d_in=64, d_sae=96, k=7, metadata=metadata))
    randomize(theirs, seed=1)
    theirs.save_model(str(tmp_path))
    ours = load_sae_from_disk(tmp_path)
    assert ours.hook_name == HOOK and ours.d_sae == 96
    x = torch.randn(20, 64)
    torch.testing.assert_close(ours.encode(x), theirs.encode(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours(x), theirs.decode(theirs.encode(x)), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def saelens_sae():
    return randomize(StandardSAE(StandardSAEConfig(d_in=64, d_sae=128, metadata=SAEMetadata(hook_name=HOOK))), seed=2)


def test_a_saelens_sae_works_wherever_ours_does(toy, saelens_sae):
    tokens, values = token_values(toy, "The cat sat", HOOK, [SAEFeatureReadout(saelens_sae, 5)])
    _, cache = toy.run_with_cache("The cat sat")
    torch.testing.assert_close(values[0], saelens_sae.encode(cache[HOOK][0])[:, 5])
    widget = TokenHighlights.from_model(toy, "The cat sat", directions=[(saelens_sae, 5)])  # hook from its cfg
    assert widget.title == HOOK and widget.series_names == ["feature 5"]
    metrics = reconstruction_metrics(saelens_sae, cache[HOOK][0])
    assert 0 <= metrics["dead_fraction"] <= 1 and metrics["l0"] > 0
    result = spliced_loss(toy, saelens_sae, toy.to_tokens("The cat sat on the mat"))
    assert result["ce_spliced"] > 0
    ours = ReluSAE(64, 128)
    with torch.no_grad():
        ours.W_dec.copy_(saelens_sae.W_dec)
    torch.testing.assert_close(compare_dictionaries(ours, saelens_sae).mcs, torch.ones(128))


def test_a_saelens_sae_trains_after_conversion(toy, saelens_sae):
    tokens = pack_texts(toy, ["The residual stream is a shared memory. " * 40], context=32)
    store = ActivationStore(toy, HOOK, tokens, batch_size=64)
    with pytest.raises(InterpWidgetsError, match="from_saelens"):
        train_saes([saelens_sae], store, TrainConfig(total_steps=2), progress=False)
    ours = from_saelens(saelens_sae)
    x = torch.randn(5, 64)
    torch.testing.assert_close(ours.encode(x), saelens_sae.encode(x))
    assert ours.hook_name == HOOK
    history = train_saes([ours], store, TrainConfig(total_steps=20, log_every=10, lr=1e-3), progress=False)[0]
    assert history[-1]["step"] == 20


def test_runs_on_transformer_lens_3():
    import importlib.metadata

    assert importlib.metadata.version("transformer-lens").startswith("3."), "this environment should have transformer-lens 3.x"
