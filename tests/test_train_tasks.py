"""Every task of m2pt.tasks through the trainer: fine-tuning with the pathway, fix mode, merge, evaluate,
and a comparison scored by the task's own metric."""

import os

import pytest
import torch

from m2pt.parameter_roles import parameter_roles
from m2pt.saved import load_classifier
from m2pt.train import run_stage
from m2pt.train.__main__ import main as cli
from m2pt.vocabulary import ParameterRole
from workflows import run_workflow

COMMON = ["data.size=tiny", "data.batch_size=8", "model.options.depth=2", "epochs=1", "log_every=1", "verbose=false"]
TASKS = {
    "part_segmentation": ["data.dataset=part_shapes", "model.modality=point", "model.options.num_points=512"],
    "semantic_segmentation": ["data.dataset=digit_scenes", "model.modality=image", "model.options.img_size=56"],
    "multilabel": ["data.dataset=digit_mixtures", "model.modality=audio"],
}
PRIMARY = {"part_segmentation": "instance_mIoU", "semantic_segmentation": "mIoU", "multilabel": "mAP"}


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("M2PT_CACHE", os.environ.get("M2PT_TEST_CACHE") or str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.mark.parametrize("task", sorted(TASKS))
def test_a_task_trains_with_the_pathway_merges_exactly_and_evaluates(tmp_path, task):
    overrides = [f"output_dir={tmp_path}", "name=run", *COMMON, *TASKS[task], "pathway.aux=[random]"]
    summary = run_stage("finetune", overrides=overrides)
    assert summary["monitor"] == f"val_{PRIMARY[task]}" and 0 <= summary["final"][summary["monitor"]] <= 1
    model, metadata = load_classifier(tmp_path / "run")
    assert metadata["task"]["name"] == task
    report = run_stage("merge", overrides=[f"source={tmp_path / 'run'}"])
    assert report["verified"] and report["max_abs_difference"] == 0.0
    merged = run_stage("evaluate", overrides=[f"source={tmp_path / 'run' / 'merged.safetensors'}"])
    assert merged[PRIMARY[task]] == pytest.approx(summary["final"][summary["monitor"]], abs=1e-6)


def test_fix_mode_trains_only_the_dense_head_and_lambda(tmp_path):
    overrides = [f"output_dir={tmp_path}", "name=fix", *COMMON, *TASKS["semantic_segmentation"],
                 "pathway.aux=[random]", "finetune.mode=fix"]  # fmt: skip
    run_stage("finetune", overrides=overrides)
    model, _ = load_classifier(tmp_path / "fix")
    roles = parameter_roles(model)
    assert any(r is ParameterRole.HEAD for n, r in roles.items() if n.startswith("head."))
    state = torch.load(tmp_path / "fix" / "checkpoints" / "last.pt", weights_only=True)
    trained = {n for g in state["optimizer"]["param_groups"] for n in g["names"]}
    assert trained and all(roles[n] in (ParameterRole.HEAD, ParameterRole.LAMBDA) for n in trained)


def test_a_comparison_is_scored_by_the_tasks_metric(tmp_path):
    arms = "{baseline: {}, random: {aux: [random]}}"
    comparison = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=cmp", *COMMON,
                                                    *TASKS["semantic_segmentation"], f"compare.arms={arms}",
                                                    "compare.seeds=[0, 1]"])  # fmt: skip
    assert comparison.metric == "val_mIoU" and set(comparison.scores["random"]) == {0, 1}
    assert "val_mIoU mean" in (tmp_path / "cmp" / "results.md").read_text()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("task.name=detection", "unknown task 'detection'"),
        ("task.options={hidden: 3}", "task.options"),
        ("optim.mixup=0.8", "for classification"),
    ],
)
def test_bad_task_settings_fail_before_training(tmp_path, override, message, capsys):
    assert cli(["finetune", f"output_dir={tmp_path}", "name=bad", *COMMON, *TASKS["part_segmentation"], override]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_class_balanced_sampling_draws_rare_classes_more_and_resumes_in_order(tmp_path):
    from m2pt.train.config import FinetuneRun, apply_overrides
    from m2pt.train.data import ResumableSampler, build_data
    from m2pt.train.run_task import run_task, sampling_weights

    overrides = [*COMMON, *TASKS["multilabel"], "task.options={balanced_sampling: true}"]
    config = apply_overrides(FinetuneRun(), overrides)
    data = build_data(config.data)
    weights = sampling_weights(run_task(config, data.train), data.train)
    targets = data.train.targets
    assert weights.shape == (len(data.train),)
    rare = targets.sum(0).argmin()  # the class with the fewest positives: its items weigh more
    assert weights[targets[:, rare] > 0].mean() > weights[targets[:, rare] == 0].mean()
    sampler = ResumableSampler(data.train, weights, num_replicas=1, rank=0, seed=3, drop_last=True)
    sampler.set_epoch(1)
    first = [index for _, index in sampler]
    sampler.set_epoch(1)
    sampler.skip(5)
    assert [index for _, index in sampler] == first[5:]  # a resumed epoch continues the same draw
    halves = [ResumableSampler(data.train, weights, num_replicas=2, rank=r, seed=3, drop_last=True) for r in (0, 1)]
    for half in halves:
        half.set_epoch(1)
    assert sorted(i for h in halves for _, i in h) == sorted(first[: 2 * (len(first) // 2)])
    summary = run_stage("finetune", overrides=[f"output_dir={tmp_path}", "name=balanced", *overrides])
    assert summary["monitor"] == "val_mAP"
