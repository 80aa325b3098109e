import pytest
import torch
from torch import nn

from m2pt import CrossModalLinear, build_model, reparameterize
from m2pt.models.masked_autoencoder import MaskedAutoencoder
from m2pt.parameter_roles import block_depths, parameter_roles
from m2pt.train.classifier import freeze_for_fix
from m2pt.train.config import OptimConfig
from m2pt.train.optim import build_optimizer, cosine_lr, parameter_groups, set_learning_rate
from m2pt.vocabulary import ParameterRole

SCALES = {ParameterRole.LAMBDA: 30, ParameterRole.AUX: 0.5}


def groups_by_kind(model, optim=None, scales=None):
    return {g["kind"]: g for g in parameter_groups(model, optim or OptimConfig(), scales)}


def test_lambda_has_its_own_learning_rate_and_no_weight_decay():
    model = reparameterize(build_model("image"), build_model("audio"))
    groups = groups_by_kind(model, OptimConfig(lr=1e-3, weight_decay=0.05), SCALES)
    assert groups["lambda"]["weight_decay"] == 0.0 and groups["lambda"]["lr_scale"] == 30
    assert all(n.endswith("lambdas") for n in groups["lambda"]["names"]) and len(groups["lambda"]["names"]) == 16
    assert groups["aux"]["lr_scale"] == 0.5 and all(".aux_weights." in n for n in groups["aux"]["names"])
    assert groups["decay"]["weight_decay"] == 0.05
    assert not any(n.endswith((".bias", "pos_embed", "cls_token")) for n in groups["decay"]["names"])
    optimizer = build_optimizer(parameter_groups(model, OptimConfig(lr=1e-3), SCALES), OptimConfig(lr=1e-3))
    set_learning_rate(optimizer, 1e-3)
    lrs = {g["kind"]: g["lr"] for g in optimizer.param_groups}
    assert lrs["lambda"] == pytest.approx(3e-2) and lrs["decay"] == pytest.approx(1e-3)


def test_roles_follow_the_modules_not_the_names(monkeypatch):
    """Rename CrossModalLinear's fields: λ still gets its own group and fix mode still trains only λ."""

    class Renamed(CrossModalLinear):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.scales = self.lambdas  # the same parameter under a name no string match would find
            del self.lambdas
            self.extra = self.aux_weights
            del self.aux_weights

        def parameter_roles(self):
            yield self.scales, ParameterRole.LAMBDA
            yield from ((w, ParameterRole.AUX) for w in self.extra)

    model = build_model("image", num_classes=3)
    for block in model.blocks:
        block.mlp.fc1 = Renamed(block.mlp.fc1, [torch.randn_like(block.mlp.fc1.weight)])
    roles = parameter_roles(model)
    assert {n for n, r in roles.items() if r is ParameterRole.LAMBDA} == {
        f"blocks.{i}.mlp.fc1.scales" for i in range(4)
    }
    groups = groups_by_kind(model, scales=SCALES)
    assert groups["lambda"]["lr_scale"] == 30 and len(groups["lambda"]["names"]) == 4
    freeze_for_fix(model, train_tokenizer=False)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {f"blocks.{i}.mlp.fc1.scales" for i in range(4)} | {"head.weight", "head.bias"}


def test_frozen_parameters_are_left_out():
    model = reparameterize(build_model("image"), build_model("audio"), aux_trainable=False, lambda_trainable=False)
    assert {"lambda", "aux"}.isdisjoint(groups_by_kind(model))


def test_layer_wise_decay_scales_by_depth():
    model = build_model("image", num_classes=10)
    groups = parameter_groups(model, OptimConfig(layer_decay=0.5))
    scale = {n: g["lr_scale"] for g in groups for n in g["names"]}
    assert scale["head.weight"] == 1.0 and scale["blocks.3.mlp.fc1.weight"] == 0.5
    assert scale["blocks.0.mlp.fc1.weight"] == 0.5**4 and scale["patch_embed.proj.weight"] == 0.5**5
    autoencoder = MaskedAutoencoder(build_model("image"))
    depths = block_depths(autoencoder)
    assert depths["encoder.blocks.2.attn.qkv.weight"] == 3 and depths["encoder.patch_embed.proj.weight"] == 0
    assert (
        depths["decoder_blocks.0.attn.qkv.weight"] == 5
        and "mask_token" in groups_by_kind(autoencoder)["no_decay"]["names"]
    )


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
        build_optimizer(parameter_groups(model, OptimConfig()), OptimConfig())


def test_a_module_without_declared_roles_is_body():
    model = nn.Sequential(nn.Linear(2, 2))
    assert set(parameter_roles(model).values()) == {ParameterRole.BODY}
