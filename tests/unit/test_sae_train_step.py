"""The trainer's rewritten encoder (b_dec folded into the bias) gives the SAE's own pre-activations and gradients."""

import torch

from interp_widgets.sae import ReluSAE, TrainConfig, train_saes
from interp_widgets.sae.train import _training_pre_activations


def grads(sae, pre_of, x):
    sae.zero_grad()
    features = torch.relu(pre_of(x))
    loss = (x - sae.decode(features)).pow(2).sum() + features.abs().sum()
    loss.backward()
    return {name: p.grad.clone() for name, p in sae.named_parameters()}


def test_folded_b_dec_equals_the_sae_pre_activations_and_gradients():
    sae = ReluSAE(16, 64, seed=0)
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.b_enc.normal_()
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(_training_pre_activations(sae, x), sae.pre_activations(x), atol=1e-5, rtol=1e-5)
    ours, plain = grads(sae, lambda v: _training_pre_activations(sae, v), x), grads(sae, sae.pre_activations, x)
    for name in plain:
        torch.testing.assert_close(ours[name], plain[name], atol=1e-4, rtol=1e-4)


class Batches:
    def __init__(self, x):
        self.x, self.hook_name, self.d_in = x, "h", x.shape[-1]

    def batches(self, start=0):
        while True:
            yield self.x


def test_training_still_reduces_the_loss():
    x = torch.randn(256, 16, generator=torch.Generator().manual_seed(2))
    history = train_saes([ReluSAE(16, 64, seed=0)], Batches(x), TrainConfig(total_steps=60, log_every=10, lr=3e-3, resample_every=None,
                                                                             autocast="none"), progress=False)[0]
    assert history[-1]["nmse"] < 0.5 * history[0]["nmse"]
