import math
import shutil

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import data_tools
from m2pt import build_model, cross_modal_layers, load_pretrained, merge, reparameterize
from m2pt.ops import farthest_point_sample, gather_points
from m2pt.tasks import (
    TASKS,
    class_balanced_sampler,
    class_balanced_weights,
    get_task,
    propagate_features,
    to_device,
)

HAS_SPEECH = shutil.which("espeak-ng") is not None and shutil.which("flite") is not None
PARTS = [[0, 1], [2, 3, 4]]  # two categories: parts 0-1 and 2-4


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def one_hot_logits(prediction: torch.Tensor, num_classes: int, dim: int) -> torch.Tensor:
    """Logits whose argmax along ``dim`` is ``prediction``."""
    return torch.nn.functional.one_hot(prediction, num_classes).float().movedim(-1, dim)


def meter_result(task, logits, inputs, target):
    meter = task.meter("cpu")
    meter.update(logits, inputs, target, task.criterion(logits, target))
    return meter.compute()


# --- the registry -----------------------------------------------------------------------------


def test_every_task_is_registered_with_a_primary_metric():
    assert set(TASKS) == {"classification", "multilabel", "part_segmentation", "semantic_segmentation"}
    for name, cls in TASKS.items():
        assert cls.name == name and cls.primary_metric in cls.metrics and "loss" in cls.metrics


def test_get_task_names_what_is_wrong():
    with pytest.raises(ValueError, match="unknown task 'detection'.*classification"):
        get_task("detection")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['smoothing'\].*label_smoothing"):
        get_task("classification", smoothing=0.1)
    with pytest.raises(ValueError, match="needs category_parts"):
        get_task("part_segmentation")
    with pytest.raises(ValueError, match="more than one category"):
        get_task("part_segmentation", category_parts=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="needs the point modality"):
        get_task("part_segmentation", category_parts=PARTS).build_model("image")
    with pytest.raises(ValueError, match="needs the image modality"):
        get_task("semantic_segmentation").build_model("point", num_classes=3)


def test_settings_rebuild_the_task():
    task = get_task("part_segmentation", category_parts=PARTS, use_category=False, hidden_dim=64)
    again = get_task(task.name, **task.settings())
    assert again == task and again.num_parts == 5


def test_to_device_moves_nested_inputs():
    batch = ((torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)), torch.ones(2))
    (points, category), target = to_device(batch, "meta")
    assert points.device.type == category.device.type == target.device.type == "meta"


# --- metrics on known inputs -------------------------------------------------------------------


def test_classification_accuracy_on_known_predictions():
    task = get_task("classification")
    target = torch.tensor([0, 1, 2, 2])
    result = meter_result(task, one_hot_logits(torch.tensor([0, 1, 1, 2]), 3, 1), None, target)
    assert result["acc"] == pytest.approx(0.75)


def test_multilabel_perfect_predictions_give_map_and_auc_1():
    task = get_task("multilabel")
    target = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [1, 1, 0, 0]]).float()  # class 3 never positive
    result = meter_result(task, target * 4 - 2, None, target)
    assert result["mAP"] == pytest.approx(1) and result["mAUC"] == pytest.approx(1)


def test_multilabel_known_ranking():
    task = get_task("multilabel")
    target = torch.tensor([[1, 1], [0, 0], [1, 0]]).float()
    scores = torch.tensor([[0.9, 0.8], [0.8, 0.1], [0.1, 0.2]]).logit()
    # class 0: positives ranked 1st and 3rd -> AP (1 + 2/3) / 2, AUC 1/2; class 1 ranked perfectly
    result = meter_result(task, scores, None, target)
    assert result["mAP"] == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
    assert result["mAUC"] == pytest.approx((0.5 + 1) / 2)


def test_semantic_segmentation_known_confusion():
    task = get_task("semantic_segmentation")
    target = torch.tensor([[[0, 0], [1, 1]], [[2, 2], [255, 255]]])  # the last two pixels are unlabelled
    perfect = torch.tensor([[[0, 0], [1, 1]], [[2, 2], [0, 1]]])
    result = meter_result(task, one_hot_logits(perfect, 3, 1), None, target)
    assert result["mIoU"] == pytest.approx(1) and result["pixel_acc"] == pytest.approx(1)
    confused = torch.tensor([[[0, 1], [1, 1]], [[2, 2], [0, 0]]])  # one background pixel called class 1
    result = meter_result(task, one_hot_logits(confused, 3, 1), None, target)
    assert result["mIoU"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert result["pixel_acc"] == pytest.approx(5 / 6)


def test_part_segmentation_mious_as_shapenet_part_defines_them():
    task = get_task("part_segmentation", category_parts=PARTS)
    category = torch.tensor([0, 1, 0])
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 2], [0, 0, 0, 0]])
    perfect = meter_result(task, one_hot_logits(target, 5, 2), (None, category), target)
    assert perfect["instance_mIoU"] == pytest.approx(1) and perfect["class_mIoU"] == pytest.approx(1)
    # shape 0: part 0 IoU 1/2, part 1 IoU 2/3; shape 1 right (its absent parts 3 and 4 count 1);
    # shape 2 all wrong. A part of another category (4 for shape 0) is never predicted.
    logits = one_hot_logits(torch.tensor([[0, 4, 1, 1], [2, 2, 2, 2], [1, 1, 1, 1]]), 5, 2)
    logits[0, 1, 1] = 0.5  # the best part of category 0 for point 1 is part 1
    shapes = [7 / 12, 1.0, 0.0]
    result = meter_result(task, logits, (None, category), target)
    assert result["instance_mIoU"] == pytest.approx(sum(shapes) / 3)
    assert result["class_mIoU"] == pytest.approx(((shapes[0] + shapes[2]) / 2 + shapes[1]) / 2)
    assert result["acc"] == pytest.approx(7 / 12)


# --- heads ------------------------------------------------------------------------------------


def test_feature_propagation_returns_the_centre_feature_at_the_centres():
    points = torch.rand(2, 200, 3)
    index = farthest_point_sample(points, 16)
    centres = gather_points(points, index)
    features = torch.randn(2, 16, 8)
    propagated = propagate_features(points, centres, features)
    torch.testing.assert_close(gather_points(propagated, index), features)


def test_feature_propagation_weights_by_inverse_squared_distance():
    centres = torch.tensor([[[0.0, 0, 0], [2, 0, 0], [9, 9, 9]]])
    features = torch.tensor([[[1.0], [4.0], [100.0]]])
    points = torch.tensor([[[1.0, 0, 0], [0.5, 0, 0]]])
    propagated = propagate_features(points, centres, features, k=2)
    w0, w1 = 1 / 0.25, 1 / 2.25  # the second point: squared distances 0.25 and 2.25
    torch.testing.assert_close(propagated[0, :, 0], torch.tensor([2.5, (w0 * 1 + w1 * 4) / (w0 + w1)]))


SEGMENTATION_MODELS = {
    "part_segmentation": (
        dict(category_parts=PARTS),
        dict(modality="point", num_classes=5, num_points=128, num_groups=16, group_size=8),
        lambda: ((torch.randn(2, 128, 3), torch.tensor([0, 1])), torch.randint(0, 5, (2, 128))),
        (2, 128, 5),
    ),
    "semantic_segmentation": (
        dict(),
        dict(modality="image", num_classes=4, img_size=28),
        lambda: (torch.randn(2, 1, 28, 28), torch.randint(0, 4, (2, 28, 28))),
        (2, 4, 28, 28),
    ),
}


@pytest.mark.parametrize("name", SEGMENTATION_MODELS)
def test_segmentation_model_keeps_the_encoder_layout(name):
    settings, model_settings, batch, shape = SEGMENTATION_MODELS[name]
    model = get_task(name, **settings).build_model(**model_settings)
    encoder_settings = {k: v for k, v in model_settings.items() if k != "num_classes"}
    encoder = build_model(**encoder_settings)
    own, plain = model.state_dict(), encoder.state_dict()
    assert {k for k in own if not k.startswith("head.")} == set(plain)  # fix mode: only head. is new
    assert all(own[k].shape == plain[k].shape for k in plain)
    report = load_pretrained(model, plain)
    assert not report.skipped and not report.unused and all(k.startswith("head.") for k in report.missing)
    x, _ = batch()
    assert model(x).shape == shape


@pytest.mark.parametrize("name", SEGMENTATION_MODELS)
def test_a_segmentation_m2pt_model_merges_exactly(name):
    settings, model_settings, batch, _ = SEGMENTATION_MODELS[name]
    task = get_task(name, **settings)
    model = task.build_model(**model_settings)
    aux = build_model("video" if name == "semantic_segmentation" else "image", "tiny").state_dict()
    reparameterize(model, aux)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):  # λ moves away from 0
        loss, _ = task.loss(model, batch())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(layer.lambdas.abs().min() > 0 for layer in cross_modal_layers(model).values())
    model.eval()
    merged = merge(model)
    x, _ = batch()
    torch.testing.assert_close(merged(x), model(x), atol=1e-5, rtol=1e-5)
    fresh = task.build_model(**model_settings).eval()
    fresh.load_state_dict(merged.state_dict(), strict=True)
    torch.testing.assert_close(fresh(x), model(x), atol=1e-5, rtol=1e-5)


def test_part_head_without_category_input():
    task = get_task("part_segmentation", category_parts=PARTS, use_category=False)
    model = task.build_model("point", num_points=128, num_groups=16, group_size=8)
    assert model(torch.randn(2, 128, 3)).shape == (2, 128, 5)
    with pytest.raises(ValueError, match="object category is missing"):
        get_task("part_segmentation", category_parts=PARTS).build_model("point")(torch.randn(1, 128, 3))


# --- sampling ---------------------------------------------------------------------------------


def test_class_balanced_sampler_draws_rare_labels_as_often():
    labels = torch.tensor([0] * 80 + [1] * 15 + [2] * 5)
    targets = torch.nn.functional.one_hot(labels, 3).float()
    drawn = targets[list(class_balanced_sampler(targets, seed=0, num_samples=30000))]
    assert drawn.mean(dim=0).tolist() == pytest.approx([1 / 3] * 3, abs=0.02)
    assert list(class_balanced_sampler(targets, seed=1)) == list(class_balanced_sampler(targets, seed=1))
    targets[-1, 0] = 1  # an item of two labels weighs the sum of theirs
    weights = class_balanced_weights(targets).tolist()
    assert weights[0] == pytest.approx(1 / 81) and weights[-1] == pytest.approx(1 / 81 + 1 / 5)


def test_balanced_sampling_needs_targets():
    task = get_task("multilabel", balanced_sampling=True)
    with pytest.raises(ValueError, match="multi-hot `targets"):
        task.sampler(TensorDataset(torch.zeros(4, 2)))
    assert get_task("multilabel").sampler(TensorDataset(torch.zeros(4, 2))) is None


# --- each task trains on its tiny built-in dataset ----------------------------------------------

TINY = {  # task: (dataset, task settings from the dataset, model settings)
    "classification": ("mnist", lambda d: {}, dict(modality="image")),
    "multilabel": ("digit_mixtures", lambda d: {"balanced_sampling": True}, dict(modality="audio")),
    "part_segmentation": (
        "part_shapes",
        lambda d: {"category_parts": d.category_parts, "hidden_dim": 64},
        dict(modality="point", num_points=512, num_groups=32, group_size=16),
    ),
    "semantic_segmentation": ("digit_scenes", lambda d: {"decoder_dim": 32}, dict(modality="image", img_size=56)),
}


@pytest.mark.parametrize("name", TINY)
def test_each_task_trains_on_its_tiny_dataset(cache, name):
    dataset_name, task_settings, model_settings = TINY[name]
    if dataset_name == "digit_mixtures" and not HAS_SPEECH:
        pytest.skip("espeak-ng and flite are not installed")
    info = next(info for info in data_tools.list_datasets() if info.name == dataset_name)
    assert info.task == name
    train = data_tools.build_dataset(dataset_name, "train", size="tiny", root=cache)
    val = data_tools.build_dataset(dataset_name, "val", size="tiny", root=cache)
    task = get_task(name, **task_settings(train))
    model = task.build_model(size="tiny", num_classes=len(train.classes), **model_settings)
    sampler = task.sampler(train, seed=0)
    batch = next(iter(DataLoader(train, batch_size=8, sampler=sampler, shuffle=sampler is None)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(8):  # a few steps on one batch: the loss must fall
        loss, logged = task.loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses
    result = task.evaluate(model, DataLoader(val, batch_size=8), "cpu")
    assert set(result) == set(task.metrics)
    assert all(math.isfinite(v) for v in result.values())
    assert all(0 <= result[k] <= 1 for k in task.metrics if k != "loss")
