"""KiCad parts: real CAD models of electronic parts (Debian's kicad-packages3d), ten library classes.

Near-duplicates (the same part in other sizes or pin counts) share a family, the file name with its
numbers blanked ("DIP-#_W#mm_Socket"); whole families go to train or val, never both. The package
(379 MB, CC-BY-SA-4.0) is downloaded into the cache, not installed, and only the ten classes' VRML
models are extracted; each model is sampled to 2,048 points with normals, stored as `.npz`.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from data_tools.cache import apt_deb
from data_tools.folder import split_key
from data_tools.points import sample_mesh
from data_tools.registry import register
from data_tools.vrml import read_vrml_mesh

CLASSES = (
    "Capacitor_THT", "Crystal", "Diode_THT", "Inductor_THT", "LED_THT",
    "Package_BGA", "Package_DFN_QFN", "Package_DIP", "Package_SO", "Resistor_THT",
)  # fmt: skip
MODELS = "./usr/share/kicad/3dmodels"
PER_CLASS = {"tiny": 12, "default": None}  # None: all
STORED_POINTS = 2048


def family(stem: str) -> str:
    """A part's family: its name with every number replaced by '#'."""
    return re.sub(r"\d+(\.\d+)?", "#", stem)


def family_split(stems: list[str], val_fraction: float = 0.2, seed: int = 0) -> set[str]:
    """The stems for val: whole families in hash order, each that still fits in `val_fraction` of all."""
    families: dict[str, list[str]] = {}
    for stem in sorted(stems):
        families.setdefault(family(stem), []).append(stem)
    budget = round(val_fraction * len(stems))
    val: set[str] = set()
    for name in sorted(families, key=lambda name: split_key(name, seed)):
        if len(val) + len(families[name]) <= budget:
            val.update(families[name])
    return val


def _sample(job: tuple[Path, Path]) -> None:
    """Sample the model ``source`` to ``out``: the same points in every build (seeded by its file name)."""
    source, out = job
    cloud = sample_mesh(read_vrml_mesh(source), STORED_POINTS, seed=int(split_key(source.name, 0)[:7], 16))
    np.savez(out, points=np.asarray(cloud.points, np.float32), normals=np.asarray(cloud.normals, np.float32))


@register(
    "kicad_parts",
    modality="point",
    num_classes=len(CLASSES),
    description="real CAD models of electronic parts in 10 KiCad library classes, split by part family "
    "(1,278 train / 319 val clouds of 2,048 points with normals; tiny 12 models a class)",
    needs="apt-get and dpkg-deb (downloads the 379 MB package kicad-packages3d into the cache, no install); "
    "a few minutes",
    version=2,  # 2: open3d's surface sampling seeded by each model's file name, so every build draws the same clouds
    defaults={"num_points": 1024},
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    deb = apt_deb("kicad-packages3d", cache)
    with tempfile.TemporaryDirectory() as tmp:
        patterns = [f"{MODELS}/{name}.3dshapes/*.wrl" for name in CLASSES]
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", tmp, "--wildcards", *patterns], stdin=tar.stdout, check=True)
        tar.wait()
        jobs = []
        for name in CLASSES:
            stems = sorted(path.stem for path in (Path(tmp) / MODELS / f"{name}.3dshapes").glob("*.wrl"))
            stems = sorted(stems, key=lambda stem: split_key(stem, 0))[: PER_CLASS[size]]
            val = family_split(stems)
            for stem in stems:
                folder = dest / ("val" if stem in val else "train") / name
                folder.mkdir(parents=True, exist_ok=True)
                jobs.append((Path(tmp) / MODELS / f"{name}.3dshapes" / f"{stem}.wrl", folder / f"{stem}.npz"))
        with ProcessPoolExecutor(os.cpu_count() or 2) as pool:
            list(tqdm(pool.map(_sample, jobs, chunksize=8), total=len(jobs), desc="kicad_parts", unit="model"))
    return {"num_points": 256} if size == "tiny" else {}
