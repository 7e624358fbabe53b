"""compute.core.linear: oneDNN's fp32 kernel gives F.linear's numbers, and steps aside where it cannot serve."""

import pytest
import torch
import torch.nn.functional as F

from interp_widgets.compute.core import linear as linear_module
from interp_widgets.compute.core.linear import MIN_ROWS, FastLinear, linear


@pytest.fixture
def layer():
    torch.manual_seed(0)
    return torch.nn.Linear(48, 80)


@pytest.mark.parametrize("with_bias", [True, False])
def test_equals_f_linear_on_batches_of_any_shape(layer, with_bias):
    x = torch.randn(3, MIN_ROWS, 48)  # [batch, positions, in]
    bias = layer.bias if with_bias else None
    with torch.inference_mode():
        torch.testing.assert_close(linear(x, layer.weight, bias), F.linear(x, layer.weight, bias), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(linear(x[0, :2], layer.weight, bias), F.linear(x[0, :2], layer.weight, bias))  # few rows


def test_takes_onednn_only_outside_autograd(layer, monkeypatch):
    calls = []
    real = torch.ops.mkldnn._linear_pointwise
    monkeypatch.setattr(linear_module, "onednn_matmul_works", lambda: True)
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda *args: calls.append(1) or real(*args), raising=False)
    x = torch.randn(MIN_ROWS, 48, requires_grad=True)
    out = linear(x, layer.weight, layer.bias)  # autograd on: F.linear, gradients flow
    out.sum().backward()
    assert not calls and x.grad is not None
    with torch.inference_mode():
        linear(x.detach(), layer.weight, layer.bias)
    assert calls == [1]


def test_falls_back_when_the_op_is_unavailable(layer, monkeypatch):
    monkeypatch.setattr(linear_module, "onednn_matmul_works", lambda: False)
    x = torch.randn(2 * MIN_ROWS, 48)
    with torch.inference_mode():
        assert torch.equal(linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias))


def test_fast_linear_sees_in_place_edits_of_the_module(layer):
    fast = FastLinear(layer)
    x = torch.randn(MIN_ROWS, 48)
    with torch.no_grad():
        layer.weight.mul_(2)
        torch.testing.assert_close(fast(x), layer(x), atol=1e-5, rtol=1e-5)
    assert fast.weight is layer.weight and fast.bias is layer.bias
