import shutil
import subprocess

import numpy as np
import pytest
import torch

from data_tools import READERS, DatasetInfo, MissingToolError, build_dataset, dataset_dir, list_datasets
from data_tools.builtin.kicad_parts import _sample, family, family_split
from data_tools.cache import build_once

HAS_SPEECH = shutil.which("espeak-ng") is not None and shutil.which("flite") is not None
TINY = {  # name: (item shape, number of classes)
    "mnist": ((1, 28, 28), 10),
    "spoken_digits": ((1, 128, 128), 10),
    "shapes": ((256, 3), 10),
    "moving_digits": ((1, 8, 32, 32), 10),
}


def test_list_datasets_describes_every_builtin():
    infos = {info.name: info for info in list_datasets() if isinstance(info, DatasetInfo)}
    assert set(infos) == {"mnist", "spoken_digits", "ktuberling", "shapes", "kicad_parts", "moving_digits"} | {
        "part_shapes",
        "digit_scenes",
        "digit_mixtures",
    }
    assert {info.modality for info in infos.values()} == set(READERS)  # every reader has a built-in set
    for info in infos.values():
        assert info.num_classes >= 10 and info.description and info.needs and "tiny" in info.sizes


@pytest.mark.parametrize("name", TINY)
def test_tiny_builtin_yields_documented_items(cache, name):
    if name == "spoken_digits" and not HAS_SPEECH:
        pytest.skip("espeak-ng and flite are not installed")
    info = next(info for info in list_datasets() if info.name == name)
    shape, num_classes = TINY[name]
    for split in ("train", "val"):
        dataset = build_dataset(name, split, size="tiny", root=cache)
        assert dataset.modality == info.modality and len(dataset.classes) == num_classes == info.num_classes
        assert sorted({label for _, label in dataset.samples}) == list(range(num_classes))
        x, label = dataset[len(dataset) - 1]
        assert x.shape == shape and x.dtype == torch.float32 and x.isfinite().all()
        assert isinstance(label, int) and 0 <= label < num_classes


def test_train_and_val_are_disjoint(cache):
    train, val = (build_dataset("mnist", split, size="tiny", root=cache) for split in ("train", "val"))
    assert len(train) == 80 and len(val) == 20
    assert not {path.name for path, _ in train.samples} & {path.name for path, _ in val.samples}
    pixels = torch.stack([train[i][0] for i in range(len(train))])
    assert abs(pixels.mean().item()) < 0.01 and pixels.std().item() == pytest.approx(1, abs=0.01)


def test_a_built_dataset_is_reused(cache):
    folder = dataset_dir("shapes", "tiny", cache)
    stamp = (folder / "meta.json").stat().st_mtime_ns
    build_dataset("shapes", size="tiny", root=cache)
    assert dataset_dir("shapes", "tiny", cache) == folder and (folder / "meta.json").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("name", ["shapes", "part_shapes"])
def test_a_dataset_sampled_from_meshes_is_the_same_in_every_build(tmp_path, name):
    first, second = (build_dataset(name, size="tiny", root=tmp_path / build) for build in ("a", "b"))
    assert len(first) == len(second) > 0
    for i in range(0, len(first), 7):  # a part-segmentation item's input is (points, category)
        a, b = (item[0] if isinstance(item[0], tuple) else (item[0],) for item in (first[i], second[i]))
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_options_override_defaults(cache):
    points = build_dataset("shapes", size="tiny", root=cache, num_points=64, features=["normals"])
    assert points[0][0].shape == (64, 6)
    images = build_dataset("mnist", size="tiny", root=cache, image_size=32)
    assert images[0][0].shape == (1, 32, 32)


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    def build(folder):
        (folder / "half.txt").write_text("half a dataset")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        build_once(tmp_path / "data", build)
    assert list(tmp_path.iterdir()) == []
    build_once(tmp_path / "data", lambda folder: (folder / "whole.txt").write_text("done"))
    assert [path.name for path in tmp_path.iterdir()] == ["data"]


def test_a_missing_tool_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    with pytest.raises(MissingToolError, match="espeak-ng not found: apt-get install espeak-ng"):
        build_dataset("spoken_digits", size="tiny", root=tmp_path / "cache")
    assert not any(path.name.startswith("spoken_digits") for path in (tmp_path / "cache").iterdir())


def test_unknown_names_and_sizes():
    with pytest.raises(KeyError, match="unknown dataset 'imagenet'"):
        build_dataset("imagenet")
    with pytest.raises(ValueError, match="has sizes"):
        build_dataset("shapes", size="huge")


def test_a_kicad_model_is_sampled_to_the_same_points_every_time(tmp_path):
    model = tmp_path / "R_Axial.wrl"
    model.write_text("#VRML V2.0 utf8\nShape { geometry IndexedFaceSet { coordIndex [0,1,2,3,-1]\n"
                     "coord Coordinate { point [0 0 0, 1 0 0, 1 1 0, 0 1 0] } }}\n")  # fmt: skip
    for name in ("a", "b"):
        _sample((model, tmp_path / f"{name}.npz"))
    first, second = (np.load(tmp_path / f"{name}.npz") for name in ("a", "b"))
    assert first["points"].shape == (2048, 3) and np.array_equal(first["points"], second["points"])


def test_kicad_families_never_straddle_the_split():
    stems = [f"DIP-{n}_W7.62mm{s}" for n in (8, 14, 16, 28) for s in ("", "_Socket")]
    stems += [f"SOIC-{n}_3.9x4.9mm_P1.27mm" for n in (8, 14)] + [f"QFN-{n}-1EP_4x4mm" for n in (16, 24, 32)]
    stems += [f"CP_Radial_D{d}mm_P2.50mm" for d in (4.0, 5.0, 6.3, 8.0, 10.0)]
    assert family("DIP-8_W7.62mm_Socket") == family("DIP-28_W15.24mm_Socket") == "DIP-#_W#mm_Socket"
    val = family_split(stems)
    assert 0 < len(val) <= round(0.2 * len(stems))
    assert not {family(s) for s in val} & {family(s) for s in stems if s not in val}
    assert family_split(list(reversed(stems))) == val


def apt_has(package):
    try:
        policy = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return False
    return "Candidate:" in policy and "Candidate: (none)" not in policy


@pytest.mark.slow
@pytest.mark.skipif(not apt_has("ktuberling-data"), reason="apt cannot download ktuberling-data here")
def test_ktuberling_tiny_real_recordings(tmp_path):
    train = build_dataset("ktuberling", size="tiny", root=tmp_path)
    assert len(train.classes) == 13 and len(train) == 104
    x, label = train[0]
    assert x.shape == (1, 256, 128) and x.dtype == torch.float32 and isinstance(label, int)
