import itertools

import pytest
import torch

from m2pt import CheckpointError, cross_modal_layers, merge, reparameterize
from m2pt.models import MODALITY_BUILDERS, SIZES, build_model
from m2pt.models.pretrained import load_pretrained
from m2pt.vocabulary import MODALITIES
from tests import official_layouts

# Small inputs for the non-tiny sizes, so the ViT-B shapes build and run quickly on CPU.
SMALL_INPUTS = {
    "image": dict(img_size=32, patch_size=16),
    "audio": dict(img_size=(32, 32), patch_size=16),
    "video": dict(num_frames=2, img_size=32, patch_size=16),
    "point": dict(num_points=64, group_size=8),
}


def build(modality: str, size: str = "tiny", **kwargs):
    inputs = {} if size == "tiny" else SMALL_INPUTS[modality]
    return build_model(modality, size, **(inputs | kwargs))


@pytest.mark.parametrize(("modality", "size"), list(itertools.product(MODALITIES, SIZES)))
def test_every_modality_and_size_trains_one_step(modality, size):
    model = build(modality, size, num_classes=5)
    assert len(model.blocks) == SIZES[size]["depth"] and model.embed_dim == SIZES[size]["embed_dim"]
    x = model.example_input(2)
    features = model.forward_features(x)
    assert features.shape[0] == 2 and features.shape[2] == model.embed_dim
    logits = model.forward_head(features)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    logits.square().mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"parameters without a finite gradient: {no_grad}"


@pytest.mark.parametrize(
    ("modality", "settings", "tokens"),
    [
        ("image", {}, 16),
        ("audio", {}, 64),
        ("video", {}, 8 * 16),
        ("video", dict(tubelet=2), 4 * 16),
        ("point", {}, 64),
        ("point", dict(num_groups=32), 32),
        ("point", dict(variant="adjacency"), 64),
    ],
)
def test_token_counts(modality, settings, tokens):
    model = build_model(modality, **settings)
    assert model.forward_features(model.example_input(1)).shape == (1, 1 + tokens, 96)


def test_tiny_models_are_small_enough_for_cpu():
    for modality in MODALITIES:
        params = sum(p.numel() for p in build_model(modality).parameters())
        assert params < 1_500_000, (modality, params)


PAIRS = [(t, a) for t, a in itertools.product(MODALITIES, MODALITIES) if t != a]


@pytest.mark.parametrize(("target", "aux"), PAIRS)
def test_cross_modal_pairs_merge_exactly(target, aux):
    model = build_model(target, num_classes=3).eval()
    before = {k: v.shape for k, v in model.state_dict().items()}
    reparameterize(model, build_model(aux))
    with torch.no_grad():
        for layer in cross_modal_layers(model).values():
            layer.lambdas.uniform_(-0.5, 0.5)
    x = model.example_input(2)
    merged = merge(model)
    torch.testing.assert_close(merged(x), model(x), atol=1e-5, rtol=1e-5)
    fresh = build_model(target, num_classes=3).eval()
    fresh.load_state_dict(merged.state_dict(), strict=True)
    assert {k: v.shape for k, v in fresh.state_dict().items()} == before
    torch.testing.assert_close(fresh(x), model(x), atol=1e-5, rtol=1e-5)


def test_pairing_with_an_aux_of_another_width_fails_clearly():
    with pytest.raises(ValueError, match="width mismatch"):
        reparameterize(build_model("image"), build_model("audio", embed_dim=48))


def test_mae_image_checkpoint_loads_with_resampled_positions_and_channels(tmp_path):
    checkpoint, expected = official_layouts.mae_image(dim=96, depth=4, patch=7, grid=14)
    torch.save(checkpoint, tmp_path / "mae.pth")
    model = build_model("image", num_classes=10)  # 28x28 grey: a 4x4 grid, one channel
    report = load_pretrained(model, tmp_path / "mae.pth")
    assert "(14, 14) -> (4, 4)" in report.adapted["pos_embed"]
    assert "input channels 3 -> 1" in report.adapted["patch_embed.proj.weight"]
    assert torch.equal(model.blocks[3].mlp.fc1.weight, expected["blocks.3.mlp.fc1.weight"])
    assert set(report.missing) == {"head.weight", "head.bias"}
    assert "left at init" in str(report)


def test_audiomae_checkpoint_loads_into_the_audio_model(tmp_path):
    checkpoint, expected = official_layouts.audiomae(dim=96, depth=4, patch=16, grid=(64, 8))
    torch.save(checkpoint, tmp_path / "audiomae.pth")
    model = build_model("audio")
    report = load_pretrained(model, tmp_path / "audiomae.pth")
    assert "(64, 8) -> (8, 8)" in report.adapted["pos_embed"]
    assert torch.equal(model.patch_embed.proj.weight, expected["patch_embed.proj.weight"])
    assert torch.equal(model.blocks[0].attn.qkv.bias, expected["blocks.0.attn.qkv.bias"])


def test_videomae_checkpoint_loads_into_the_tubelet_video_model(tmp_path):
    checkpoint, expected = official_layouts.videomae(dim=96, depth=4, patch=8, tubelet=2)
    torch.save(checkpoint, tmp_path / "videomae.pth")
    model = build_model("video", tubelet=2, in_chans=3)
    report = load_pretrained(model, tmp_path / "videomae.pth")
    assert "patch_embed.proj.weight" in report.loaded
    assert torch.equal(model.blocks[2].attn.qkv.bias, expected["blocks.2.attn.qkv.bias"])
    assert "pos_embed" in report.missing  # VideoMAE saves no position table


def test_image_patches_inflate_into_the_per_frame_video_model():
    image = build_model("image", img_size=32, patch_size=8, in_chans=3)
    video = build_model("video", in_chans=3)
    report = load_pretrained(video, image)
    assert "inflated over 1 frame(s)" in report.adapted["patch_embed.proj.weight"]
    torch.testing.assert_close(video.patch_embed.proj.weight[:, :, 0], image.patch_embed.proj.weight)


def test_point_mae_checkpoint_loads_into_the_point_model(tmp_path):
    checkpoint, expected = official_layouts.point_mae(dim=96, depth=4)
    torch.save(checkpoint, tmp_path / "pointmae.pth")
    model = build_model("point", widths=(128, 256, 512))  # Point-MAE's PointNet
    report = load_pretrained(model, tmp_path / "pointmae.pth")
    for key in ("patch_embed.first_conv.0.weight", "patch_embed.second_conv.3.weight", "pos_embed.2.weight"):
        assert torch.equal(model.state_dict()[key], expected[key]), key
    assert "blocks.0.attn.qkv.bias" in report.missing  # Point-MAE has no qkv bias
    model.eval()(model.example_input(2))


def test_checkpoint_of_another_depth_or_width_is_refused():
    with pytest.raises(CheckpointError, match="3 blocks, the model 4"):
        load_pretrained(build_model("image"), build_model("image", depth=3))
    with pytest.raises(CheckpointError, match="another width"):
        load_pretrained(build_model("image"), build_model("image", embed_dim=48))


@pytest.mark.parametrize(
    ("modality", "x", "message"),
    [
        ("image", torch.randn(2, 28, 28), r"\[B,C,H,W\] \(4 dims\)"),
        ("image", torch.randn(2, 3, 28, 28), "expects 1 channels"),
        ("image", torch.randn(2, 1, 30, 28), "height 30 is not divisible by the patch size 7"),
        ("audio", torch.randn(2, 1, 100, 128), "spectrogram: height 100"),
        (
            "video",
            torch.randn(2, 1, 7, 32, 32),
            r"configured for a \(8, 4, 4\) token grid; the input gives \(7, 4, 4\)",
        ),
        ("point", torch.randn(2, 256, 4), "expects 3 channels"),
        ("point", torch.randn(2, 40, 3), "40 points, fewer than the 64 groups"),
        ("image", torch.full((1, 1, 28, 28), float("nan")), "NaN"),
        ("image", torch.zeros(1, 1, 28, 28, dtype=torch.long), "floating-point"),
    ],
)
def test_bad_inputs_give_clear_errors(modality, x, message):
    with pytest.raises(ValueError, match=message):
        build_model(modality)(x)


def test_unknown_names_give_clear_errors():
    with pytest.raises(ValueError, match="unknown modality 'smell'"):
        build_model("smell")
    with pytest.raises(ValueError, match="unknown size"):
        build_model("image", "huge")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['patchsize'\]"):
        build_model("image", patchsize=4)


def test_grid_model_takes_other_image_sizes():
    model = build_model("image", num_classes=2)
    assert model(torch.randn(1, 1, 35, 21)).shape == (1, 2)


def test_sincos_positions_are_fixed_and_not_saved():
    model = build_model("video", pos_embed="sincos")
    assert "pos_embed" not in model.state_dict()
    assert not any(n == "pos_embed" for n, _ in model.named_parameters())


def test_patch_embedding_channel_adaptation_keeps_constant_inputs_equivalent():
    rgb = build_model("image", in_chans=3)
    for channels in (1, 2, 5):
        other = build_model("image", in_chans=channels)
        load_pretrained(other, rgb)
        x = torch.full((1, channels, 28, 28), 0.5)
        torch.testing.assert_close(other.patch_embed(x), rgb.patch_embed(torch.full((1, 3, 28, 28), 0.5)))


def test_the_vocabulary_names_the_registered_modalities():
    assert set(MODALITIES) <= set(MODALITY_BUILDERS)
