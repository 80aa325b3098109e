import pytest
import torch

from m2pt.models.positions import sincos_position_embedding
from m2pt.tokenizers import AudioTokenizer, ImageTokenizer, PointTokenizer, VideoTokenizer


@pytest.mark.parametrize(
    ("tokenizer", "x"),
    [
        (ImageTokenizer(16, img_size=(12, 8), patch_size=4, in_chans=3), torch.randn(2, 3, 12, 8)),
        (AudioTokenizer(16, img_size=(32, 16), patch_size=16), torch.randn(2, 1, 32, 16)),
        (VideoTokenizer(16, num_frames=4, img_size=8, patch_size=4, tubelet=1), torch.randn(2, 3, 4, 8, 8)),
        (VideoTokenizer(16, num_frames=4, img_size=8, patch_size=4, tubelet=2), torch.randn(2, 3, 4, 8, 8)),
    ],
)
def test_patchify_matches_the_token_order(tokenizer, x):
    """Token n is the projection of patch n: the conv equals a linear map of patchify()'s rows."""
    tokens = tokenizer(x)
    weight = tokenizer.proj.weight  # [D, C, (t,) S, S]
    order = (0, *range(2, weight.dim()), 1)  # channels last, as patchify lays values out
    flat = weight.permute(order).reshape(weight.shape[0], -1)
    expected = tokenizer.patchify(x) @ flat.T + tokenizer.proj.bias
    torch.testing.assert_close(tokens, expected, atol=1e-5, rtol=1e-5)
    assert tokens.shape[1] == torch.Size(tokenizer.grid).numel()


def test_video_token_counts_follow_frames_and_tubelets():
    per_frame = VideoTokenizer(8, num_frames=4, img_size=16, patch_size=4)
    tubelet = VideoTokenizer(8, num_frames=4, img_size=16, patch_size=4, tubelet=2)
    x = torch.randn(1, 3, 4, 16, 16)
    assert per_frame(x).shape == (1, 4 * 16, 8) and tubelet(x).shape == (1, 2 * 16, 8)


def test_point_groups_are_relative_to_their_centres():
    tokenizer = PointTokenizer(16, num_points=128, group_size=8, in_features=2)
    cloud = torch.randn(2, 128, 5)
    tokens, centres, groups = tokenizer(cloud)
    assert tokens.shape == (2, 32, 16) and centres.shape == (2, 32, 3) and groups.shape == (2, 32, 8, 5)
    # every centre is a cloud point, and its nearest neighbour is itself: relative xyz 0
    assert torch.allclose(groups[:, :, 0, :3], torch.zeros(2, 32, 3))
    for b in range(2):
        distances = (centres[b][:, None] - cloud[b, None, :, :3]).norm(dim=-1)
        assert torch.allclose(distances.min(dim=1).values, torch.zeros(32), atol=1e-6)
    # the extra feature channels travel with their points, unchanged
    absolute = groups[..., :3] + centres[:, :, None]
    match = (absolute[0, 0, 1][None] - cloud[0, :, :3]).abs().sum(1).argmin()
    torch.testing.assert_close(groups[0, 0, 1, 3:], cloud[0, match, 3:])


def test_fps_centres_spread_over_the_cloud():
    """Two far-apart clusters: FPS takes centres from both."""
    cloud = torch.cat([torch.randn(1, 64, 3) * 0.01, torch.randn(1, 64, 3) * 0.01 + 10], dim=1)
    _, centres, _ = PointTokenizer(8, num_points=128, num_groups=4, group_size=4)(cloud)
    assert (centres[0, :, 0] > 5).any() and (centres[0, :, 0] < 5).any()


def test_adjacency_is_symmetric_scale_free_and_one_on_the_diagonal():
    tokenizer = PointTokenizer(8, num_points=64, group_size=4, variant="adjacency")
    centres = torch.randn(2, 16, 3)
    adjacency = tokenizer.adjacency(centres)
    torch.testing.assert_close(adjacency, adjacency.transpose(1, 2))
    torch.testing.assert_close(torch.diagonal(adjacency, dim1=1, dim2=2), torch.ones(2, 16))
    torch.testing.assert_close(tokenizer.adjacency(centres * 7.5), adjacency, atol=1e-5, rtol=1e-4)


def test_unknown_point_variant():
    with pytest.raises(ValueError, match="unknown point tokenizer variant"):
        PointTokenizer(8, variant="voxel")


def test_tokenizer_configuration_errors():
    with pytest.raises(ValueError, match="not divisible by the patch size"):
        ImageTokenizer(8, img_size=30, patch_size=4)
    with pytest.raises(ValueError, match="frame count 5 is not divisible"):
        VideoTokenizer(8, num_frames=5, img_size=16, patch_size=4, tubelet=2)


def test_sincos_positions_are_distinct_per_token():
    table = sincos_position_embedding((2, 3, 4), 48)
    assert table.shape == (24, 48)
    assert torch.cdist(table, table).add(torch.eye(24)).min() > 0.1
    with pytest.raises(ValueError, match="divisible"):
        sincos_position_embedding((2, 3), 30)


def test_pointnet_equals_point_mae_convolution_layout():
    """The channel-last PointNet computes what Conv1d over [N, C, k] computes (Point-MAE's layout)."""
    tokenizer = PointTokenizer(16, num_points=128, group_size=8, widths=(8, 12, 20)).eval()
    groups = torch.randn(2, 32, 8, 3)
    x = groups.reshape(64, 8, 3).transpose(1, 2)  # [BG, C, k]

    def conv_stage(stage, x):
        for layer in stage:
            x = (
                torch.nn.functional.conv1d(x, layer.weight, layer.bias)
                if isinstance(layer, torch.nn.Conv1d)
                else layer(x)
            )
        return x

    local = conv_stage(tokenizer.first_conv, x)
    x = torch.cat([local.amax(dim=2, keepdim=True).expand(-1, -1, 8), local], dim=1)
    expected = conv_stage(tokenizer.second_conv, x).amax(dim=2).reshape(2, 32, 16)
    torch.testing.assert_close(tokenizer.encode(groups), expected, atol=1e-5, rtol=1e-5)
