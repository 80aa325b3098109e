"""A small reader for VRML 2.0 meshes (`.wrl`): the IndexedFaceSets, as KiCad's 3D models have them.

It reads each IndexedFaceSet's `coord Coordinate { point [...] }` and `coordIndex [...]`, splits
polygons into triangle fans and merges all faces into one mesh. Transform nodes, USE'd coordinates and
other geometry nodes are not read (KiCad's exported models use none of them).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from data_tools.errors import DataFileError, check_file, reading
from data_tools.open3d_quiet import o3d

_FACE_SET = re.compile(r"\bIndexedFaceSet\b")
_POINTS = re.compile(r"\bcoord\s+(?:DEF\s+\S+\s+)?Coordinate\s*\{\s*point\s*\[([^\]]*)\]")
_INDICES = re.compile(r"\bcoordIndex\s*\[([^\]]*)\]")
_COMMENT = re.compile(r"#[^\n]*")


def _numbers(text: str, dtype: type) -> np.ndarray:
    return np.array(text.replace(",", " ").split(), dtype=dtype)


def triangulate(indices: np.ndarray) -> np.ndarray:
    """Triangles `[M, 3]` from coordIndex polygons each ended by -1 (fans from each first vertex)."""
    if indices.size and indices[-1] != -1:
        indices = np.append(indices, -1)
    ends = np.flatnonzero(indices == -1)
    if np.all(np.diff(ends, prepend=-1) == 4):  # all triangles already
        return indices.reshape(-1, 4)[:, :3]
    triangles = []
    for polygon in np.split(indices, ends + 1)[:-1]:
        polygon = polygon[:-1]
        triangles += [(polygon[0], polygon[i], polygon[i + 1]) for i in range(1, len(polygon) - 1)]
    return np.array(triangles, dtype=np.int64).reshape(-1, 3)


def read_vrml_mesh(path: str | Path) -> o3d.geometry.TriangleMesh:
    """All IndexedFaceSets of a VRML file as one Open3D triangle mesh."""
    path = check_file(path, (".wrl",))
    with reading(path):
        text = _COMMENT.sub("", path.read_text(errors="replace"))
        vertices, triangles, offset = [], [], 0
        for block in _FACE_SET.split(text)[1:]:
            points, indices = _POINTS.search(block), _INDICES.search(block)
            if points is None or indices is None:
                continue
            block_vertices = _numbers(points.group(1), np.float64).reshape(-1, 3)
            block_triangles = triangulate(_numbers(indices.group(1), np.int64))
            if block_triangles.size and block_triangles.max() >= len(block_vertices):
                raise DataFileError(path, "a coordIndex points past its coordinates")
            vertices.append(block_vertices)
            triangles.append(block_triangles + offset)
            offset += len(block_vertices)
    if not triangles or offset == 0:
        raise DataFileError(path, "has no IndexedFaceSet with coordinates and faces")
    mesh = o3d.geometry.TriangleMesh()
    mesh.vertices = o3d.utility.Vector3dVector(np.concatenate(vertices))
    mesh.triangles = o3d.utility.Vector3iVector(np.concatenate(triangles).astype(np.int32))
    return mesh
