import pytest
import torch
from torch import nn

from m2pt import CrossModalLinear


def make(bias: bool = True, n_aux: int = 1, **kwargs) -> tuple[nn.Linear, CrossModalLinear]:
    target = nn.Linear(8, 6, bias=bias)
    return target, CrossModalLinear(target, [torch.randn(6, 8) for _ in range(n_aux)], **kwargs)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n_aux", [1, 3])
def test_computes_weight_plus_lambda_weighted_aux(bias, n_aux):
    target, layer = make(bias, n_aux, lambda_init=0.3)
    x = torch.randn(4, 5, 8)
    weight = target.weight + sum(0.3 * w for w in layer.aux_weights)
    expected = x @ weight.T + (target.bias if bias else 0)
    torch.testing.assert_close(layer(x), expected)


def test_lambda_zero_equals_target():
    target, layer = make(lambda_init=0.0)
    x = torch.randn(3, 8)
    assert torch.equal(layer(x), target(x))


@pytest.mark.parametrize("bias", [True, False])
def test_fuse_is_a_plain_linear_with_the_same_function(bias):
    _, layer = make(bias, n_aux=2, lambda_init=0.1)
    with torch.no_grad():
        layer.lambdas.copy_(torch.tensor([0.7, -0.2]))
    fused = layer.fuse()
    assert type(fused) is nn.Linear
    assert (fused.bias is None) == (not bias)
    x = torch.randn(10, 8)
    torch.testing.assert_close(fused(x), layer(x), atol=1e-6, rtol=1e-5)


def test_gradients_reach_lambda_and_aux_weight():
    target, layer = make(lambda_init=0.0)
    layer(torch.randn(4, 8)).square().sum().backward()
    assert layer.lambdas.grad is not None and layer.lambdas.grad.abs().sum() > 0
    assert layer.aux_weights[0].grad is not None
    assert target.weight.grad is not None


def test_frozen_aux_and_lambda_get_no_gradient():
    _, layer = make(lambda_init=0.5, aux_trainable=False, lambda_trainable=False)
    layer(torch.randn(4, 8)).sum().backward()
    assert layer.aux_weights[0].grad is None and not layer.aux_weights[0].requires_grad
    assert layer.lambdas.grad is None


def test_shares_the_target_parameters():
    target, layer = make()
    assert layer.weight is target.weight and layer.bias is target.bias
    assert set(layer.state_dict()) == {"weight", "bias", "aux_weights.0", "lambdas"}


def test_rejects_aux_of_another_shape():
    with pytest.raises(ValueError, match=r"shape \[6, 7\].*\[6, 8\]"):
        CrossModalLinear(nn.Linear(8, 6), [torch.randn(6, 7)])
    with pytest.raises(ValueError, match="at least one"):
        CrossModalLinear(nn.Linear(8, 6), [])
