"""Recipes through timm (Mixup / CutMix, EMA, create_transform), multi-view evaluation, and the paper
configs run for two steps on tiny files of every modality."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from data_tools import ClipReader, write_video
from m2pt import load_checkpoint
from m2pt.tasks import Classification
from m2pt.train import run_stage
from m2pt.train.config import ConfigError, DataConfig, EvaluationOptions, FinetuneRun, OptimConfig, load_config
from m2pt.train.data import build_data
from m2pt.train.evaluation import multi_view
from m2pt.train.recipes import batch_mixer

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "configs" / "paper"
TINY_IMAGES = ["data.dataset=mnist", "data.size=tiny", "data.batch_size=16", "data.eval_batch_size=64",
               "model.options.depth=2", "log_every=1", "threads=1"]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("M2PT_CACHE", str(folder))
        yield folder


class Recorder(nn.Module):
    """A linear classifier that keeps its last input."""

    def __init__(self, features: int, classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, classes)
        self.seen = None

    def forward(self, x):
        self.seen = x.clone()
        return self.linear(x.flatten(1))


def soft_targets(y, classes, smoothing):
    off = smoothing / classes
    return torch.full((len(y), classes), off).scatter_(1, y[:, None], 1 - smoothing + off)


def soft_loss(logits, target):
    return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()


def test_without_mixing_the_loss_is_plain_cross_entropy():
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    model = Recorder(64, 3)
    assert batch_mixer(OptimConfig(label_smoothing=0.1), 3, "image", 4) is None
    loss, _ = Classification(label_smoothing=0.1).loss(model, (x, y))
    assert torch.equal(loss, F.cross_entropy(model.linear(x.flatten(1)), y, label_smoothing=0.1))


def test_mixup_through_timm_mixes_inputs_and_targets_with_the_drawn_lambda():
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    model = Recorder(64, 3)
    mixer = batch_mixer(OptimConfig(mixup=0.8, label_smoothing=0.1), 3, "image", 4)
    np.random.seed(5)
    loss, _ = Classification(label_smoothing=0.1).loss(model, (x.clone(), y), mixer)
    np.random.seed(5)  # timm's order of draws: "mix this batch?" (prob), then lambda ~ Beta(0.8, 0.8)
    assert np.random.rand() < 1.0
    lam = float(np.random.beta(0.8, 0.8))
    mixed = lam * x + (1 - lam) * x.flip(0)
    target = lam * soft_targets(y, 3, 0.1) + (1 - lam) * soft_targets(y.flip(0), 3, 0.1)
    torch.testing.assert_close(model.seen, mixed)
    torch.testing.assert_close(loss, soft_loss(model.linear(mixed.flatten(1)), target))
    assert not torch.allclose(loss, F.cross_entropy(model.linear(x.flatten(1)), y, label_smoothing=0.1))


@pytest.mark.parametrize("shape", [(4, 1, 16, 16), (4, 2, 3, 16, 16)], ids=["image", "video"])
def test_cutmix_pastes_a_box_and_weights_the_targets_by_its_area(shape):
    x, y = torch.rand(*shape) + torch.arange(4.0).view(-1, *[1] * (len(shape) - 1)) * 10, torch.tensor([0, 1, 2, 1])
    model = Recorder(int(np.prod(shape[1:])), 3)
    mixer = batch_mixer(OptimConfig(cutmix=1.0), 3, "image" if len(shape) == 4 else "video", 4)
    np.random.seed(3)
    loss, _ = Classification().loss(model, (x.clone(), y), mixer)
    pasted = model.seen != x  # where the flipped batch's pixels went: one box, the same in every channel and frame
    assert pasted.any()
    box = pasted[0].reshape(-1, *shape[-2:])[0]
    assert all(torch.equal(frame, box) for frame in pasted[0].reshape(-1, *shape[-2:]))
    rows, cols = box.any(1).nonzero(), box.any(0).nonzero()
    assert box.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # a rectangle
    lam = 1 - box.float().mean()
    target = lam * soft_targets(y, 3, 0.0) + (1 - lam) * soft_targets(y.flip(0), 3, 0.0)
    torch.testing.assert_close(loss, soft_loss(model.linear(model.seen.flatten(1)), target))


def test_mixing_refuses_point_clouds_and_odd_batches():
    with pytest.raises(ConfigError, match="not point data"):
        batch_mixer(OptimConfig(mixup=0.8), 3, "point", 4)
    with pytest.raises(ConfigError, match=r"must be even \(data.batch_size\)"):
        batch_mixer(OptimConfig(cutmix=1.0), 3, "image", 5)


def test_ema_weights_are_the_saved_model_and_what_evaluate_reads(tmp_path):
    summary = run_stage("finetune", overrides=[f"output_dir={tmp_path}", "name=ema", *TINY_IMAGES, "epochs=1",
                                               "optim.ema_decay=0.5"])  # fmt: skip
    run = tmp_path / "ema"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    saved = load_checkpoint(run / "model.safetensors")
    assert all(torch.equal(saved[k], state["ema"][k]) for k in saved)
    assert any(not torch.equal(state["model"][k], state["ema"][k]) for k in saved)  # the average, not the raw weights
    result = run_stage("evaluate", overrides=[f"source={run}"])
    assert result["acc"] == summary["final"]["val_acc"]
    assert result["loss"] == pytest.approx(summary["final"]["val_loss"], abs=1e-6)


def test_multi_view_evaluation_averages_the_views_logits():
    class Views(torch.utils.data.Dataset):  # two examples, three views each
        def __len__(self):
            return 2

        def __getitem__(self, i):
            views = [[[3.0, 0.0]], [[0.0, 1.0]], [[0.0, 1.0]]] if i == 0 else [[[0.0, 2.0]], [[1.0, 0.0]], [[0.0, 2.0]]]
            return torch.tensor(views).squeeze(1), [0, 0][i]

    identity = nn.Identity()  # logits = the view itself
    loader = torch.utils.data.DataLoader(Views(), batch_size=2)
    result = Classification().evaluate(identity, loader, "cpu", views=3)
    means = torch.tensor([[1.0, 2 / 3], [1 / 3, 4 / 3]])  # example 0 -> class 0 (right), 1 -> class 1 (wrong)
    assert result["acc"] == 0.5
    assert result["loss"] == pytest.approx(F.cross_entropy(means, torch.tensor([0, 0])).item(), rel=1e-6)


def test_video_views_are_evenly_spaced_clips_times_crops(tmp_path):
    frames = np.zeros((20, 32, 48), dtype=np.uint8)
    for t in range(20):
        frames[t] = 10 * t  # brightness = 10 x frame number
    frames[:, :, 40:] = 250  # a bright right edge: only the last crop sees it
    write_video(tmp_path / "v.mp4", frames)
    reader = ClipReader(num_frames=4, stride=2, size=32, channels=1, mean=(0.0,), std=(1.0,))
    views = reader.views(tmp_path / "v.mp4", clips=3, crops=3)
    assert views.shape == (9, 1, 4, 32, 32)
    # clips start at frames 0, 6 and 13 (the last start: 20 - 7); their first frames
    firsts = views[::3, 0, 0, :, :8].mean(dim=(-1, -2)) * 255
    torch.testing.assert_close(firsts, torch.tensor([0.0, 60.0, 130.0]), atol=4, rtol=0)
    edges = views[:3, 0, 0, :, -4:].mean(dim=(-1, -2)) * 255  # crops at x = 0, 8, 16 of 48
    assert edges[2] > 200 and edges[0] < 50 and edges[1] < 50
    centre = reader(tmp_path / "v.mp4")
    torch.testing.assert_close(views[4], centre, atol=2 / 255, rtol=0)  # the middle clip's middle crop


def test_point_votes_are_augmented_reads_that_repeat(tmp_path):
    for split in ("train", "val"):
        for label in ("a", "b"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(2):
                np.save(tmp_path / split / label / f"{i}.npy", np.random.rand(300, 3).astype(np.float32))
    config = DataConfig(dataset="folder", root=str(tmp_path), modality="point", options={"num_points": 64})
    data = build_data(config)
    votes = multi_view(data.val, config, "val", EvaluationOptions(votes=4), "point")
    x, label = votes[1]
    assert x.shape == (4, 64, 3) and label == data.val[1][1]
    assert not torch.allclose(x[0], x[1])  # each vote resampled and scaled afresh
    assert torch.equal(x, votes[1][0])  # and the same on every evaluation
    with pytest.raises(ConfigError, match="clips and crops are for video"):
        multi_view(data.val, config, "val", EvaluationOptions(clips=2), "point")


def test_the_evaluation_split_is_read_without_augmentation(tmp_path):
    config = DataConfig(dataset="mnist", size="tiny", options={"augment": True})
    data = build_data(config)
    assert data.train.reader.augment and not data.val.reader.augment
    assert torch.equal(data.val[0][0], data.val[0][0])


def tiny_files(root: Path, modality: str) -> None:
    """2 classes x 2 files per split of ``modality``, tiny."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in ("a", "b"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(2):
                if modality == "image":
                    Image.fromarray(rng.integers(0, 255, (40, 36, 3), dtype=np.uint8)).save(folder / f"{i}.png")
                elif modality == "video":
                    write_video(folder / f"{i}.mp4", rng.integers(0, 255, (12, 32, 40, 3), dtype=np.uint8))
                elif modality == "point":
                    np.save(folder / f"{i}.npy", rng.random((400, 3), dtype=np.float32))
                else:
                    soundfile.write(folder / f"{i}.wav", rng.standard_normal(8000).astype(np.float32) * 0.1, 16000)


SHRINK = {  # the paper's pipelines and recipes at toy sizes: inputs a few patches large, one block
    "image_imagenet.yaml": ["data.options.image_size=32", "model.options.img_size=32"],
    "video_kinetics.yaml": ["data.options.num_frames=4", "data.options.stride=2", "data.options.size=32",
                            "model.options.num_frames=4", "model.options.img_size=32"],
    "point_scanobjectnn.yaml": ["data.options.num_points=256", "model.options.num_points=256",
                                "model.options.num_groups=16", "model.options.group_size=8"],
    "audio_audioset.yaml": ["data.options.target_length=64", "data.options.num_mel_bins=32", "data.options.freqm=8",
                            "data.options.timem=16", "model.options.img_size=[64, 32]"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SHRINK))
def test_paper_config_trains_two_steps_and_evaluates_with_its_views(tmp_path, name):
    config = load_config(FinetuneRun, PAPER / name)
    tiny_files(tmp_path / "data", config.data.modality)
    overrides = [f"output_dir={tmp_path}", "name=run", f"data.root={tmp_path / 'data'}", "data.batch_size=2",
                 "data.eval_batch_size=2", "data.num_workers=0", "epochs=1", "finetune.start=from_scratch",
                 "model.options.depth=1", "pathway.aux=[random]", "threads=1", "verbose=false", *SHRINK[name]]  # fmt: skip
    summary = run_stage("finetune", load_config(FinetuneRun, PAPER / name, overrides))
    assert summary["steps"] == 2 and 0 <= summary["final"]["val_acc"] <= 1
    result = run_stage("evaluate", overrides=[f"source={tmp_path / 'run'}"])
    assert result["views"] == config.evaluation.views() and result["examples"] == 4
    saved = json.loads((tmp_path / "run" / "evaluate_val.json").read_text())
    assert saved["acc"] == result["acc"]


def test_paper_configs_use_the_upstream_recipes():
    image, video, point, audio = (load_config(FinetuneRun, PAPER / n) for n in
                                  ("image_imagenet.yaml", "video_kinetics.yaml", "point_scanobjectnn.yaml",
                                   "audio_audioset.yaml"))  # fmt: skip
    assert image.data.options["transform"]["auto_augment"] == "rand-m9-mstd0.5-inc1"
    assert (image.optim.mixup, image.optim.cutmix, image.optim.label_smoothing) == (0.8, 1.0, 0.1)
    assert (video.optim.mixup, video.optim.cutmix) == (0.8, 1.0)
    assert (video.evaluation.clips, video.evaluation.crops) == (5, 3) and point.evaluation.votes == 10
    assert audio.optim.mixup == 0.5 and not point.optim.mixup
    assert all(c.optim.ema_decay is None for c in (image, video, point, audio))


def test_new_options_are_off_by_default():
    config = FinetuneRun()
    assert (config.optim.mixup, config.optim.cutmix, config.optim.ema_decay) == (0.0, 0.0, None)
    assert config.checkpoint_every is None and config.checkpoint_minutes is None
    assert config.evaluation.views() == 1 and "transform" not in config.data.options
    assert os.environ["M2PT_CACHE"]
