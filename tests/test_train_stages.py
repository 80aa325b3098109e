"""Every stage of the trainer for a few steps on tiny built-in data, resume, fix mode, bad configs."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from m2pt import load_checkpoint
from m2pt.saved import load_classifier
from m2pt.tasks import Classification
from m2pt.train import engine, run_stage
from m2pt.train.__main__ import main as cli
from m2pt.train.config import FinetuneRun, TrainConfig, apply_overrides

ROOT = Path(__file__).resolve().parents[1]
TINY_IMAGES = ["data.dataset=mnist", "data.size=tiny", "data.batch_size=16", "data.eval_batch_size=64",
               "model.options.depth=2", "log_every=1"]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """Built-in datasets go to a temporary cache shared by this module's tests."""
    folder = tmp_path_factory.mktemp("cache")
    old = os.environ.get("M2PT_CACHE")
    os.environ["M2PT_CACHE"] = str(folder)
    yield folder
    if old is None:
        del os.environ["M2PT_CACHE"]
    else:
        os.environ["M2PT_CACHE"] = old


def config(tmp_path, *overrides) -> list[str]:
    return [f"output_dir={tmp_path}", *TINY_IMAGES, *overrides]


@pytest.fixture(scope="module")
def aux_encoder(tmp_path_factory):
    """A tiny audio encoder pretrained for one epoch (the auxiliary of the pathway tests)."""
    out = tmp_path_factory.mktemp("aux")
    run_stage("pretrain", overrides=[f"output_dir={out}", "name=audio", "data.dataset=spoken_digits", "data.size=tiny",
                                     "data.batch_size=8", "model.modality=audio", "model.options.depth=2", "epochs=1",
                                     "pretrain.save_epochs=[1]"])  # fmt: skip
    return out / "audio" / "encoder.safetensors"


def test_pretrain_writes_loadable_encoders(aux_encoder):
    folder = aux_encoder.parent
    weights = load_checkpoint(aux_encoder)
    assert weights.layout == "m2pt" and weights.metadata["modality"] == "audio"
    assert not any(k.startswith(("decoder", "mask_token", "encoder.")) for k in weights)
    assert (folder / "encoder_epoch1.safetensors").is_file()
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert any(r["split"] == "val" and r["val_loss"] > 0 for r in records)


def test_finetune_with_pathway_then_merge_and_evaluate(tmp_path, aux_encoder):
    run_stage("finetune", overrides=config(tmp_path, "name=m2pt", "epochs=2", f"pathway.aux=[{aux_encoder}]",
                                           "pathway.lambda_lr_scale=10"))  # fmt: skip
    run = tmp_path / "m2pt"
    for name in ("config.yaml", "environment.json", "metrics.jsonl", "metrics.csv", "lambdas.jsonl", "summary.json",
                 "model.safetensors", "checkpoints/last.pt", "checkpoints/best.pt"):  # fmt: skip
        assert (run / name).exists(), name
    lambdas = [json.loads(line) for line in (run / "lambdas.jsonl").read_text().splitlines()]
    assert len(lambdas[-1]["lambdas"]) == 8 and any(v[0] != 0 for v in lambdas[-1]["lambdas"].values())
    environment = json.loads((run / "environment.json").read_text())
    assert environment["torch"] == torch.__version__ and "git_commit" in environment
    assert environment["cpu"] and environment["cpu_capability"] == torch.backends.cpu.get_cpu_capability()

    report = run_stage("merge", overrides=[f"source={run}"])
    assert report["verified"] and report["max_abs_difference"] <= 1e-5
    merged, metadata = load_classifier(run / "merged.safetensors")
    assert metadata["pathway"] is None and not any("aux_weights" in k for k in merged.state_dict())

    result = run_stage("evaluate", overrides=[f"source={run / 'merged.safetensors'}"])
    unmerged = run_stage("evaluate", overrides=[f"source={run}"])
    assert result["acc"] == pytest.approx(unmerged["acc"]) and 0 <= result["acc"] <= 1


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    run_stage("finetune", overrides=config(tmp_path, "name=full", "epochs=3"))
    schedule = engine.cosine_lr

    def killed_at_step_12(step, *args):  # mid-epoch 3 (5 steps per epoch), after logging past the checkpoint
        if step == 12:
            raise KeyboardInterrupt
        return schedule(step, *args)

    monkeypatch.setattr(engine, "cosine_lr", killed_at_step_12)
    with pytest.raises(KeyboardInterrupt):
        run_stage("finetune", overrides=config(tmp_path, "name=cut", "epochs=3"))
    monkeypatch.setattr(engine, "cosine_lr", schedule)
    assert not (tmp_path / "cut" / "summary.json").exists()
    assert cli(["finetune", "--resume", str(tmp_path / "cut")]) == 0

    full, cut = (json.loads((tmp_path / n / "summary.json").read_text()) for n in ("full", "cut"))
    assert cut["final"]["val_acc"] == full["final"]["val_acc"]
    assert cut["final"]["val_loss"] == pytest.approx(full["final"]["val_loss"], abs=1e-6)
    records = {
        n: [json.loads(line) for line in (tmp_path / n / "metrics.jsonl").read_text().splitlines()]
        for n in ("full", "cut")
    }
    assert [r["step"] for r in records["cut"]] == [r["step"] for r in records["full"]]
    for a, b in zip(records["cut"], records["full"]):
        assert a.get("loss", a.get("val_loss")) == pytest.approx(b.get("loss", b.get("val_loss")), abs=1e-6)
    a, b = (load_checkpoint(tmp_path / n / "model.safetensors") for n in ("full", "cut"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_cli_resume_continues_a_killed_run(tmp_path):
    assert cli(["finetune", *config(tmp_path, "name=r", "epochs=1")]) == 0
    assert cli(["finetune", *config(tmp_path, "name=r", "epochs=1")]) == 2  # refuses to overwrite
    assert cli(["finetune", "--resume", str(tmp_path / "r"), "epochs=2"]) == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["epochs"] == 2


def test_validating_only_the_last_epoch_trains_a_classifier_the_same(tmp_path):
    for every in ("1", "null"):
        run_stage("finetune", overrides=config(tmp_path, f"name=every{every}", "epochs=3", f"eval_every={every}"))
    runs = {every: tmp_path / f"every{every}" for every in ("1", "null")}
    a, b = (load_checkpoint(run / "model.safetensors") for run in runs.values())
    assert all(torch.equal(a[k], b[k]) for k in a)
    summaries = [json.loads((run / "summary.json").read_text()) for run in runs.values()]
    assert summaries[0]["final"] == summaries[1]["final"]
    validated = {every: [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()
                         if '"val"' in line] for every, run in runs.items()}  # fmt: skip
    assert validated == {"1": [1, 2, 3], "null": [3]}


def test_same_seed_is_deterministic(tmp_path):
    for name in ("a", "b"):
        run_stage("finetune", overrides=config(tmp_path, f"name={name}", "epochs=1", "seed=3"))
    a, b = (load_checkpoint(tmp_path / n / "model.safetensors") for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_compiled_run_matches_an_eager_one(tmp_path):
    """``compile=true`` (torch.compile, inductor on CPU) trains the same model and saves plain keys."""
    results = {}
    for name, compiled in (("eager", "false"), ("compiled", "true")):
        overrides = config(tmp_path, f"name={name}", "epochs=1", "pathway.aux=[random]", f"compile={compiled}")
        results[name] = run_stage("finetune", overrides=overrides)["final"]
    assert results["compiled"]["val_loss"] == pytest.approx(results["eager"]["val_loss"], rel=1e-3)
    eager, compiled = (load_checkpoint(tmp_path / n / "model.safetensors") for n in ("eager", "compiled"))
    assert set(compiled) == set(eager)
    assert all(torch.allclose(compiled[k], eager[k], atol=1e-4) for k in eager)


def test_fix_mode_trains_only_lambda_head_and_tokenizer(tmp_path, aux_encoder):
    run_stage("finetune", overrides=config(tmp_path, "name=fix", "epochs=1", "finetune.mode=fix",
                                           "finetune.train_tokenizer=true", f"pathway.aux=[{aux_encoder}]"))  # fmt: skip
    model, _ = load_classifier(tmp_path / "fix")
    torch.manual_seed(0)
    initial = apply_overrides(FinetuneRun(), config(tmp_path, "finetune.mode=fix", f"pathway.aux=[{aux_encoder}]"))
    from m2pt.train.classifier import build_classifier

    start = build_classifier(initial, 10, log=lambda _: None).state_dict()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, start[k])}
    assert changed, "something trained"
    allowed = ("head.", "patch_embed.", "pos_embed", "cls_token")
    assert all(k.startswith(allowed) or k.endswith("lambdas") for k in changed), changed
    assert any(k.endswith("lambdas") for k in changed)


def test_matrices_only_trains_the_head_and_the_block_matrices_alone(tmp_path):
    """A reference fine-tuned with ``matrices_only``: its change lies where a pathway can carry it."""
    run_stage("finetune", overrides=config(tmp_path, "name=matrices", "epochs=1", "finetune.matrices_only=true"))
    model, _ = load_classifier(tmp_path / "matrices")
    from m2pt.train.classifier import build_classifier

    start = build_classifier(apply_overrides(FinetuneRun(), config(tmp_path)), 10, log=lambda _: None).state_dict()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, start[k])}
    matrices = {
        f"blocks.{i}.{layer}.weight" for i in range(2) for layer in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")
    }
    assert changed == matrices | {"head.weight", "head.bias"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.modality=audio"], "holds image data but model.modality is audio"),
        (["pathway.aux=[/nowhere/aux.safetensors]"], "checkpoint not found"),
        (["finetune.start=pretrained"], "needs finetune.init"),
        (["data.dataset=nosuch"], "unknown dataset 'nosuch'"),
        (["optim.lrr=1"], "did you mean optim.lr"),
        (["finetune.matrices_only=true", "finetune.mode=fix"], "matrices_only is for tune mode"),
    ],
)
def test_bad_configs_fail_before_training(tmp_path, overrides, message, capsys):
    assert cli(["finetune", *config(tmp_path, "name=bad"), *overrides]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad" / "checkpoints" / "last.pt").exists()


def test_aux_of_another_width_fails_before_training(tmp_path, aux_encoder):
    with pytest.raises(ValueError, match="width mismatch"):
        run_stage("finetune", overrides=config(tmp_path, "name=w", "model.options.embed_dim=48",
                                               f"pathway.aux=[{aux_encoder}]"))  # fmt: skip
    assert not (tmp_path / "w").exists()


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    assert cli(["finetune", *config(tmp_path, "name=nan", "epochs=1")]) == 0
    good = (tmp_path / "nan" / "checkpoints" / "last.pt").read_bytes()
    real = Classification.loss

    def diverging(self, model, batch, mixer=None):
        return real(self, model, batch, mixer)[0] * float("nan"), {}

    monkeypatch.setattr(Classification, "loss", diverging)
    assert cli(["finetune", "--resume", str(tmp_path / "nan"), "epochs=2"]) == 1
    assert "loss became nan" in capsys.readouterr().err
    assert (tmp_path / "nan" / "checkpoints" / "last.pt").read_bytes() == good


@pytest.mark.slow
def test_two_process_gloo_torchrun_matches_one_process(tmp_path, cache):
    common = config(tmp_path, "epochs=1", "optim.warmup_epochs=0", "device=cpu", "threads=1")
    env = os.environ | {"M2PT_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "m2pt.train"]
    subprocess.run([*torchrun, "finetune", *common, "name=ddp"], check=True, cwd=ROOT, env=env, timeout=600)
    run_stage("finetune", overrides=[*common, "name=single"])
    ddp, single = (load_checkpoint(tmp_path / n / "model.safetensors") for n in ("ddp", "single"))
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], atol=2e-4, rtol=1e-3)


@pytest.mark.parametrize(
    ("settings", "step", "minutes_since", "due"),
    [
        ({"checkpoint_every": 3}, 6, 0.0, True),
        ({"checkpoint_every": 3}, 7, 0.0, False),
        ({"checkpoint_minutes": 0.5}, 7, 0.6, True),
        ({"checkpoint_minutes": 0.5}, 7, 0.4, False),
        ({}, 6, 100.0, False),  # off by default
    ],
)
def test_mid_epoch_checkpoints_are_due_by_steps_or_minutes(settings, step, minutes_since, due):
    assert engine._checkpoint_due(TrainConfig(**settings), step, time.perf_counter() - 60 * minutes_since) is due


def test_kept_items_train_the_same_as_items_read_every_epoch(tmp_path):
    for mb in (0, 256):
        run_stage("finetune", overrides=config(tmp_path, f"name=kept{mb}", "epochs=2", f"data.keep_in_memory_mb={mb}"))
    a, b = (load_checkpoint(tmp_path / f"kept{mb}" / "model.safetensors") for mb in (0, 256))
    assert all(torch.equal(a[k], b[k]) for k in a)
