import json
import shutil

import pytest
import torch

from data_tools import AudioListDataset, DataFileError, build_dataset, list_datasets, read_class_index
from tests.data_tools.conftest import write_sine

HAS_SPEECH = shutil.which("espeak-ng") is not None and shutil.which("flite") is not None
CSV = 'index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/05zppz,"Male speech, man speaking"\n2,/m/0ytgt,"Child"\n'


def write_list(root, entries):
    (root / "class_labels_indices.csv").write_text(CSV)
    (root / "train.json").write_text(json.dumps({"data": entries}))
    return root / "train.json", root / "class_labels_indices.csv"


def test_class_index_with_quoted_names(tmp_path):
    (tmp_path / "classes.csv").write_text(CSV)
    mids, names = read_class_index(tmp_path / "classes.csv")
    assert mids == ["/m/09x0r", "/m/05zppz", "/m/0ytgt"] and names[1] == "Male speech, man speaking"


def test_reads_audiomae_lists(tmp_path):
    write_sine(tmp_path / "clips" / "a.wav")
    write_sine(tmp_path / "b.wav", rate=8000, hz=220)
    entries = [
        {"wav": "clips/a.wav", "labels": "/m/09x0r,/m/0ytgt"},
        {"wav": str(tmp_path / "b.wav"), "labels": "/m/05zppz"},
    ]
    dataset = AudioListDataset(*write_list(tmp_path, entries), target_length=64)
    assert len(dataset) == 2 and dataset.classes[2] == "Child"
    assert dataset.targets.tolist() == [[1, 0, 1], [0, 1, 0]]
    x, target = dataset[1]
    assert x.shape == (1, 64, 128) and x.dtype == torch.float32 and target.tolist() == [0, 1, 0]


def test_a_label_missing_from_the_csv_names_the_list(tmp_path):
    entries = [{"wav": "a.wav", "labels": "/m/09x0r"}, {"wav": "b.wav", "labels": "/m/09x0r,/m/zzz"}]
    with pytest.raises(DataFileError, match=r"train\.json.*entry 1 \(b\.wav\) has the label '/m/zzz'"):
        AudioListDataset(*write_list(tmp_path, entries))


def test_malformed_lists_and_csvs_are_named(tmp_path):
    json_path, csv_path = write_list(tmp_path, [{"wav": "a.wav"}])
    with pytest.raises(DataFileError, match=r"train\.json.*entry 0.*expected wav and labels"):
        AudioListDataset(json_path, csv_path)
    json_path.write_text('[{"wav": "a.wav", "labels": ""}]')
    with pytest.raises(DataFileError, match=r'train\.json.*expected \{"data"'):
        AudioListDataset(json_path, csv_path)
    csv_path.write_text("id,name\n0,x\n")
    with pytest.raises(DataFileError, match=r"class_labels_indices\.csv.*index,mid,display_name"):
        read_class_index(csv_path)
    json_path.write_text(json.dumps({"data": [{"wav": "missing.wav", "labels": ""}]}))
    (tmp_path / "class_labels_indices.csv").write_text(CSV)
    with pytest.raises(DataFileError, match=r"missing\.wav.*no such file"):
        AudioListDataset(json_path, csv_path)[0]


@pytest.mark.skipif(not HAS_SPEECH, reason="espeak-ng and flite are not installed")
def test_tiny_digit_mixtures_builtin(cache):
    info = next(info for info in list_datasets() if info.name == "digit_mixtures")
    assert info.task == "multilabel" and info.modality == "audio" and info.num_classes == 10
    train, val = (build_dataset("digit_mixtures", split, size="tiny", root=cache) for split in ("train", "val"))
    assert len(train) == 40 and len(val) == 10 and train.classes == ["zero", "one", "two", "three", "four",
        "five", "six", "seven", "eight", "nine"]  # fmt: skip
    counts = train.targets.sum(dim=1)
    assert counts.min() == 1 and counts.max() == 3 and set(counts.tolist()) == {1.0, 2.0, 3.0}
    x, target = train[0]
    assert x.shape == (1, 128, 128) and x.isfinite().all() and torch.equal(target, train.targets[0])
