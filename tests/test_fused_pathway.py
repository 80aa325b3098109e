"""The pathway's own autograd function (PathwayLinear): exact gradients, the work it skips, the
tensors it keeps, autocast and torch.compile."""

import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torch.autograd.graph import saved_tensors_hooks
from torch.profiler import ProfilerActivity, profile

from m2pt import CrossModalLinear, cross_modal_layers, reparameterize
from m2pt.cross_modal_linear import PathwayLinear


def inputs(n_aux: int, bias: bool, aux_grad: bool = True, lambda_grad: bool = True, dtype=torch.float64):
    """(x [2,3,5], W [4,5], b [4] or None, λ [K], W'_1..K [4,5]) with the requested gradients."""
    like = {"dtype": dtype}
    x = torch.randn(2, 3, 5, **like, requires_grad=True)
    weight = torch.randn(4, 5, **like, requires_grad=True)
    b = torch.randn(4, **like, requires_grad=True) if bias else None
    lambdas = torch.randn(n_aux, **like, requires_grad=lambda_grad)
    aux = [torch.randn(4, 5, **like, requires_grad=aux_grad) for _ in range(n_aux)]
    return x, weight, b, lambdas, *aux


@pytest.mark.parametrize("n_aux", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("frozen", ["nothing", "aux", "lambdas", "aux and lambdas"])
def test_gradcheck_in_float64(n_aux, bias, frozen):
    args = inputs(n_aux, bias, aux_grad="aux" not in frozen, lambda_grad="lambdas" not in frozen)
    assert torch.autograd.gradcheck(PathwayLinear.apply, args)


def test_gradcheck_with_frozen_input_and_weight():
    x, weight, b, lambdas, aux = inputs(1, True)
    assert torch.autograd.gradcheck(PathwayLinear.apply, (x.detach(), weight.detach(), b, lambdas, aux))


def reference_forward(layer: CrossModalLinear, x: torch.Tensor) -> torch.Tensor:
    """The paper's form, differentiated by autograd op by op."""
    return F.linear(x, layer.merged_weight(), layer.bias)


def tiny_vit() -> VisionTransformer:
    return VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5)


@pytest.mark.parametrize("aux_trainable", [True, False])
def test_model_gradients_equal_the_reference_form(aux_trainable):
    torch.manual_seed(0)
    model = reparameterize(tiny_vit(), [tiny_vit(), tiny_vit()], aux_trainable=aux_trainable)
    for layer in cross_modal_layers(model).values():
        with torch.no_grad():
            layer.lambdas.uniform_(-0.5, 0.5)
    images, labels = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])

    def gradients(forward) -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        layers = cross_modal_layers(model).values()
        for layer in layers:
            layer.forward = forward.__get__(layer)
        F.cross_entropy(model(images), labels).backward()
        for layer in layers:
            del layer.forward
        return {n: p.grad for n, p in model.named_parameters() if p.requires_grad}

    fused, reference = gradients(CrossModalLinear.forward), gradients(reference_forward)
    assert set(fused) == set(reference) and any(".aux_weights." in n for n in fused) == aux_trainable
    for name in reference:
        torch.testing.assert_close(fused[name], reference[name], rtol=1e-5, atol=1e-6, msg=name)


def backward_ops(layer: CrossModalLinear, x: torch.Tensor) -> set[str]:
    y = layer(x)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        y.sum().backward()
    return {event.name for event in prof.events()}


def test_frozen_aux_and_lambda_skip_their_gradient_work():
    def layer(**kwargs):
        return CrossModalLinear(nn.Linear(8, 6), [torch.randn(6, 8)], lambda_init=0.5, **kwargs)

    x = torch.randn(4, 8, requires_grad=True)
    trainable = backward_ops(layer(), x)
    assert {"aten::dot", "aten::mul"} <= trainable  # g_λ = <g_W, W'>, g_W' = λ g_W
    assert "aten::dot" not in backward_ops(layer(lambda_trainable=False), x)
    assert "aten::mul" not in backward_ops(layer(aux_trainable=False), x)
    assert not {"aten::dot", "aten::mul"} & backward_ops(layer(aux_trainable=False, lambda_trainable=False), x)


def test_a_strided_output_gradient_is_copied_once_and_both_matmuls_are_2d():
    layer = CrossModalLinear(nn.Linear(8, 12), [torch.randn(12, 8)], lambda_init=0.5)
    x = torch.randn(2, 5, 8, requires_grad=True)
    y = layer(x)
    upstream = torch.randn(2, 12, 5).transpose(1, 2)  # [2, 5, 12], strided like a qkv split's gradient
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        y.backward(upstream)
    names = [event.name for event in prof.events()]
    assert names.count("aten::copy_") == 1 and names.count("aten::mm") == 2 and "aten::bmm" not in names, names
    grads = torch.autograd.grad(reference_forward(layer, x), [x, *layer.parameters()], upstream)
    torch.testing.assert_close(x.grad, grads[0])


def saved_weight_sized(forward, layer: CrossModalLinear, x: torch.Tensor) -> list[torch.Tensor]:
    """The tensors of the weight's size the autograd graph of ``forward(layer, x)`` keeps, other
    than the layer's own W and W'_k (found by their storage)."""
    own = {p.untyped_storage().data_ptr() for p in (layer.weight, *layer.aux_weights)}
    kept = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.numel() == layer.weight.numel() and tensor.untyped_storage().data_ptr() not in own:
            kept.append(tensor)
        return tensor

    with saved_tensors_hooks(pack, lambda tensor: tensor):
        forward(layer, x)
    return kept


@pytest.mark.parametrize("n_aux", [1, 2])
def test_graph_keeps_no_weight_sized_tensor_beyond_w_and_aux(n_aux):
    layer = CrossModalLinear(nn.Linear(16, 12), [torch.randn(12, 16) for _ in range(n_aux)], lambda_init=0.1)
    x = torch.randn(3, 16, requires_grad=True)  # fewer elements than the weight: no confusion
    assert saved_weight_sized(reference_forward, layer, x), "the check sees the reference form's summed weight"
    assert saved_weight_sized(CrossModalLinear.forward, layer, x) == []


def test_autocast_computes_as_f_linear_would():
    layer = CrossModalLinear(nn.Linear(8, 6), [torch.randn(6, 8)], lambda_init=0.3)
    x = torch.randn(4, 8, requires_grad=True)
    leaves = [x, *layer.parameters()]
    outputs = {}
    for name, forward in (("fused", CrossModalLinear.forward), ("reference", reference_forward)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = forward(layer, x)
        outputs[name] = (y, torch.autograd.grad(y.float().square().sum(), leaves))
    (y, grads), (y_ref, grads_ref) = outputs["fused"], outputs["reference"]
    assert y.dtype == y_ref.dtype == torch.bfloat16
    torch.testing.assert_close(y, y_ref)
    for grad, grad_ref, leaf in zip(grads, grads_ref, leaves):
        assert grad.dtype == leaf.dtype
        torch.testing.assert_close(grad, grad_ref, rtol=1e-2, atol=1e-2)


def test_double_backward_is_refused():
    layer = CrossModalLinear(nn.Linear(8, 6), [torch.randn(6, 8)], lambda_init=0.3)
    x = torch.randn(4, 8, requires_grad=True)
    (grad_x,) = torch.autograd.grad(layer(x).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        grad_x.sum().backward()


def test_compiled_layer_matches_eager():
    layer = CrossModalLinear(nn.Linear(8, 6), [torch.randn(6, 8), torch.randn(6, 8)], lambda_init=0.3)
    x = torch.randn(4, 5, 8, requires_grad=True)
    leaves = [x, *layer.parameters()]
    compiled = torch.compile(layer, fullgraph=True)  # fullgraph: no graph break around the function
    y = compiled(x)
    grads = torch.autograd.grad(y.square().sum(), leaves)
    y_eager = layer(x)
    grads_eager = torch.autograd.grad(y_eager.square().sum(), leaves)
    torch.testing.assert_close(y, y_eager)
    for grad, grad_eager in zip(grads, grads_eager):
        torch.testing.assert_close(grad, grad_eager)
