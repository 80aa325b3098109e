import pytest

from m2pt import build_model, reparameterize
from m2pt.train.config import OptimConfig, PathwayConfig
from m2pt.train.optim import build_optimizer, cosine_lr, layer_id, parameter_groups, set_learning_rate


def groups_by_kind(model, optim=None, pathway=None):
    groups = parameter_groups(model, optim or OptimConfig(), pathway or PathwayConfig(), depth=len(model.blocks))
    return {g["kind"]: g for g in groups}


def test_lambda_has_its_own_learning_rate_and_no_weight_decay():
    model = reparameterize(build_model("image"), build_model("audio"))
    groups = groups_by_kind(
        model, OptimConfig(lr=1e-3, weight_decay=0.05), PathwayConfig(lambda_lr_scale=30, aux_lr_scale=0.5)
    )
    assert groups["lambda"]["weight_decay"] == 0.0 and groups["lambda"]["lr_scale"] == 30
    assert all(n.endswith("lambdas") for n in groups["lambda"]["names"]) and len(groups["lambda"]["names"]) == 16
    assert groups["aux"]["lr_scale"] == 0.5 and all(".aux_weights." in n for n in groups["aux"]["names"])
    assert groups["decay"]["weight_decay"] == 0.05
    assert not any(n.endswith((".bias", "pos_embed", "cls_token")) for n in groups["decay"]["names"])
    optimizer = build_optimizer(model, OptimConfig(lr=1e-3), PathwayConfig(lambda_lr_scale=30), depth=4)
    set_learning_rate(optimizer, 1e-3)
    lrs = {g["kind"]: g["lr"] for g in optimizer.param_groups}
    assert lrs["lambda"] == pytest.approx(3e-2) and lrs["decay"] == pytest.approx(1e-3)


def test_frozen_parameters_are_left_out():
    model = reparameterize(build_model("image"), build_model("audio"), aux_trainable=False, lambda_trainable=False)
    assert {"lambda", "aux"}.isdisjoint(groups_by_kind(model))


def test_layer_wise_decay_scales_by_depth():
    model = build_model("image", num_classes=10)
    groups = parameter_groups(model, OptimConfig(layer_decay=0.5), PathwayConfig(), depth=4)
    scale = {n: g["lr_scale"] for g in groups for n in g["names"]}
    assert scale["head.weight"] == 1.0 and scale["blocks.3.mlp.fc1.weight"] == 0.5
    assert scale["blocks.0.mlp.fc1.weight"] == 0.5**4 and scale["patch_embed.proj.weight"] == 0.5**5
    assert layer_id("encoder.blocks.2.attn.qkv.weight", 4) == 3


def test_cosine_schedule_with_warmup():
    assert cosine_lr(0, 100, 10, 1.0, 0.0) == pytest.approx(0.1)
    assert cosine_lr(9, 100, 10, 1.0, 0.0) == pytest.approx(1.0)
    assert cosine_lr(55, 100, 10, 1.0, 0.0) == pytest.approx(0.5)
    assert cosine_lr(100, 100, 10, 1.0, 0.1) == pytest.approx(0.1)


def test_everything_frozen_is_an_error():
    model = build_model("image")
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        build_optimizer(model, OptimConfig(), PathwayConfig(), depth=4)
