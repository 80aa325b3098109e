import copy
import gc
import weakref

import pytest
import timm.utils
import torch
from torch import nn

from m2pt import CrossModalLinear, cross_modal_layers, merge, reparameterize
from tests.official_layouts import tiny_timm_vit

ALL_LAYERS = ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")


def randomize_lambdas(model: nn.Module) -> None:
    with torch.no_grad():
        for layer in cross_modal_layers(model).values():
            layer.lambdas.uniform_(-0.5, 0.5)


def shapes(model: nn.Module) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in model.state_dict().items()}


CONFIGS = [
    dict(layers=ALL_LAYERS, block_map="identity"),
    dict(layers=("attn.qkv",), block_map="reversed"),
    dict(layers=("mlp.fc1", "mlp.fc2"), block_map=[1, 1, 0]),
    dict(layers=ALL_LAYERS, block_map="identity", aux_trainable=False),
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("qkv_bias", [True, False])
def test_merge_is_equivalent_and_restores_the_plain_layout(config, qkv_bias):
    target = tiny_timm_vit(depth=3, qkv_bias=qkv_bias).eval()
    before = shapes(target)
    aux = tiny_timm_vit(depth=3, num_classes=7)
    model = reparameterize(target, aux, **config)
    randomize_lambdas(model)
    x = torch.randn(4, 3, 32, 32)
    merged = merge(model)
    assert not any(isinstance(m, CrossModalLinear) for m in merged.modules())
    assert any(isinstance(m, CrossModalLinear) for m in model.modules()), "merge(inplace=False) kept the input"
    torch.testing.assert_close(merged(x), model(x), atol=1e-5, rtol=1e-5)
    assert shapes(merged) == before
    fresh = tiny_timm_vit(depth=3, qkv_bias=qkv_bias).eval()
    fresh.load_state_dict(merged.state_dict(), strict=True)
    torch.testing.assert_close(fresh(x), model(x), atol=1e-5, rtol=1e-5)


def test_merge_with_several_auxiliaries():
    target = tiny_timm_vit().eval()
    auxes = [tiny_timm_vit(), tiny_timm_vit().state_dict(), tiny_timm_vit()]
    model = reparameterize(target, auxes)
    layer = model.blocks[0].attn.qkv
    assert len(layer.aux_weights) == 3 and layer.lambdas.shape == (3,)
    randomize_lambdas(model)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(merge(model)(x), model(x), atol=1e-5, rtol=1e-5)


def test_lambda_zero_leaves_outputs_unchanged():
    target = tiny_timm_vit().eval()
    x = torch.randn(2, 3, 32, 32)
    expected = target(x)
    model = reparameterize(target, tiny_timm_vit())
    assert torch.equal(model(x), expected)


def test_timm_reparameterize_model_merges_too():
    model = reparameterize(tiny_timm_vit().eval(), tiny_timm_vit())
    randomize_lambdas(model)
    x = torch.randn(2, 3, 32, 32)
    merged = timm.utils.reparameterize_model(model)
    assert not cross_modal_layers(merged)
    torch.testing.assert_close(merged(x), model(x), atol=1e-5, rtol=1e-5)


def test_inplace_merge_returns_the_same_object():
    model = reparameterize(tiny_timm_vit(), tiny_timm_vit())
    assert merge(model, inplace=True) is model and not cross_modal_layers(model)


def test_gradients_reach_lambda_and_aux_but_not_frozen_aux():
    for aux_trainable in (True, False):
        model = reparameterize(tiny_timm_vit(), tiny_timm_vit(), aux_trainable=aux_trainable)
        model(torch.randn(2, 3, 32, 32)).sum().backward()
        for name, layer in cross_modal_layers(model).items():
            assert layer.lambdas.grad is not None and layer.lambdas.grad.abs().sum() > 0, name
            assert (layer.aux_weights[0].grad is not None) == aux_trainable, name


def test_only_the_chosen_layers_are_replaced():
    model = reparameterize(tiny_timm_vit(depth=2), tiny_timm_vit(depth=2), layers=("attn.proj", "mlp.fc2"))
    assert sorted(cross_modal_layers(model)) == [
        "blocks.0.attn.proj", "blocks.0.mlp.fc2", "blocks.1.attn.proj", "blocks.1.mlp.fc2"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("block_map", "pairing"),
    [("identity", [0, 1, 2, 3]), ("reversed", [3, 2, 1, 0]), ([2, 2, 0, 1], [2, 2, 0, 1])],
)
def test_block_maps_pair_the_right_blocks(block_map, pairing):
    aux = tiny_timm_vit(depth=4)
    model = reparameterize(tiny_timm_vit(depth=4), aux, block_map=block_map)
    for i, j in enumerate(pairing):
        for layer in ALL_LAYERS:
            got = model.blocks[i].get_submodule(layer).aux_weights[0]
            assert torch.equal(got, aux.blocks[j].get_submodule(layer).weight), (i, j, layer)


def test_explicit_block_map_pairs_models_of_different_depth():
    aux = tiny_timm_vit(depth=6)
    model = reparameterize(tiny_timm_vit(depth=2), aux, block_map=[5, 0])
    assert torch.equal(model.blocks[0].mlp.fc1.aux_weights[0], aux.blocks[5].mlp.fc1.weight)


def test_depth_mismatch_names_both_depths_and_changes_nothing():
    target = tiny_timm_vit(depth=3)
    before = copy.deepcopy(target.state_dict())
    with pytest.raises(ValueError, match=r"target has 3 blocks.*has 2"):
        reparameterize(target, tiny_timm_vit(depth=2))
    assert not cross_modal_layers(target)
    assert all(torch.equal(v, target.state_dict()[k]) for k, v in before.items())


def test_width_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"shape \[144, 48\].*shape \[96, 32\]"):
        reparameterize(tiny_timm_vit(dim=32), tiny_timm_vit(dim=48))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(block_map="sideways"), "unknown block_map"),
        (dict(block_map=[0]), "has 1 entries but the target has 2"),
        (dict(block_map=[0, 9]), "outside 0..1"),
        (dict(layers=("attn.nope",)), "no layer 'attn.nope'"),
        (dict(layers=("norm1",)), "not an nn.Linear"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, message):
    target = tiny_timm_vit()
    with pytest.raises(ValueError, match=message):
        reparameterize(target, tiny_timm_vit(), **kwargs)
    assert not cross_modal_layers(target)


def test_reparameterizing_twice_is_refused():
    model = reparameterize(tiny_timm_vit(), tiny_timm_vit())
    with pytest.raises(ValueError, match="already re-parameterized"):
        reparameterize(model, tiny_timm_vit())


def test_model_without_blocks_is_refused():
    with pytest.raises(ValueError, match="model.blocks"):
        reparameterize(nn.Linear(3, 3), tiny_timm_vit())


def test_a_reparameterized_aux_is_used_merged():
    aux = reparameterize(tiny_timm_vit(), tiny_timm_vit())
    randomize_lambdas(aux)
    model = reparameterize(tiny_timm_vit(), aux)
    expected = merge(aux).blocks[1].attn.qkv.weight
    torch.testing.assert_close(model.blocks[1].attn.qkv.aux_weights[0], expected)


def test_the_auxiliary_model_is_freed_as_soon_as_it_is_dropped():
    """No reference cycle keeps an auxiliary model (or checkpoint) alive until the garbage collector runs:
    at real scale that is a whole second model's memory through the first training steps."""
    target, aux = tiny_timm_vit(), tiny_timm_vit()
    aux_alive, weight_alive = weakref.ref(aux), weakref.ref(aux.blocks[0].attn.qkv.weight)
    gc.disable()
    try:
        reparameterize(target, aux)
        del aux
        assert aux_alive() is None and weight_alive() is None
    finally:
        gc.enable()
