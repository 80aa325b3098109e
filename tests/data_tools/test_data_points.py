import numpy as np
import open3d as o3d
import pytest
import torch

from data_tools import DataFileError, augment_points, folder_dataset, load_points, normalize_points, resample
from data_tools.points import PointReader
from data_tools.vrml import read_vrml_mesh, triangulate

CUBE_OFF = """OFF
8 6 0
0 0 0
2 0 0
2 2 0
0 2 0
0 0 2
2 0 2
2 2 2
0 2 2
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 2 3 7 6
4 1 2 6 5
4 0 4 7 3
"""

CUBE_WRL = """#VRML V2.0 utf8
# two faces of a unit square, one as a quad, in two IndexedFaceSets
Shape { geometry IndexedFaceSet
{ creaseAngle 0.50 coordIndex [0,1,2,-1,0,2,3,-1]
coord Coordinate { point [0 0 0, 1 0 0, 1 1 0, 0 1 0] }
}}
Shape { geometry IndexedFaceSet
{ coordIndex [0,1,2,3,-1]
coord DEF side Coordinate { point [0 0 0, 0 0 1, 0 1 1, 0 1 0] }
}}
"""


def write_ply(path, count=500, normals=True, colors=True):
    rng = np.random.default_rng(0)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(rng.normal(size=(count, 3)) + 5))
    if normals:
        unit = rng.normal(size=(count, 3))
        cloud.normals = o3d.utility.Vector3dVector(unit / np.linalg.norm(unit, axis=1, keepdims=True))
    if colors:
        cloud.colors = o3d.utility.Vector3dVector(rng.uniform(size=(count, 3)))
    o3d.io.write_point_cloud(str(path), cloud)
    return path, np.asarray(cloud.points)


def test_ply_with_normals_and_colours(tmp_path):
    path, points = write_ply(tmp_path / "c.ply")
    xyz = load_points(path)
    assert xyz.shape == (500, 3) and xyz.dtype == torch.float32
    np.testing.assert_allclose(xyz.numpy(), points, rtol=1e-6)
    full = load_points(path, ("normals", "colors"))
    assert full.shape == (500, 9)
    torch.testing.assert_close(full[:, 3:6].norm(dim=1), torch.ones(500))
    assert 0 <= full[:, 6:].min() and full[:, 6:].max() <= 1


def test_missing_normals_are_estimated_missing_colours_are_an_error(tmp_path):
    path, _ = write_ply(tmp_path / "bare.ply", normals=False, colors=False)
    assert load_points(path, ("normals",)).shape == (500, 6)
    with pytest.raises(DataFileError, match="has no colours"):
        load_points(path, ("colors",))


@pytest.mark.parametrize("suffix", [".pcd", ".xyz"])
def test_other_cloud_formats(tmp_path, suffix):
    _, points = write_ply(tmp_path / f"c{suffix}", normals=False, colors=False)
    np.testing.assert_allclose(load_points(tmp_path / f"c{suffix}").numpy(), points, rtol=1e-5)


def test_off_mesh_is_sampled_over_its_surface(tmp_path):
    (tmp_path / "cube.off").write_text(CUBE_OFF)
    points = load_points(tmp_path / "cube.off", ("normals",), mesh_points=2000)
    assert points.shape == (2000, 6)
    xyz = points[:, :3]
    assert xyz.min() >= 0 and xyz.max() <= 2
    on_a_face = ((xyz.abs() < 1e-5) | ((xyz - 2).abs() < 1e-5)).any(dim=1)
    assert on_a_face.all()
    assert (xyz.mean(0) - 1).abs().max() < 0.1  # spread over all six faces


@pytest.mark.parametrize("suffix", [".obj", ".stl"])
def test_obj_and_stl_meshes(tmp_path, suffix):
    mesh = o3d.geometry.TriangleMesh.create_box(2, 2, 2)
    mesh.compute_triangle_normals()
    o3d.io.write_triangle_mesh(str(tmp_path / f"box{suffix}"), mesh)
    points = load_points(tmp_path / f"box{suffix}", mesh_points=500)
    assert points.shape == (500, 3) and points.min() >= -1e-6 and points.max() <= 2 + 1e-6


def test_vrml_indexed_face_sets(tmp_path):
    (tmp_path / "square.wrl").write_text(CUBE_WRL)
    mesh = read_vrml_mesh(tmp_path / "square.wrl")
    assert len(mesh.vertices) == 8 and len(mesh.triangles) == 4
    assert mesh.get_surface_area() == pytest.approx(2.0)
    points = load_points(tmp_path / "square.wrl", mesh_points=300)
    assert points.shape == (300, 3) and ((points[:, 2] == 0) | (points[:, 0] == 0)).all()


def test_triangulate_fans_polygons():
    assert triangulate(np.array([0, 1, 2, 3, -1, 4, 5, 6, -1])).tolist() == [[0, 1, 2], [0, 2, 3], [4, 5, 6]]
    assert triangulate(np.array([0, 1, 2, -1, 2, 1, 3])).tolist() == [[0, 1, 2], [2, 1, 3]]


def test_arrays(tmp_path):
    rng = np.random.default_rng(0)
    points, normals = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    np.save(tmp_path / "p.npy", np.concatenate([points, normals], axis=1))
    np.savez(tmp_path / "p.npz", points=points, normals=normals)
    assert load_points(tmp_path / "p.npy", ("normals",)).shape == (100, 6)
    torch.testing.assert_close(
        load_points(tmp_path / "p.npz", ("normals",)), load_points(tmp_path / "p.npy", ("normals",))
    )
    with pytest.raises(DataFileError, match=r"expected an array \[N, 3\]"):
        load_points(tmp_path / "p.npy")
    with pytest.raises(DataFileError, match="no array named colors"):
        load_points(tmp_path / "p.npz", ("colors",))


def test_normalize_centres_into_the_unit_sphere():
    points = torch.randn(300, 6) * 7 + 3
    normalized = normalize_points(points)
    torch.testing.assert_close(normalized[:, :3].mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    assert normalized[:, :3].norm(dim=1).max().item() == pytest.approx(1.0)
    assert torch.equal(normalized[:, 3:], points[:, 3:])


def test_resample_to_fewer_and_more_points():
    points = torch.arange(10.0).unsqueeze(1).repeat(1, 3)
    fewer = resample(points, 4)
    assert fewer.shape == (4, 3) and len(fewer[:, 0].unique()) == 4
    more = resample(points, 25)
    assert more.shape == (25, 3) and set(more[:, 0].tolist()) == set(range(10))
    seeded = [resample(points, 5, torch.Generator().manual_seed(1)) for _ in range(2)]
    assert torch.equal(*seeded)


def test_augment_keeps_shape_and_turns_normals():
    torch.manual_seed(0)
    points = torch.cat([torch.randn(200, 3), torch.nn.functional.normalize(torch.randn(200, 3), dim=1)], dim=1)
    rigid = augment_points(points, scale=(1, 1), shift=0.0, rotate="so3", normals_at=3)

    def distances(xyz):
        return (xyz[:, None] - xyz[None]).norm(dim=-1)

    torch.testing.assert_close(distances(rigid[:, :3]), distances(points[:, :3]), atol=1e-5, rtol=0)
    dots = (rigid[:, :3] * rigid[:, 3:]).sum(1)  # a rotation keeps the angle between points and normals
    torch.testing.assert_close(dots, (points[:, :3] * points[:, 3:]).sum(1), atol=1e-5, rtol=0)
    scaled = augment_points(points, jitter=0.01, normals_at=3)
    torch.testing.assert_close(scaled[:, 3:].norm(dim=1), torch.ones(200))
    assert not torch.equal(scaled[:, :3], points[:, :3])


def test_point_reader(tmp_path):
    path, _ = write_ply(tmp_path / "c.ply")
    reader = PointReader(num_points=128, features=["normals"])
    x = reader(path)
    assert x.shape == (128, 6) and x.dtype == torch.float32 and torch.equal(x, reader(path))
    augmented = PointReader(num_points=128, augment=True, rotate="z")
    assert not torch.equal(augmented(path), augmented(path))


def test_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.ply"
    empty.touch()
    corrupt = tmp_path / "corrupt.ply"
    corrupt.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1000\n" + bytes(100))
    garbage_mesh = tmp_path / "garbage.off"
    garbage_mesh.write_text("this is not a mesh")
    garbage_array = tmp_path / "garbage.npy"
    garbage_array.write_bytes(b"not numpy")
    for path, reason in [
        (empty, "file is empty"),
        (corrupt, "contains no points"),
        (garbage_mesh, "contains no triangles"),
        (garbage_array, "ValueError"),
        (tmp_path / "c.las", "unsupported file type"),
    ]:
        with pytest.raises(DataFileError, match=reason) as error:
            load_points(path)
        assert str(path) in str(error.value)


@pytest.mark.parametrize("suffix", [".npy", ".xyz", ".txt"])
def test_non_finite_coordinates_are_an_error_naming_the_file(tmp_path, suffix):
    cloud = np.random.default_rng(0).normal(size=(50, 3))
    cloud[7, 1] = np.nan
    cloud[9, 0] = np.inf
    path = tmp_path / f"bad{suffix}"
    if suffix == ".npy":
        np.save(path, cloud)
    else:
        path.write_text("\n".join((", " if suffix == ".txt" else " ").join(map(str, row)) for row in cloud))
    with pytest.raises(DataFileError, match=r"NaN or infinite values in 2 point\(s\), the first is point 7") as error:
        load_points(path)
    assert error.value.path == path


def test_a_bad_point_file_is_skipped_in_skip_mode(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            np.save(tmp_path / name / f"{i}.npy", np.random.default_rng(i).normal(size=(40, 3)))
    np.save(tmp_path / "a" / "1.npy", np.full((40, 3), np.nan))
    dataset = folder_dataset(tmp_path, "point", val_fraction=0.0, num_points=16, on_error="skip")
    with pytest.warns(UserWarning, match="NaN"):
        items = [dataset[i] for i in range(len(dataset))]
    assert len(items) == 6 and all(x.isfinite().all() for x, _ in items)
    assert [path.name for path, _ in dataset.skipped] == ["1.npy"]


def test_modelnet_text_points_with_normals(tmp_path):
    rows = np.random.default_rng(0).normal(size=(20, 6))
    path = tmp_path / "airplane_0001.txt"
    path.write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n")
    torch.testing.assert_close(load_points(path), torch.from_numpy(rows[:, :3]).float(), atol=1e-6, rtol=0)
    torch.testing.assert_close(load_points(path, ["normals"]), torch.from_numpy(rows).float(), atol=1e-6, rtol=0)
    xyz_only = tmp_path / "xyz.txt"
    xyz_only.write_text("0,0,0\n1,1,1\n")
    with pytest.raises(DataFileError, match="lines have 3 values, 6 needed"):
        load_points(xyz_only, ["normals"])


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["0,0,0,0,0,1", "0,0,0,0,0,1", "0,0,zero,0,0,1"], "line 3 is not comma-separated numbers"),
        (["0,0,0,0,0,1", "", "0,0,0,0,1"], "line 3 has 5 values, the lines before 6"),
    ],
)
def test_a_malformed_text_line_is_named_by_number(tmp_path, lines, reason):
    path = tmp_path / "chair_0002.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match=reason) as error:
        load_points(path)
    assert error.value.path == path
