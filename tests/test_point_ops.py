"""Tests of m2pt.ops: farthest point sampling, k nearest neighbours and gathering.

Every behaviour test runs twice: through the compiled CPU kernels ("compiled", skipped where they cannot be
built) and through the pure-torch reference ("torch").
"""

import numpy as np
import open3d as o3d
import pytest
import torch
from scipy.spatial import cKDTree

from m2pt.ops import cpu_kernels, farthest_point_sample, gather_points, knn
from m2pt.ops.farthest_point_sampling import farthest_point_sample_reference
from m2pt.ops.nearest_neighbors import knn_reference

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    if request.param == "compiled" and not cpu_kernels.available():
        pytest.skip("the compiled CPU kernels cannot be built here")
    if request.param == "torch":
        monkeypatch.setattr(cpu_kernels, "available", lambda: False)
    return request.param


def random_clouds(batch: int, n_points: int, seed: int) -> torch.Tensor:
    """[B, N, 3] float32 points in general position."""
    return torch.rand(batch, n_points, 3, generator=torch.Generator().manual_seed(seed))


def grid_clouds(batch: int, n_points: int, seed: int) -> torch.Tensor:
    """[B, N, 3] points on a coarse integer grid: many exactly tied distances and duplicate points."""
    return torch.randint(0, 4, (batch, n_points, 3), generator=torch.Generator().manual_seed(seed)).float()


# ---------------------------------------------------------------------------------------------------------
# Farthest point sampling


@pytest.mark.parametrize(("batch", "n_points", "n", "start"), [(3, 50, 10, 0), (2, 1000, 64, 7), (4, 2048, 300, 0)])
def test_fps_picks_the_points_open3d_picks(backend, batch, n_points, n, start):
    xyz = random_clouds(batch, n_points, seed=n_points)
    picks = farthest_point_sample(xyz, n, start=start)
    assert picks.shape == (batch, n) and picks.dtype == torch.int64
    assert (picks[:, 0] == start).all()
    for cloud, picked in zip(xyz.double().numpy(), picks.numpy(), strict=True):
        assert len(set(picked)) == n
        expected = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud))
        expected = np.asarray(expected.farthest_point_down_sample(n, start_index=start).points)
        np.testing.assert_array_equal(cloud[np.sort(picked)], expected)  # Open3D keeps index order


def test_fps_on_a_line_goes_to_the_far_end_then_halves_ties_to_the_lowest_index(backend):
    xyz = torch.zeros(1, 10, 3)
    xyz[0, :, 0] = torch.arange(10.0)
    assert farthest_point_sample(xyz, 5).tolist() == [[0, 9, 4, 2, 6]]
    assert farthest_point_sample(xyz, 3, start=5).tolist() == [[5, 0, 9]]


def test_fps_breaks_ties_towards_the_lowest_index(backend):
    square_and_centre = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0.5, 0.5, 0]]])
    assert farthest_point_sample(square_and_centre, 4).tolist() == [[0, 3, 1, 2]]  # 1 and 2 tie
    assert farthest_point_sample(square_and_centre, 5, start=4).tolist() == [[4, 0, 1, 2, 3]]  # all tie


def test_fps_repeats_the_lowest_index_once_all_points_are_picked(backend):
    same_point = torch.ones(1, 4, 3)
    assert farthest_point_sample(same_point, 3, start=2).tolist() == [[2, 0, 0]]


def test_fps_accepts_any_float_dtype(backend):
    xyz = random_clouds(2, 100, seed=1)
    expected = farthest_point_sample(xyz.double(), 20)
    assert torch.equal(farthest_point_sample(xyz, 20), expected)
    assert farthest_point_sample(xyz.half(), 20).shape == (2, 20)


def test_fps_never_picks_padding(backend):
    xyz = random_clouds(3, 60, seed=2)
    lengths = torch.tensor([60, 25, 40])
    padded = xyz.clone()
    padded[1, 25:] = 100.0  # far away: the first pick after the start if it were considered
    padded[2, 40:] = torch.nan
    picks = farthest_point_sample(padded, 20, start=3, lengths=lengths)
    for b, length in enumerate(lengths.tolist()):
        assert picks[b].max() < length
        assert torch.equal(picks[b], farthest_point_sample(xyz[b : b + 1, :length], 20, start=3)[0])


# ---------------------------------------------------------------------------------------------------------
# k nearest neighbours


@pytest.mark.parametrize(
    ("batch", "n_points", "n_centers", "k"), [(3, 40, 8, 1), (2, 1000, 64, 32), (2, 2048, 256, 16)]
)
def test_knn_matches_a_kd_tree(backend, batch, n_points, n_centers, k):
    xyz = random_clouds(batch, n_points, seed=n_points)
    centers = random_clouds(batch, n_centers, seed=n_centers) * 1.2 - 0.1  # inside and around the clouds
    neighbours = knn(xyz, centers, k)
    assert neighbours.shape == (batch, n_centers, k) and neighbours.dtype == torch.int64
    for cloud, queries, found in zip(xyz.double().numpy(), centers.double().numpy(), neighbours.numpy(), strict=True):
        _, expected = cKDTree(cloud).query(queries, k)
        np.testing.assert_array_equal(found, expected.reshape(n_centers, k))


def test_knn_of_fps_centres_starts_with_the_centre_itself(backend):
    xyz = random_clouds(2, 500, seed=3)
    picks = farthest_point_sample(xyz, 32)
    neighbours = knn(xyz, gather_points(xyz, picks), 8)
    assert torch.equal(neighbours[..., 0], picks)


def test_knn_orders_nearest_first_and_ties_by_lowest_index(backend):
    xyz = torch.tensor([[[2.0, 0, 0], [-1, 0, 0], [0, 0, 3], [1, 0, 0], [0, 0, 0]]])
    centre = torch.zeros(1, 1, 3)
    assert knn(xyz, centre, 4).tolist() == [[[4, 1, 3, 0]]]
    assert knn(xyz, centre, 2).tolist() == [[[4, 1]]]  # 1 and 3 tie for the last place


def test_knn_never_returns_padding(backend):
    xyz = random_clouds(3, 80, seed=4)
    centers = random_clouds(3, 10, seed=5)
    lengths = torch.tensor([30, 80, 12])
    padded = xyz.clone()
    padded[0, 30:] = centers[0, :1]  # closer to centre 0 than any real point
    padded[2, 12:] = torch.inf
    neighbours = knn(padded, centers, 12, lengths=lengths)
    for b, length in enumerate(lengths.tolist()):
        assert neighbours[b].max() < length
        assert torch.equal(neighbours[b], knn(xyz[b : b + 1, :length], centers[b : b + 1], 12)[0])


# ---------------------------------------------------------------------------------------------------------
# The compiled kernels against the reference, on clouds full of ties


@pytest.mark.parametrize("seed", range(4))
def test_compiled_kernels_return_exactly_the_reference_indices(seed):
    if not cpu_kernels.available():
        pytest.skip("the compiled CPU kernels cannot be built here")
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(40, 301, (4,), generator=generator)
    for xyz in (grid_clouds(4, 300, seed), random_clouds(4, 300, seed), random_clouds(4, 300, seed).double()):
        start = seed
        centers = torch.cat([xyz[:, :20], grid_clouds(4, 20, seed + 10) - 0.5], dim=1)
        assert torch.equal(
            cpu_kernels.farthest_point_sample(xyz, 40, start, lengths),
            farthest_point_sample_reference(xyz, 40, start, lengths),
        )
        assert torch.equal(
            cpu_kernels.knn(xyz, centers, 40, lengths),
            knn_reference(xyz, centers, 40, lengths),
        )


def test_without_a_compiler_the_kernels_are_unavailable_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="compiled CPU kernels unavailable, using the slower pure-torch path"):
        assert cpu_kernels._library.__wrapped__() is None


# ---------------------------------------------------------------------------------------------------------
# Gathering


def test_gather_points_picks_per_cloud_and_passes_gradients():
    points = torch.randn(2, 6, 4, requires_grad=True)
    idx = torch.tensor([[[0, 5], [1, 1], [2, 3]], [[4, 4], [0, 1], [5, 2]]])
    gathered = gather_points(points, idx)
    assert gathered.shape == (2, 3, 2, 4)
    for b in range(2):
        assert torch.equal(gathered[b], points[b][idx[b]])
    gathered.sum().backward()
    assert points.grad[0, 1].tolist() == [2.0] * 4 and points.grad[1, 3].tolist() == [0.0] * 4


# ---------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("xyz", "error", "match"),
    [
        (torch.rand(10, 3), ValueError, r"xyz must have shape \[B, M, 3\], got \[10, 3\]"),
        (torch.rand(2, 10, 2), ValueError, r"xyz must have shape \[B, M, 3\], got \[2, 10, 2\]"),
        (torch.ones(2, 10, 3, dtype=torch.int64), TypeError, "xyz must be a floating-point tensor"),
        (np.zeros((2, 10, 3)), TypeError, "xyz must be a torch.Tensor, got ndarray"),
        (torch.rand(2, 0, 3), ValueError, r"xyz is empty: shape \[2, 0, 3\]"),
    ],
)
def test_malformed_points_are_rejected(xyz, error, match):
    with pytest.raises(error, match=match):
        farthest_point_sample(xyz, 2)
    with pytest.raises(error, match=match):
        knn(xyz, torch.rand(2, 1, 3), 2)


@pytest.mark.parametrize("bad", [torch.nan, torch.inf, -torch.inf])
def test_non_finite_coordinates_are_rejected(bad):
    xyz = torch.rand(2, 10, 3)
    xyz[1, 7, 2] = bad
    with pytest.raises(ValueError, match=r"xyz has a NaN or infinite coordinate \(cloud 1, point 7\)"):
        farthest_point_sample(xyz, 2)
    with pytest.raises(ValueError, match=r"xyz has a NaN or infinite coordinate \(cloud 1, point 7\)"):
        knn(xyz, torch.rand(2, 1, 3), 2)
    with pytest.raises(ValueError, match=r"centers has a NaN or infinite coordinate \(cloud 0, point 3\)"):
        knn(torch.rand(2, 10, 3), xyz[[1, 1], 4:], 2)


def test_too_few_points_are_reported_with_both_numbers():
    with pytest.raises(ValueError, match="n=11 but cloud 0 has only 10 points"):
        farthest_point_sample(torch.rand(2, 10, 3), 11)
    with pytest.raises(ValueError, match="k=11 but cloud 0 has only 10 points"):
        knn(torch.rand(2, 10, 3), torch.rand(2, 4, 3), 11)
    lengths = torch.tensor([10, 6])
    with pytest.raises(ValueError, match="n=7 but cloud 1 has only 6 points"):
        farthest_point_sample(torch.rand(2, 10, 3), 7, lengths=lengths)
    with pytest.raises(ValueError, match="k=7 but cloud 1 has only 6 points"):
        knn(torch.rand(2, 10, 3), torch.rand(2, 4, 3), 7, lengths=lengths)


@pytest.mark.parametrize(
    ("count", "error", "match"),
    [(0, ValueError, "must be a positive integer, got 0"), (2.0, TypeError, "must be an integer, got float")],
)
def test_bad_counts_are_rejected(count, error, match):
    with pytest.raises(error, match=f"n {match}"):
        farthest_point_sample(torch.rand(1, 10, 3), count)
    with pytest.raises(error, match=f"k {match}"):
        knn(torch.rand(1, 10, 3), torch.rand(1, 2, 3), count)


@pytest.mark.parametrize("start", [10, -1])
def test_start_out_of_range_is_rejected(start):
    with pytest.raises(ValueError, match=f"start={start} is out of range: cloud 0 has 10 points"):
        farthest_point_sample(torch.rand(1, 10, 3), 2, start=start)
    with pytest.raises(ValueError, match="start=5 is out of range: cloud 1 has 5 points"):
        farthest_point_sample(torch.rand(2, 10, 3), 2, start=5, lengths=torch.tensor([10, 5]))


@pytest.mark.parametrize(
    ("lengths", "error", "match"),
    [
        (torch.tensor([5.0, 5.0]), TypeError, "lengths must be an integer tensor"),
        ([5, 5], TypeError, "lengths must be an integer tensor .B., got list"),
        (torch.tensor([5, 5, 5]), ValueError, r"lengths must have shape \[B\] = \[2\], got \[3\]"),
        (
            torch.tensor([0, 5]),
            ValueError,
            r"lengths must lie in \[1, N\] = \[1, 10\], got values in \[0, 5\]",
        ),
        (
            torch.tensor([5, 11]),
            ValueError,
            r"lengths must lie in \[1, N\] = \[1, 10\], got values in \[5, 11\]",
        ),
    ],
)
def test_bad_lengths_are_rejected(lengths, error, match):
    with pytest.raises(error, match=match):
        farthest_point_sample(torch.rand(2, 10, 3), 2, lengths=lengths)
    with pytest.raises(error, match=match):
        knn(torch.rand(2, 10, 3), torch.rand(2, 3, 3), 2, lengths=lengths)


def test_centres_of_another_batch_size_are_rejected():
    with pytest.raises(ValueError, match="same batch size"):
        knn(torch.rand(2, 10, 3), torch.rand(3, 4, 3), 2)


def test_bad_gather_indices_are_rejected():
    points = torch.rand(2, 6, 3)
    with pytest.raises(ValueError, match=r"idx must be a tensor \[B, ...\] with B = 2, got \[3, 4\]"):
        gather_points(points, torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="idx must be an integer tensor, got torch.float32"):
        gather_points(points, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"points must be a tensor \[B, N, C\], got \[6, 3\]"):
        gather_points(points[0], torch.zeros(2, 4, dtype=torch.int64))


# ---------------------------------------------------------------------------------------------------------
# CUDA


@pytest.mark.cuda
@cuda
def test_cuda_gives_the_cpu_indices():
    xyz = torch.cat([random_clouds(2, 500, seed=6), grid_clouds(2, 500, seed=6)])
    lengths = torch.tensor([500, 300, 500, 200])
    picks = farthest_point_sample(xyz, 64, start=1, lengths=lengths)
    centers = gather_points(xyz, picks)
    neighbours = knn(xyz, centers, 16, lengths=lengths)
    xyz_gpu, lengths_gpu = xyz.cuda(), lengths.cuda()
    assert torch.equal(farthest_point_sample(xyz_gpu, 64, start=1, lengths=lengths_gpu).cpu(), picks)
    assert torch.equal(knn(xyz_gpu, centers.cuda(), 16, lengths=lengths_gpu).cpu(), neighbours)
