import torch

from data_tools import build_dataset, make_loader


def batches(loader):
    return [(x.clone(), y.clone()) for x, y in loader]


def same(first, second):
    return all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, second, strict=True))


def test_same_seed_same_order(cache):
    dataset = build_dataset("shapes", size="tiny", root=cache, num_points=32)
    first, second = (batches(make_loader(dataset, 16, seed=5)) for _ in range(2))
    assert same(first, second)
    assert not same(first, batches(make_loader(dataset, 16, seed=6)))
    assert sorted(torch.cat([y for _, y in first]).tolist()) == sorted(label for _, label in dataset.samples)


def test_batches_and_drop_last(cache):
    dataset = build_dataset("shapes", size="tiny", root=cache, num_points=32)
    loader = make_loader(dataset, 16, drop_last=True)
    shapes = [tuple(x.shape) for x, _ in loader]
    assert shapes == [(16, 32, 3)] * (len(dataset) // 16)
    assert not loader.pin_memory and not make_loader(dataset, 4, shuffle=False).pin_memory


def test_workers_draw_the_same_augmentations_for_the_same_seed(cache):
    dataset = build_dataset("shapes", size="tiny", root=cache, num_points=32, augment=True, rotate="so3")
    first, second = (batches(make_loader(dataset, 20, seed=1, num_workers=2)) for _ in range(2))
    assert same(first, second)
    assert not same(first, batches(make_loader(dataset, 20, seed=2, num_workers=2)))
