"""Part shapes: seven kinds of object assembled from mesh primitives, each primitive a labelled part.

Written in ShapeNetPart's layout (see :mod:`data_tools.shapenet_part`) and read back by its
reader: one ``.txt`` per cloud (xyz, normal, part id), ``synsetoffset2category.txt``,
``train_test_split/shuffled_{train,val}_file_list.json``, plus ``category_parts.json``. Every
instance draws its proportions (each size 0.8-1.25x), is turned about the vertical axis and
sampled over the parts' surfaces by area (at least 16 points a part), with 0.5% noise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import open3d as o3d
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from data_tools.points import sample_mesh
from data_tools.registry import register
from data_tools.shapenet_part import ShapeNetPartDataset

Mesh = o3d.geometry.TriangleMesh
Part = list[Mesh]  # the primitives of one part


def _placed(mesh: Mesh, at: tuple[float, float, float], turn: tuple[float, float, float] = (0, 0, 0)) -> Mesh:
    """``mesh`` turned by Euler angles ``turn`` (xyz, radians) about its centre, then moved to ``at``."""
    mesh.rotate(Rotation.from_euler("xyz", turn).as_matrix(), center=mesh.get_center())
    return mesh.translate(at, relative=False)


def mug(s: Callable[[float], float]) -> list[Part]:
    r, h = s(0.4), s(1.0)
    handle = _placed(Mesh.create_torus(s(0.25), s(0.06)), (r + s(0.15), 0, h / 2), (np.pi / 2, 0, 0))
    return [[_placed(Mesh.create_cylinder(r, h), (0, 0, h / 2))], [handle]]


def table(s: Callable[[float], float]) -> list[Part]:
    w, d, h = s(1.6), s(1.0), s(0.7)
    top = _placed(Mesh.create_box(w, d, s(0.08)), (0, 0, h))
    legs = [
        _placed(Mesh.create_cylinder(s(0.05), h), (x * w * 0.42, y * d * 0.4, h / 2)) for x in (-1, 1) for y in (-1, 1)
    ]
    return [[top], legs]


def lamp(s: Callable[[float], float]) -> list[Part]:
    h = s(1.0)
    base = _placed(Mesh.create_cylinder(s(0.35), s(0.08)), (0, 0, 0.04))
    pole = _placed(Mesh.create_cylinder(s(0.03), h), (0, 0, h / 2))
    shade = _placed(Mesh.create_cone(s(0.35), s(0.4)), (0, 0, h), (np.pi, 0, 0))
    return [[base], [pole], [shade]]


def rocket(s: Callable[[float], float]) -> list[Part]:
    r, h = s(0.2), s(1.2)
    body = _placed(Mesh.create_cylinder(r, h), (0, 0, h / 2))
    nose = _placed(Mesh.create_cone(r, s(0.4)), (0, 0, h + s(0.2) * 0.5))
    fins = [
        _placed(
            Mesh.create_box(s(0.3), s(0.03), s(0.35)), (r * np.cos(a) * 1.6, r * np.sin(a) * 1.6, s(0.17)), (0, 0, a)
        )
        for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)
    ]
    return [[body], [nose], fins]


def chair(s: Callable[[float], float]) -> list[Part]:
    w, h = s(0.8), s(0.5)
    seat = _placed(Mesh.create_box(w, w, s(0.08)), (0, 0, h))
    back = _placed(Mesh.create_box(w, s(0.08), s(0.7)), (0, -w / 2, h + s(0.35)))
    legs = [
        _placed(Mesh.create_cylinder(s(0.04), h), (x * w * 0.42, y * w * 0.42, h / 2)) for x in (-1, 1) for y in (-1, 1)
    ]
    arms = [_placed(Mesh.create_box(s(0.06), w, s(0.06)), (x * w / 2, 0, h + s(0.25))) for x in (-1, 1)]
    return [[seat], [back], legs, arms]


def airplane(s: Callable[[float], float]) -> list[Part]:
    length, r = s(2.0), s(0.15)
    body = _placed(Mesh.create_cylinder(r, length), (0, 0, 0), (0, np.pi / 2, 0))
    wings = _placed(Mesh.create_box(s(0.5), s(2.2), s(0.04)), (0, 0, 0))
    tail = [
        _placed(Mesh.create_box(s(0.3), s(0.04), s(0.4)), (-length / 2 + s(0.15), 0, s(0.2))),
        _placed(Mesh.create_box(s(0.25), s(0.8), s(0.03)), (-length / 2 + s(0.12), 0, s(0.02))),
    ]
    engines = [
        _placed(Mesh.create_cylinder(s(0.08), s(0.4)), (s(0.05), y * s(0.6), -s(0.12)), (0, np.pi / 2, 0))
        for y in (-1, 1)
    ]
    return [[body], [wings], tail, engines]


def snowman(s: Callable[[float], float]) -> list[Part]:
    r1, r2, r3 = s(0.5), s(0.35), s(0.25)
    z1, z2, z3 = r1, 2 * r1 + r2 * 0.8, 2 * r1 + 1.6 * r2 + r3 * 0.8
    nose = _placed(Mesh.create_cone(s(0.05), s(0.2)), (r3 + s(0.05), 0, z3), (0, np.pi / 2, 0))
    hat = _placed(Mesh.create_cylinder(r3 * 0.8, s(0.3)), (0, 0, z3 + r3 + s(0.1)))
    arms = [
        _placed(Mesh.create_cylinder(s(0.025), s(0.6)), (0, y * (r2 + s(0.25)), z2), (np.pi / 2 - y * 0.5, 0, 0))
        for y in (-1, 1)
    ]
    spheres = [[_placed(Mesh.create_sphere(r), (0, 0, z))] for r, z in ((r1, z1), (r2, z2), (r3, z3))]
    return [*spheres, [nose], [hat], arms]


CATEGORIES: dict[str, Callable[[Callable[[float], float]], list[Part]]] = {
    "Airplane": airplane, "Chair": chair, "Lamp": lamp, "Mug": mug, "Rocket": rocket, "Snowman": snowman,
    "Table": table,
}  # fmt: skip
PART_COUNTS = {"Airplane": 4, "Chair": 4, "Lamp": 3, "Mug": 2, "Rocket": 3, "Snowman": 6, "Table": 2}
PER_CATEGORY = {"tiny": (6, 2), "default": (150, 30)}  # (train, val) clouds per category
STORED_POINTS = {"tiny": 512, "default": 2048}
MIN_PART_POINTS = 16


def category_parts() -> dict[str, list[int]]:
    """Global part ids, numbered category by category in name order (as ShapeNetPart's)."""
    parts, next_id = {}, 0
    for name in CATEGORIES:
        parts[name] = list(range(next_id, next_id + PART_COUNTS[name]))
        next_id += PART_COUNTS[name]
    return parts


def make_cloud(name: str, num_points: int, rng: np.random.Generator) -> np.ndarray:
    """One random instance of the category ``name``: ``[num_points, 7]`` float32 rows of xyz, normal, part id."""
    parts = CATEGORIES[name](lambda size: size * rng.uniform(0.8, 1.25))
    meshes = [sum(part[1:], part[0]) if len(part) > 1 else part[0] for part in parts]
    areas = np.array([mesh.get_surface_area() for mesh in meshes])
    counts = MIN_PART_POINTS + rng.multinomial(num_points - MIN_PART_POINTS * len(meshes), areas / areas.sum())
    turn = Rotation.from_euler("z", rng.uniform(0, 2 * np.pi)).as_matrix()
    ids = category_parts()[name]
    rows = []
    for part_id, mesh, count in zip(ids, meshes, counts):
        cloud = sample_mesh(mesh, int(count), seed=int(rng.integers(2**31)))  # the same points in every build
        xyz, normals = np.asarray(cloud.points) @ turn.T, np.asarray(cloud.normals) @ turn.T
        rows.append(np.concatenate([xyz, normals, np.full((len(xyz), 1), part_id)], axis=1))
    table = np.concatenate(rows)
    table[:, :3] += rng.normal(0, 0.005 * np.abs(table[:, :3]).max(), (len(table), 3))
    return table.astype(np.float32)


@register(
    "part_shapes",
    modality="point",
    num_classes=sum(PART_COUNTS.values()),
    description="7 kinds of object built from mesh primitives, 2-6 labelled parts each (24 part ids), "
    "ShapeNetPart layout (1,050 train / 210 val clouds of 2,048 points; tiny 42 / 14 of 512)",
    needs="nothing beyond open3d",
    version=2,  # 2: open3d's surface sampling seeded, so every build draws the same clouds
    defaults={"num_points": 2048},
    task="part_segmentation",
    reader=ShapeNetPartDataset,
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    num_train, num_val = PER_CATEGORY[size]
    rng = np.random.default_rng(0)
    synsets = {name: f"{9000 + i:08d}" for i, name in enumerate(CATEGORIES)}
    (dest / "synsetoffset2category.txt").write_text("".join(f"{name}\t{synsets[name]}\n" for name in CATEGORIES))
    (dest / "category_parts.json").write_text(json.dumps(category_parts(), indent=1))
    lists: dict[str, list[str]] = {"train": [], "val": []}
    jobs = [
        (split, name, i)
        for name in CATEGORIES
        for split, n in (("train", num_train), ("val", num_val))
        for i in range(n)
    ]
    for split, name, i in tqdm(jobs, desc="part_shapes", unit="cloud"):
        shape = f"{split}_{i:04d}"
        folder = dest / synsets[name]
        folder.mkdir(exist_ok=True)
        np.savetxt(folder / f"{shape}.txt", make_cloud(name, STORED_POINTS[size], rng), fmt="%.6f")
        lists[split].append(f"shape_data/{synsets[name]}/{shape}")
    (dest / "train_test_split").mkdir()
    for split, entries in lists.items():
        order = rng.permutation(len(entries))
        (dest / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps([entries[i] for i in order])
        )
    return {"num_points": 512} if size == "tiny" else {}
