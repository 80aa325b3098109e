"""Point-cloud and mesh files to `[P, 3 + c]` tensors: xyz, then optional normals and colours.

Clouds are centred and scaled into the unit sphere as in Point-MAE, resampled to a fixed count,
and for training scaled per axis (2/3 to 3/2), shifted (+-0.2), optionally rotated and jittered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import Tensor

from data_tools.errors import DataFileError, check_file, reading
from data_tools.open3d_quiet import o3d
from data_tools.vrml import read_vrml_mesh

CLOUD_EXTENSIONS = (".ply", ".pcd", ".xyz", ".xyzn", ".xyzrgb", ".pts")
MESH_EXTENSIONS = (".off", ".obj", ".stl", ".wrl")
ARRAY_EXTENSIONS = (".npy", ".npz")
POINT_EXTENSIONS = CLOUD_EXTENSIONS + MESH_EXTENSIONS + ARRAY_EXTENSIONS
TEXT_EXTENSIONS = (".txt",)  # ModelNet's "x,y,z,nx,ny,nz" lines; not picked up in class folders
Feature = Literal["normals", "colors"]


def load_points(path: str | Path, features: Sequence[Feature] = (), mesh_points: int = 8192) -> Tensor:
    """Read a file as float32 `[N, 3 + 3 * len(features)]`: xyz, then normals and/or colours in order.

    Meshes (off/obj/stl/wrl) are sampled uniformly by area to `mesh_points` points. Arrays: `.npy` holds
    `[N, 3 + 3 * len(features)]` columns, `.npz` holds arrays named `points`, `normals`, `colors`. Text
    (`.txt`, ModelNet's resampled clouds): one point per line, comma-separated `x,y,z[,nx,ny,nz]`.
    NaN or infinite values are a DataFileError naming the file.
    """
    path = check_file(path, POINT_EXTENSIONS + TEXT_EXTENSIONS)
    with reading(path):
        suffix = path.suffix.lower()
        if suffix in TEXT_EXTENSIONS:
            columns = _text_columns(path, features)
        elif suffix in ARRAY_EXTENSIONS:
            columns = _array_columns(path, features)
        else:
            columns = _open3d_columns(path, features, mesh_points)
    if columns[0].shape[0] == 0:
        raise DataFileError(path, "contains no points")
    points = np.concatenate(columns, axis=1).astype(np.float32)
    check_finite(path, points)
    return torch.from_numpy(points)


def check_finite(path: str | Path, points: np.ndarray, what: str = "point") -> None:
    """DataFileError naming `path` and the first row of `points [N, c]` with a NaN or infinite value."""
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if bad.size:
        raise DataFileError(
            path, f"NaN or infinite values in {bad.size} {what}(s), the first is {what} {bad[0]} (from 0)"
        )


def _text_columns(path: Path, features: Sequence[Feature]) -> list[np.ndarray]:
    if "colors" in features:
        raise DataFileError(path, "text point files hold x,y,z and normals, no colours")
    try:
        array = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:
        _find_bad_line(path)
        raise
    width = 6 if "normals" in features else 3
    if array.shape[0] and array.shape[1] < width:
        raise DataFileError(
            path, f"lines have {array.shape[1]} values, {width} needed (x,y,z{',nx,ny,nz' * (width > 3)})"
        )
    columns = [array[:, :3]]
    if "normals" in features:
        columns.append(array[:, 3:6])
    return columns


def _find_bad_line(path: Path) -> None:
    """DataFileError naming the first line of a text point file that is not numbers, or has another count."""
    count = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(value) for value in line.split(",")]
        except ValueError:
            raise DataFileError(path, f"line {number} is not comma-separated numbers: {line[:80]!r}") from None
        if count is not None and len(values) != count:
            raise DataFileError(
                path, f"line {number} has {len(values)} values, the lines before {count}: {line[:80]!r}"
            )
        count = len(values)


def _array_columns(path: Path, features: Sequence[Feature]) -> list[np.ndarray]:
    if path.suffix.lower() == ".npz":
        with np.load(path) as arrays:
            missing = [key for key in ("points", *features) if key not in arrays]
            if missing:
                raise DataFileError(path, f"has no array named {', '.join(missing)} (has {list(arrays)})")
            return [arrays[key].reshape(-1, 3) for key in ("points", *features)]
    array = np.load(path)
    width = 3 + 3 * len(features)
    if array.ndim != 2 or array.shape[1] != width:
        raise DataFileError(path, f"expected an array [N, {width}] (xyz, {', '.join(features)}), got {array.shape}")
    return [array]


def _open3d_columns(path: Path, features: Sequence[Feature], mesh_points: int) -> list[np.ndarray]:
    if path.suffix.lower() in MESH_EXTENSIONS:
        mesh = read_vrml_mesh(path) if path.suffix.lower() == ".wrl" else o3d.io.read_triangle_mesh(str(path))
        if len(mesh.triangles) == 0:
            raise DataFileError(path, "contains no triangles (not a mesh, or unreadable)")
        cloud = sample_mesh(mesh, mesh_points)
    else:
        cloud = o3d.io.read_point_cloud(str(path))
    if not cloud.has_points():
        raise DataFileError(path, "contains no points (not a point cloud, or unreadable)")
    columns = [np.asarray(cloud.points)]
    for feature in features:
        if feature == "normals" and not cloud.has_normals():
            cloud.estimate_normals()
        if feature == "colors" and not cloud.has_colors():
            raise DataFileError(path, "has no colours")
        columns.append(np.asarray(cloud.normals if feature == "normals" else cloud.colors))
    return columns


def sample_mesh(mesh: o3d.geometry.TriangleMesh, num_points: int, seed: int | None = None) -> o3d.geometry.PointCloud:
    """`num_points` points spread uniformly over the mesh surface, with the faces' normals. open3d draws
    them from a generator of its own: `seed` seeds it (the same points every time); None leaves it as it is."""
    if seed is not None:
        o3d.utility.random.seed(seed)
    mesh.compute_triangle_normals()
    return mesh.sample_points_uniformly(num_points, use_triangle_normal=True)


def normalize_points(points: Tensor) -> Tensor:
    """Centre the xyz columns of `[N, 3 + c]` on their centroid and scale them into the unit sphere."""
    xyz = points[:, :3] - points[:, :3].mean(dim=0)
    radius = xyz.norm(dim=1).max().clamp_min(1e-12)
    return torch.cat([xyz / radius, points[:, 3:]], dim=1)


def resample(points: Tensor, num_points: int, generator: torch.Generator | None = None) -> Tensor:
    """`num_points` rows of `[N, 3 + c]`: a random subset, or all rows plus random repeats when N is short.

    Pass a seeded `generator` for the same choice on every call.
    """
    count = points.shape[0]
    order = torch.randperm(count, generator=generator)
    if count >= num_points:
        return points[order[:num_points]]
    extra = torch.randint(count, (num_points - count,), generator=generator)
    return points[torch.cat([order, extra])]


def augment_points(
    points: Tensor,
    *,
    scale: tuple[float, float] = (2 / 3, 3 / 2),
    shift: float = 0.2,
    rotate: Literal["none", "z", "so3"] = "none",
    jitter: float = 0.0,
    normals_at: int | None = None,
) -> Tensor:
    """Random per-axis scale, rotation, shift and Gaussian jitter (clipped at 5 sigma) of `[N, 3 + c]`.

    Normals in columns `normals_at:normals_at + 3` turn with the cloud (scaled by the inverse scale).
    """
    xyz = points[:, :3]
    factors = torch.empty(3).uniform_(*scale)
    rotation = random_rotation(rotate)
    xyz = (xyz * factors) @ rotation.T + torch.empty(3).uniform_(-shift, shift)
    if jitter > 0:
        xyz = xyz + (torch.randn_like(xyz) * jitter).clamp(-5 * jitter, 5 * jitter)
    points = torch.cat([xyz, points[:, 3:]], dim=1)
    if normals_at is not None:
        normals = points[:, normals_at : normals_at + 3] / factors @ rotation.T
        points[:, normals_at : normals_at + 3] = torch.nn.functional.normalize(normals, dim=1)
    return points


def random_rotation(kind: Literal["none", "z", "so3"]) -> Tensor:
    """A random 3x3 rotation: identity, about the z axis, or uniform over all rotations."""
    if kind == "none":
        return torch.eye(3)
    if kind == "z":
        angle = torch.rand(()).item() * 2 * math.pi
        c, s = math.cos(angle), math.sin(angle)
        return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    q, r = torch.linalg.qr(torch.randn(3, 3))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.det(q) > 0 else -q


@dataclass
class PointReader:
    """A point-cloud, mesh or array file to normalised float32 `[num_points, 3 + 3 * len(features)]`.

    Without `augment` the resampling is the same on every call; with it, points are drawn afresh and
    the cloud is scaled, shifted, rotated (`rotate`) and jittered. `normalize=False` keeps the file's
    coordinates (ScanObjectNN's h5 files come normalised and Point-MAE reads them as they are).
    """

    modality: ClassVar[str] = "point"
    extensions: ClassVar[tuple[str, ...]] = POINT_EXTENSIONS

    num_points: int = 1024
    features: tuple[Feature, ...] = ()
    augment: bool = False
    rotate: Literal["none", "z", "so3"] = "none"
    jitter: float = 0.01
    mesh_points: int = 8192
    normalize: bool = True

    def __post_init__(self) -> None:
        self.features = tuple(self.features)

    def __call__(self, path: str | Path) -> Tensor:
        points = load_points(path, self.features, self.mesh_points)
        with reading(path):
            return self.process(points)

    def process(self, points: Tensor) -> Tensor:
        """Normalise (if `normalize`), resample and augment (if `augment`) a loaded cloud `[N, 3 + c]`."""
        generator = None if self.augment else torch.Generator().manual_seed(0)
        points = resample(normalize_points(points) if self.normalize else points, self.num_points, generator)
        if self.augment:
            normals_at = 3 + 3 * self.features.index("normals") if "normals" in self.features else None
            points = augment_points(points, rotate=self.rotate, jitter=self.jitter, normals_at=normals_at)
        return points
