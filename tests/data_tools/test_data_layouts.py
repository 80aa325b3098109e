"""The upstream layouts, on small files each test writes in exactly that layout."""

import h5py
import numpy as np
import pytest
import torch
from conftest import counting_frames, write_video

from data_tools import DataFileError, LayoutInfo, build_dataset, dataset_dir, list_datasets
from data_tools.layouts.scanobjectnn import CLASSES, HARDEST


def test_layouts_are_listed_with_their_modality():
    layouts = {info.name: info for info in list_datasets() if isinstance(info, LayoutInfo)}
    assert {name: info.modality for name, info in layouts.items()} == {
        "kinetics_list": "video",
        "scanobjectnn": "point",
        "modelnet": "point",
        "shapenet_part": "point",
        "ade20k": "image",
        "audioset_list": "audio",
    }
    with pytest.raises(ValueError, match="needs root="):
        build_dataset("modelnet", "train")
    with pytest.raises(KeyError, match="reads your own files"):
        dataset_dir("scanobjectnn")


# VideoMAE's Kinetics lists: <data_path>/{train,val}.csv, "<path> <label>" per line


@pytest.fixture
def kinetics(tmp_path):
    """`lists/train.csv`, `lists/val.csv` and their videos under `videos/<class>/`, one with a space in its name."""
    videos = tmp_path / "videos"
    for k, name in enumerate(("abseiling", "air drumming", "zumba")):
        (videos / name).mkdir(parents=True)
        for i in range(2):
            write_video(videos / name / f"clip{i}.mp4", counting_frames(12 + 4 * k, 32, 32), fps=10)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.csv").write_text(
        "abseiling/clip0.mp4 0\nair drumming/clip0.mp4 1\n\nzumba/clip0.mp4 2\n" + f"{videos}/abseiling/clip1.mp4 0\n"
    )
    (lists / "val.csv").write_text("air drumming/clip1.mp4 1\nzumba/clip1.mp4 2\n")
    return lists, videos


def test_kinetics_lists_read_videos_and_labels(kinetics):
    lists, videos = kinetics
    options = {"root": lists, "data_root": videos, "num_frames": 4, "stride": 2, "size": 16}
    train, val = (build_dataset("kinetics_list", split, **options) for split in ("train", "val"))
    assert train.modality == "video" and train.classes == val.classes == ["0", "1", "2"]
    assert [(path.relative_to(videos).as_posix(), label) for path, label in train.samples] == [
        ("abseiling/clip0.mp4", 0),
        ("air drumming/clip0.mp4", 1),
        ("zumba/clip0.mp4", 2),
        ("abseiling/clip1.mp4", 0),
    ]
    x, label = val[1]
    assert x.shape == (3, 4, 16, 16) and x.dtype == torch.float32 and label == 2
    assert build_dataset("kinetics_list", "val", num_classes=400, **options).classes[-1] == "399"


def test_kinetics_list_errors_name_the_list_and_line(kinetics, tmp_path):
    lists, videos = kinetics
    with pytest.raises(DataFileError, match="val.csv.*no such file") as error:
        build_dataset("kinetics_list", "val", root=tmp_path / "elsewhere")
    assert error.value.path == tmp_path / "elsewhere" / "val.csv"
    (lists / "val.csv").write_text("zumba/clip1.mp4 2\nzumba/clip0.mp4\nzumba/clip1.mp4 x\n")
    with pytest.raises(DataFileError, match=r"val.csv': line 2: expected '<video path> <integer label>'"):
        build_dataset("kinetics_list", "val", root=lists, data_root=videos)
    (lists / "val.csv").write_text("zumba/clip1.mp4 2\n")
    with pytest.raises(ValueError, match="label 2 but num_classes=2"):
        build_dataset("kinetics_list", "val", root=lists, data_root=videos, num_classes=2)


def test_kinetics_missing_or_broken_videos_are_skippable(kinetics):
    lists, videos = kinetics
    (videos / "zumba" / "clip0.mp4").unlink()
    (videos / "abseiling" / "clip1.mp4").write_bytes(b"not a video" * 100)
    options = {"root": lists, "data_root": videos, "num_frames": 4, "stride": 2, "size": 16}
    strict = build_dataset("kinetics_list", "train", **options)
    with pytest.raises(DataFileError, match="zumba/clip0.mp4.*no such file"):
        strict[2]
    lenient = build_dataset("kinetics_list", "train", on_error="skip", **options)
    with pytest.warns(UserWarning, match="skipping"):
        labels = [lenient[i][1] for i in range(len(lenient))]
    assert labels == [0, 1, 0, 0]  # each bad one replaced by the next readable clip
    assert sorted(path.name for path, _ in lenient.skipped) == ["clip0.mp4", "clip1.mp4"]


# Point-MAE's ScanObjectNN: main_split/{training,test}_objectdataset_augmentedrot_scale75.h5


def write_scanobjectnn(folder, variant=HARDEST, count=(30, 12), label_shape="flat"):
    """The two h5 files of a variant, as in the release: data [N, 2048, 3] float32, label, and mask."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in zip(("training", "test"), count, strict=True):
        data = rng.uniform(-1, 1, (n, 2048, 3)).astype(np.float32)
        labels = (np.arange(n) % len(CLASSES)).astype(np.int64)
        with h5py.File(folder / f"{prefix}_{variant}.h5", "w") as file:
            file["data"] = data
            file["label"] = labels if label_shape == "flat" else labels[:, None]
            file["mask"] = np.zeros((n, 2048), np.int64)
        arrays[prefix] = (data, labels)
    return arrays


@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_scanobjectnn_hardest_variant(tmp_path, label_shape):
    root = tmp_path / "ScanObjectNN" / "main_split"
    arrays = write_scanobjectnn(root, label_shape=label_shape)
    train = build_dataset("scanobjectnn", "train", root=root, num_points=2048, normalize=False)
    val = build_dataset("scanobjectnn", "val", root=root, num_points=1024)
    assert train.classes == list(CLASSES) and len(CLASSES) == 15 and train.modality == "point"
    assert len(train) == 30 and len(val) == 12
    data, labels = arrays["training"]
    x, label = train[17]
    assert x.shape == (2048, 3) and label == labels[17] == 2
    assert torch.equal(x[x[:, 0].argsort()], torch.from_numpy(data[17][data[17][:, 0].argsort()]))  # the same points
    points, _ = val[3]
    assert points.shape == (1024, 3) and points.norm(dim=1).max() == pytest.approx(1.0)  # normalised by default


def test_scanobjectnn_other_variants_and_folders(tmp_path):
    write_scanobjectnn(tmp_path / "main_split_nobg", variant="objectdataset", count=(16, 5))
    only = build_dataset("scanobjectnn", "val", root=tmp_path / "main_split_nobg", variant="objectdataset")
    assert len(only) == 5 and only[0][0].shape == (1024, 3)
    with pytest.raises(DataFileError, match=f"test_{HARDEST}.h5': no such file.*test_objectdataset.h5"):
        build_dataset("scanobjectnn", "val", root=tmp_path / "main_split_nobg")


def test_scanobjectnn_bad_files_name_the_file(tmp_path):
    root = tmp_path / "main_split"
    write_scanobjectnn(root)
    path = root / f"training_{HARDEST}.h5"
    with h5py.File(path, "r+") as file:
        file["data"][4, 100, 1] = np.nan
    strict = build_dataset("scanobjectnn", "train", root=root)
    with pytest.raises(DataFileError, match="sample 4 has NaN or infinite coordinates") as error:
        strict[4]
    assert error.value.path == path
    lenient = build_dataset("scanobjectnn", "train", root=root, on_error="skip")
    with pytest.warns(UserWarning, match="sample 4"):
        assert lenient[4][1] == 5  # the next sample instead
    assert lenient.skipped == [(4, "sample 4 has NaN or infinite coordinates")]
    with h5py.File(path, "r+") as file:
        del file["label"]
    with pytest.raises(DataFileError, match="has no dataset label"):
        build_dataset("scanobjectnn", "train", root=root)
    path.write_bytes(b"not hdf5" * 100)
    with pytest.raises(DataFileError) as error:
        build_dataset("scanobjectnn", "train", root=root)
    assert error.value.path == path
    with pytest.raises(ValueError, match="xyz only"):
        build_dataset("scanobjectnn", "val", root=root, features=["normals"])


# Point-MAE's ModelNet40: modelnet40_normal_resampled/ with the class and split lists


def write_modelnet(root, classes=("airplane", "night_stand", "vase"), per_class=(3, 1)):
    """Class names, split lists and `<class>/<class>_0001.txt` files of 'x,y,z,nx,ny,nz' lines."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    (root / "modelnet40_shape_names.txt").write_text("\n".join(classes) + "\n")
    clouds = {}
    splits = {"train": [], "test": []}
    for name in classes:
        (root / name).mkdir()
        for i in range(sum(per_class)):
            shape = f"{name}_{i + 1:04d}"
            rows = np.concatenate([rng.normal(size=(300, 3)), rng.normal(size=(300, 3))], axis=1)
            (root / name / f"{shape}.txt").write_text("\n".join(",".join(f"{v:.6f}" for v in r) for r in rows) + "\n")
            splits["train" if i < per_class[0] else "test"].append(shape)
            clouds[shape] = rows
    for split, shapes in splits.items():
        (root / f"modelnet40_{split}.txt").write_text("\n".join(shapes) + "\n")
    return clouds


def test_modelnet_lists_and_text_clouds(tmp_path):
    root = tmp_path / "modelnet40_normal_resampled"
    write_modelnet(root)
    train = build_dataset("modelnet", "train", root=root, num_points=256, features=["normals"])
    val = build_dataset("modelnet", "val", root=root, num_points=256)
    assert train.classes == ["airplane", "night_stand", "vase"] and train.modality == "point"
    assert [label for _, label in train.samples] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [path.name for path, _ in val.samples] == ["airplane_0004.txt", "night_stand_0004.txt", "vase_0004.txt"]
    x, label = train[3]
    assert x.shape == (256, 6) and label == 1 and x[:, :3].norm(dim=1).max() == pytest.approx(1.0)
    assert val[0][0].shape == (256, 3)


def test_modelnet_errors_name_the_file_and_line(tmp_path):
    root = tmp_path / "modelnet40_normal_resampled"
    write_modelnet(root)
    with pytest.raises(DataFileError, match="modelnet10_shape_names.txt': no such file"):
        build_dataset("modelnet", "train", root=root, num_category=10)
    (root / "modelnet40_test.txt").write_text("airplane_0004\nsofa_0001\n")
    with pytest.raises(DataFileError, match=r"modelnet40_test.txt': line 2: expected a shape of one of the 3"):
        build_dataset("modelnet", "val", root=root)
    (root / "modelnet40_test.txt").write_text("airplane_0004\n\nairplane-4\n")
    with pytest.raises(DataFileError, match=r"modelnet40_test.txt': line 3: expected a shape id"):
        build_dataset("modelnet", "val", root=root)
    bad = root / "vase" / "vase_0002.txt"
    lines = bad.read_text().splitlines()
    lines[41] = "0.1,0.2,0.3,0.0,oops,1.0"
    bad.write_text("\n".join(lines))
    strict = build_dataset("modelnet", "train", root=root)
    with pytest.raises(DataFileError, match="line 42 is not comma-separated numbers") as error:
        strict[7]
    assert error.value.path == bad
    lines[41] = "0.1,nan,0.3,0.0,0.0,1.0"
    bad.write_text("\n".join(lines))
    lenient = build_dataset("modelnet", "train", root=root, on_error="skip")
    with pytest.warns(UserWarning, match="NaN"):
        items = [lenient[i] for i in range(len(lenient))]
    assert [label for _, label in items] == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # vase_0002 replaced by vase_0003
    assert [path for path, _ in lenient.skipped] == [bad]
