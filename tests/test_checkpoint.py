import logging
import sys
import zipfile

import pytest
import safetensors.torch
import torch

from m2pt import (
    CheckpointError,
    cross_modal_layers,
    load_checkpoint,
    load_pretrained,
    read_metadata,
    reparameterize,
    save_checkpoint,
)
from m2pt.checkpoint import attention_heads
from tests import official_layouts
from tests.official_layouts import tiny_timm_vit

LAYOUTS = {
    "mae": ("timm-vit", official_layouts.mae_image),
    "audiomae": ("timm-vit", official_layouts.audiomae),
    "point-mae": ("point-mae", official_layouts.point_mae),
    "videomae": ("videomae", official_layouts.videomae),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_official_layouts_load_to_timm_names(name, tmp_path):
    layout, factory = LAYOUTS[name]
    checkpoint, expected = factory()
    path = tmp_path / f"{name}.pth"
    torch.save(checkpoint, path)
    weights = load_checkpoint(path)
    assert weights.layout == layout
    assert sorted(weights) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(weights[key], value), key
    assert weights.dropped, "the decoder keys are reported as dropped"
    assert not any("decoder" in k for k in weights)


@pytest.mark.parametrize("name", LAYOUTS)
def test_official_layouts_drive_reparameterize(name, tmp_path):
    _, factory = LAYOUTS[name]
    checkpoint, expected = factory(dim=32, depth=2)
    path = tmp_path / "aux.pth"
    torch.save(checkpoint, path)
    model = reparameterize(tiny_timm_vit(dim=32, depth=2), path)
    assert len(cross_modal_layers(model)) == 8
    assert torch.equal(model.blocks[1].mlp.fc2.aux_weights[0], expected["blocks.1.mlp.fc2.weight"])
    model(torch.randn(1, 3, 32, 32)).sum().backward()


def test_videomae_q_and_v_bias_fold_into_a_qkv_bias():
    checkpoint, _ = official_layouts.videomae(dim=8, depth=1)
    q = checkpoint["model"]["encoder.blocks.0.attn.q_bias"]
    v = checkpoint["model"]["encoder.blocks.0.attn.v_bias"]
    bias = load_checkpoint(checkpoint)["blocks.0.attn.qkv.bias"]
    assert torch.equal(bias, torch.cat([q, torch.zeros(8), v]))


def test_timm_state_dict_module_and_training_wrappers():
    model = tiny_timm_vit()
    state = model.state_dict()
    assert sorted(load_checkpoint(state)) == sorted(state)
    assert load_checkpoint(model).layout == "module"
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}
    assert sorted(load_checkpoint(wrapped)) == sorted(state)


def test_dropped_keys_are_reported(caplog):
    checkpoint, _ = official_layouts.mae_image()
    with caplog.at_level(logging.INFO, logger="m2pt.checkpoint"):
        weights = load_checkpoint(checkpoint)
    assert "decoder_blocks.0.attn.qkv.weight" in weights.dropped
    assert "dropped" in caplog.text and "decoder_blocks.*" in caplog.text


def test_pickled_model_needs_explicit_opt_in(tmp_path):
    model = tiny_timm_vit()
    path = tmp_path / "m2pt_release_like.pth"
    torch.save(model, path)  # the paper's release: whole pickled timm models
    with pytest.raises(CheckpointError, match="trust_pickle=True"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="trust_pickle=True"):
        reparameterize(tiny_timm_vit(), path)
    weights = load_checkpoint(path, trust_pickle=True)
    assert weights.layout == "module"
    assert torch.equal(weights["blocks.0.attn.qkv.weight"], model.blocks[0].attn.qkv.weight)
    reparameterize(tiny_timm_vit(), path, trust_pickle=True)


def test_safetensors_roundtrip_with_metadata(tmp_path):
    model = tiny_timm_vit()
    path = save_checkpoint(tmp_path / "sub" / "enc.safetensors", model.state_dict(), {"modality": "image", "epoch": 4})
    assert read_metadata(path) == {"modality": "image", "epoch": 4}
    assert (tmp_path / "sub" / "enc.safetensors.json").is_file()
    weights = load_checkpoint(path)
    assert weights.layout == "m2pt" and weights.metadata["modality"] == "image"
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.endswith(".tmp")]


def test_foreign_safetensors_file_is_recognised_by_its_keys(tmp_path):
    checkpoint, expected = official_layouts.videomae()
    path = tmp_path / "videomae.safetensors"
    safetensors.torch.save_file(checkpoint["model"], str(path))
    weights = load_checkpoint(path)
    assert weights.layout == "videomae" and sorted(weights) == sorted(expected)


def test_save_refuses_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match="safetensors"):
        save_checkpoint(tmp_path / "x.pth", {})


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_and_truncated_files(tmp_path, suffix):
    good = tmp_path / f"good{suffix}"
    if suffix == ".pth":
        torch.save(tiny_timm_vit().state_dict(), good)
    else:
        save_checkpoint(good, tiny_timm_vit().state_dict())
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / f"garbage{suffix}"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    for path in (truncated, garbage):
        with pytest.raises(CheckpointError, match=path.name):
            load_checkpoint(path)


def test_unknown_layout():
    with pytest.raises(CheckpointError, match="unrecognised checkpoint layout.*conv1.weight"):
        load_checkpoint({"conv1.weight": torch.zeros(3, 3), "fc.weight": torch.zeros(2, 2)})


def test_nan_weights_are_refused():
    state = tiny_timm_vit().state_dict()
    state["blocks.1.mlp.fc1.weight"][0, 0] = float("nan")
    with pytest.raises(CheckpointError, match=r"NaN or inf.*blocks\.1\.mlp\.fc1\.weight"):
        load_checkpoint(state)
    target = tiny_timm_vit()
    with pytest.raises(CheckpointError, match="NaN"):
        reparameterize(target, state)
    assert not cross_modal_layers(target)


def test_non_checkpoint_objects_are_refused(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_checkpoint(path)


# Containers found by structure


def test_module_wrapper_of_the_videomae_model_zoo(tmp_path):
    checkpoint, expected = official_layouts.videomae()
    encoder = {k.removeprefix("encoder."): v for k, v in checkpoint["model"].items() if k.startswith("encoder.")}
    path = tmp_path / "videomae_zoo.pth"
    torch.save({"module": encoder}, path)  # what VideoMAE's model zoo files hold
    weights = load_checkpoint(path)
    assert weights.layout == "videomae" and sorted(weights) == sorted(expected)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"weights_v2": sd, "step": 10},
        lambda sd: {"ckpt": {"net": sd, "note": "x"}, "optimizer": {"state": {}, "param_groups": []}},
        lambda sd: {"state": {"model": {f"module.{k}": v for k, v in sd.items()}}},
    ],
)
def test_any_container_holding_the_state_dict_is_found(wrap):
    state = tiny_timm_vit().state_dict()
    weights = load_checkpoint(wrap(state))
    assert sorted(weights) == sorted(state) and torch.equal(
        weights["blocks.1.attn.qkv.weight"], state["blocks.1.attn.qkv.weight"]
    )


def test_several_weight_sets_use_the_first_and_warn(caplog):
    model, ema = tiny_timm_vit(), tiny_timm_vit()
    with caplog.at_level(logging.WARNING, logger="m2pt.checkpoint"):
        weights = load_checkpoint({"model": model.state_dict(), "model_ema": ema.state_dict(), "epoch": 3})
    assert torch.equal(weights["blocks.0.attn.qkv.weight"], model.blocks[0].attn.qkv.weight)
    assert "['model']" in caplog.text and "['model_ema']" in caplog.text


def test_a_container_without_weights_names_its_keys():
    with pytest.raises(CheckpointError, match="no tensors at the top; its keys: optimizer, epoch"):
        load_checkpoint({"optimizer": {"state": {}}, "epoch": 3})


# Legacy pickles (timm 0.4's module paths)


def test_legacy_timm_pickle_loads_through_the_mapped_paths(tmp_path):
    model = tiny_timm_vit(num_heads=4)
    path = tmp_path / "m2pt_point_aux.pth"
    with official_layouts.timm_04_module_paths(model) as old_paths:
        torch.save(model, path)
    assert "timm.models.layers.mlp" in old_paths and "timm.models.layers.mlp" not in sys.modules
    assert b"timm.models.layers.mlp" in zipfile.ZipFile(path).read("m2pt_point_aux/data.pkl")
    with pytest.raises(CheckpointError, match="trust_pickle=True"):
        load_checkpoint(path)
    weights = load_checkpoint(path, trust_pickle=True)
    assert weights.layout == "module" and weights.metadata == {"num_heads": 4}
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


class Vanished(torch.nn.Module):
    """A layer class that timm 0.4 had and timm 1.x does not."""


def test_legacy_pickle_of_a_vanished_or_untrusted_class_is_a_clear_error(tmp_path):
    model = tiny_timm_vit()
    model.blocks[0].extra = Vanished()
    path = tmp_path / "vanished.pth"
    with official_layouts.timm_04_module_paths(model, {Vanished: "timm.models.layers.vanished"}):
        torch.save(model, path)
    with pytest.raises(
        CheckpointError, match=r"pickles timm\.models\.layers\.vanished\.Vanished, which the installed timm"
    ):
        load_checkpoint(path, trust_pickle=True)
    untrusted = tmp_path / "untrusted.pth"
    torch.save(model, untrusted)  # Vanished lives in this test module, outside the trusted packages
    with pytest.raises(
        CheckpointError, match=r"pickles tests\.test_checkpoint\.Vanished, outside the trusted packages"
    ):
        load_checkpoint(untrusted, trust_pickle=True)


# Attention heads


def test_recorded_heads_are_checked_on_load(tmp_path):
    model = tiny_timm_vit(num_heads=2)
    assert attention_heads(model) == 2
    same = save_checkpoint(tmp_path / "same.safetensors", model.state_dict(), {"num_heads": 2})
    load_pretrained(tiny_timm_vit(num_heads=2), same)
    other = save_checkpoint(tmp_path / "other.safetensors", model.state_dict(), {"num_heads": 4})
    with pytest.raises(CheckpointError, match="other.safetensors: trained with 4 attention heads, the model has 2"):
        load_pretrained(tiny_timm_vit(num_heads=2), other)
    in_settings = save_checkpoint(tmp_path / "settings.safetensors", model.state_dict(), {"settings": {"num_heads": 8}})
    with pytest.raises(CheckpointError, match="trained with 8 attention heads"):
        load_pretrained(tiny_timm_vit(num_heads=2), in_settings)
    odd = save_checkpoint(tmp_path / "odd.safetensors", model.state_dict(), {"num_heads": 5})
    with pytest.raises(CheckpointError, match="metadata says 5 heads, which do not divide its width 32"):
        load_pretrained(tiny_timm_vit(num_heads=2), odd)
    with pytest.raises(CheckpointError, match="trained with 2 attention heads, the model has 4"):
        load_pretrained(tiny_timm_vit(num_heads=4), model)  # a module carries its heads


def test_reparameterize_warns_on_other_heads_and_refuses_indivisible_ones(tmp_path, caplog):
    aux = save_checkpoint(tmp_path / "aux.safetensors", tiny_timm_vit(num_heads=4).state_dict(), {"num_heads": 4})
    with caplog.at_level(logging.WARNING, logger="m2pt.checkpoint"):
        reparameterize(tiny_timm_vit(num_heads=2), aux)  # the paper pairs a 6-head point model with 12-head ones
    assert "trained with 4 attention heads, the model has 2" in caplog.text
    odd = save_checkpoint(tmp_path / "odd.safetensors", tiny_timm_vit().state_dict(), {"num_heads": 3})
    target = tiny_timm_vit()
    with pytest.raises(CheckpointError, match="metadata says 3 heads"):
        reparameterize(target, odd)
    assert not cross_modal_layers(target)


def test_errors_about_loaded_weights_name_their_file(tmp_path):
    path = tmp_path / "deep.pth"
    torch.save(tiny_timm_vit(depth=3).state_dict(), path)
    weights = load_checkpoint(path)
    with pytest.raises(ValueError, match=f"depth mismatch.*{path.name}"):
        reparameterize(tiny_timm_vit(depth=2), weights)
    with pytest.raises(CheckpointError, match=f"{path.name}: the checkpoint has 3 blocks, the model 2"):
        load_pretrained(tiny_timm_vit(depth=2), weights)
    wide = tmp_path / "wide.pth"
    torch.save(tiny_timm_vit(dim=64).state_dict(), wide)
    with pytest.raises(ValueError, match=f"width mismatch: the auxiliary model {wide}"):
        reparameterize(tiny_timm_vit(dim=32), load_checkpoint(wide))
