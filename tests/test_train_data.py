"""A run's datasets: splits read without augmentation are read once per process and kept."""

import pytest
import torch
from torch.utils.data import Dataset, Subset

from m2pt.train.config import DataConfig
from m2pt.train.data import KeptItems, build_data
from m2pt.train.run_task import whole


class CountedReads(Dataset):
    """``[4]`` float32 items (16 bytes each) that count how often each is read."""

    classes = ["a", "b"]
    targets = torch.zeros(5, 2)

    def __init__(self) -> None:
        self.reads = [0] * 5

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int):
        self.reads[index] += 1
        return torch.full((4,), float(index)), index % 2


def test_kept_items_are_read_once_and_given_back_unchanged():
    items = KeptItems(CountedReads(), budget=10_000)
    first = [items[i] for i in range(5)]
    again = [items[i] for i in range(5)]
    assert items.dataset.reads == [1] * 5
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(first, again, strict=True))
    assert items.held == 5 * 16


def test_kept_items_stop_keeping_at_their_budget():
    items = KeptItems(CountedReads(), budget=2 * 16)
    for _ in range(3):
        for i in range(5):
            items[i]
    assert items.dataset.reads == [1, 1, 3, 3, 3]
    assert items.held == 32


def test_kept_items_show_the_dataset_s_attributes():
    items = KeptItems(CountedReads(), budget=100)
    assert items.classes == ["a", "b"] and items.targets.shape == (5, 2) and len(items) == 5
    with pytest.raises(AttributeError):
        _ = items.missing


@pytest.mark.parametrize("augment, kept", [(False, True), (True, False)])
def test_a_run_keeps_the_splits_it_reads_without_augmentation(tmp_path, monkeypatch, augment, kept):
    monkeypatch.setenv("M2PT_CACHE", str(tmp_path))
    config = DataConfig(dataset="mnist", size="tiny", train_limit=8, options={"augment": augment})
    data = build_data(config)
    assert isinstance(data.train, Subset)  # the limit is taken from the kept whole split
    assert isinstance(whole(data.train), KeptItems) is kept
    assert isinstance(data.val, KeptItems)
    assert not isinstance(whole(build_data(DataConfig(dataset="mnist", size="tiny", keep_in_memory_mb=0)).train),
                          KeptItems)  # fmt: skip
