import logging

import pytest
import safetensors.torch
import torch

from m2pt import (
    CheckpointError,
    cross_modal_layers,
    load_checkpoint,
    read_metadata,
    reparameterize,
    save_checkpoint,
)
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
