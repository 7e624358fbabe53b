"""The trainer's rewritten maths (b_dec folded into the encoder bias; the ReLU SAE's hand-written gradients) equal
the SAE's own pre-activations and autograd's gradients, and training with them still converges."""

import pytest
import torch

from interp_widgets.compute.core import linear as linear_module
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.sae import ReluSAE, TrainConfig, train_saes
from interp_widgets.sae import train as train_module
from interp_widgets.sae import relu_step
from interp_widgets.sae.relu_step import Workspace, relu_sae_gradients_
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


@pytest.fixture(params=["onednn", "torch.mm"])
def matmul(request, monkeypatch):
    """Both ways relu_step multiplies: oneDNN's fused kernel (where this torch has it) and torch.mm into the workspace."""
    if request.param == "onednn" and not linear_module.onednn_matmul_works():
        pytest.skip("this torch has no working oneDNN linear")
    if request.param == "torch.mm":
        monkeypatch.setattr(linear_module, "onednn_matmul_works", lambda: False)
    return request.param


def test_product_equals_torch_on_transposed_views(matmul):
    generator = torch.Generator().manual_seed(5)
    a, b, bias = torch.randn(40, 24, generator=generator), torch.randn(40, 56, generator=generator), torch.randn(56, generator=generator)
    torch.testing.assert_close(relu_step.product(a.T, b), a.T @ b)  # [24, 56]: both factors transposed views
    torch.testing.assert_close(relu_step.product(a.T, b, bias, relu=True), torch.relu(a.T @ b + bias))


@pytest.mark.parametrize("apply_b_dec_to_input", [True, False])
def test_hand_written_relu_gradients_equal_autograd(apply_b_dec_to_input, matmul):
    sae = ReluSAE(24, 96, seed=0, apply_b_dec_to_input=apply_b_dec_to_input)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in (sae.b_dec, sae.b_enc, sae.W_enc):
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    x = torch.randn(64, 24, generator=generator)
    nmse_weight, l1_weight = 0.7, 0.05
    sae.zero_grad()
    features = sae.encode(x)
    assert 0 < (features > 0).float().mean() < 1  # both sides of the ReLU are exercised
    loss = nmse_weight * (sae.decode(features) - x).pow(2).sum() + l1_weight * features.abs().sum()
    loss.backward()
    autograd = {name: p.grad.clone() for name, p in sae.named_parameters()}
    for parameter in sae.parameters():
        parameter.grad = torch.full_like(parameter, 123.0)  # stale gradients must be overwritten, not added to
    ours, residual = relu_sae_gradients_(sae, x, nmse_weight, l1_weight, Workspace())
    torch.testing.assert_close(ours, features.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(residual, (sae.decode(features) - x).detach(), atol=1e-5, rtol=1e-5)
    for name, parameter in sae.named_parameters():
        torch.testing.assert_close(parameter.grad, autograd[name], atol=1e-5, rtol=1e-5, msg=name)


def test_training_with_the_hand_written_step_equals_training_with_autograd(monkeypatch, matmul):
    x = torch.randn(128, 16, generator=torch.Generator().manual_seed(4))
    config = TrainConfig(total_steps=12, log_every=4, lr=3e-3, resample_every=None, autocast="none")
    fast = ReluSAE(16, 64, seed=0)
    fast_history = train_saes([fast], Batches(x), config, progress=False)[0]
    monkeypatch.setattr(train_module, "uses_hand_written_step", lambda *args: False)
    plain = ReluSAE(16, 64, seed=0)
    plain_history = train_saes([plain], Batches(x), config, progress=False)[0]
    for name, parameter in plain.named_parameters():
        torch.testing.assert_close(getattr(fast, name), parameter, atol=1e-5, rtol=1e-4, msg=name)
    for fast_log, plain_log in zip(fast_history, plain_history, strict=True):
        assert fast_log.keys() == plain_log.keys()
        for key in plain_log:
            assert fast_log[key] == pytest.approx(plain_log[key], rel=1e-4, abs=1e-6), key


def test_all_zero_activations_are_a_clear_error():
    with pytest.raises(InterpWidgetsError, match="all zeros"):
        train_saes([ReluSAE(16, 64, seed=0)], Batches(torch.zeros(32, 16)), TrainConfig(total_steps=2, autocast="none"), progress=False)
