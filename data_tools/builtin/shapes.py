"""Shapes: ten kinds of mesh primitive with random proportions, pose and noise, sampled to point clouds.

Always available (Open3D makes the meshes). Each cloud is stored as `.npz` with `points` and `normals`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from data_tools.open3d_quiet import o3d
from data_tools.points import sample_mesh
from data_tools.registry import register

Mesh = o3d.geometry.TriangleMesh
SHAPES: dict[str, Callable[[np.random.Generator], Mesh]] = {
    "arrow": lambda r: Mesh.create_arrow(r.uniform(0.05, 0.15), r.uniform(0.15, 0.3), r.uniform(0.4, 1), 0.3),
    "box": lambda r: Mesh.create_box(*r.uniform(0.3, 1.0, 3)),
    "cone": lambda r: Mesh.create_cone(r.uniform(0.2, 0.6), r.uniform(0.5, 1.2)),
    "cylinder": lambda r: Mesh.create_cylinder(r.uniform(0.2, 0.6), r.uniform(0.4, 1.5)),
    "icosahedron": lambda r: Mesh.create_icosahedron(r.uniform(0.5, 1)),
    "mobius": lambda r: Mesh.create_mobius(twists=int(r.integers(1, 3)), width=r.uniform(0.3, 0.8)),
    "octahedron": lambda r: Mesh.create_octahedron(r.uniform(0.5, 1)),
    "sphere": lambda r: Mesh.create_sphere(r.uniform(0.3, 1)),
    "tetrahedron": lambda r: Mesh.create_tetrahedron(r.uniform(0.5, 1)),
    "torus": lambda r: Mesh.create_torus(1.0, r.uniform(0.15, 0.5)),
}
PER_CLASS = {"tiny": (8, 2), "default": (200, 50)}  # (train, val) clouds per shape
STORED_POINTS = {"tiny": 512, "default": 2048}


def make_cloud(kind: str, num_points: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random `kind` stretched up to 1.3x per axis, turned at random, sampled with 0.5% noise."""
    mesh = SHAPES[kind](rng)
    mesh.vertices = o3d.utility.Vector3dVector(np.asarray(mesh.vertices) * rng.uniform(0.77, 1.3, 3))
    mesh.rotate(Rotation.random(random_state=rng).as_matrix(), center=(0, 0, 0))
    cloud = sample_mesh(mesh, num_points, seed=int(rng.integers(2**31)))
    points = np.asarray(cloud.points)
    points = points + rng.normal(0, 0.005 * np.abs(points).max(), points.shape)
    return points.astype(np.float32), np.asarray(cloud.normals, dtype=np.float32)


@register(
    "shapes",
    modality="point",
    num_classes=len(SHAPES),
    description="10 kinds of mesh primitive at random proportions and poses (2,000 train / 500 val "
    "clouds of 2,048 points with normals; tiny 80 / 20 of 512)",
    needs="nothing beyond open3d",
    version=2,  # 2: open3d's surface sampling seeded, so every build draws the same clouds
    defaults={"num_points": 1024},
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    num_train, num_val = PER_CLASS[size]
    rng = np.random.default_rng(0)
    jobs = [
        (split, kind, i) for kind in SHAPES for split, n in (("train", num_train), ("val", num_val)) for i in range(n)
    ]
    for split, kind, i in tqdm(jobs, desc="shapes", unit="cloud"):
        points, normals = make_cloud(kind, STORED_POINTS[size], rng)
        (dest / split / kind).mkdir(parents=True, exist_ok=True)
        np.savez(dest / split / kind / f"{i:04d}.npz", points=points, normals=normals)
    return {"num_points": 256} if size == "tiny" else {}
