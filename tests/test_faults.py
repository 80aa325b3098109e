"""Fault injection: kills at chosen points, two writers, a full disk, resumes with changed settings.

Each test checks that the run folder is consistent afterwards (the last checkpoint's step is the
last logged step, best.pt agrees with summary.json, no temporary files are left) and that the
resumed run matches one that was never interrupted.
"""

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from m2pt import load_checkpoint
from m2pt.run_dir import RunDir
from m2pt.train import run_stage
from m2pt.train.__main__ import main as cli

ROOT = Path(__file__).resolve().parents[1]
FAULT = ROOT / "tests" / "faults" / "run_with_fault.py"
EPOCHS = 3  # 5 steps per epoch at this size
TINY = ["data.dataset=mnist", "data.size=tiny", "data.batch_size=16", "data.eval_batch_size=64",
        "model.options.depth=2", "log_every=1", f"epochs={EPOCHS}", "pathway.aux=[random]", "threads=1"]  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = os.environ.get("M2PT_TEST_CACHE") or str(tmp_path_factory.mktemp("cache"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("M2PT_CACHE", folder)
        yield folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache) -> RunDir:
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    run_stage("finetune", overrides=[f"output_dir={out}", "name=ref", *TINY])
    return RunDir(out / "ref", writer=False)


def run_with_fault(folder: Path, point: str, n: int, *extra: str) -> subprocess.CompletedProcess:
    # the script's own folder heads sys.path: PYTHONPATH makes it import this checkout's packages
    env = os.environ | {
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, str(FAULT), point, str(n), "finetune", f"output_dir={folder.parent}",
               f"name={folder.name}", *TINY, *extra]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def assert_consistent(run: RunDir) -> None:
    """What any folder must satisfy between runs: logs end at the last checkpoint, no partial files."""
    assert not list(run.path.rglob("*.tmp")), "partial files left"
    if run.last.exists():
        state = torch.load(run.last, weights_only=True)
        logged = [r["step"] for r in run.records()]
        assert not logged or max(logged) >= state["step"]
        if run.finished:
            summary = run.summary()
            assert summary["steps"] == state["step"] and summary["final"], summary
            best = torch.load(run.best, weights_only=True)
            assert best["best"] == summary["best"]


def assert_matches(run: RunDir, reference: RunDir) -> None:
    assert run.finished
    assert_consistent(run)
    for file in (RunDir.METRICS, RunDir.LAMBDAS):
        got, want = run.records(file), reference.records(file)
        assert [r["step"] for r in got] == [r["step"] for r in want], file
        for a, b in zip(got, want):
            for key in ("loss", "val_loss", "val_acc"):
                if key in b:
                    assert a[key] == pytest.approx(b[key], abs=1e-6), (file, key)
    rows = (run.path / RunDir.METRICS_CSV).read_text().splitlines()
    assert len(rows) == EPOCHS + 1
    assert run.summary()["final"] == pytest.approx(reference.summary()["final"], abs=1e-6)
    assert run.summary()["best"] == pytest.approx(reference.summary()["best"], abs=1e-9)
    a, b = load_checkpoint(run.model_file), load_checkpoint(reference.model_file)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "n"),
    [
        ("during_checkpoint", 2),  # a half-written last.pt.tmp of epoch 2
        ("before_checkpoint", 2),  # epoch 2's records logged, its checkpoint not written
        ("after_checkpoint", 1),  # between epoch 1's checkpoint and what follows
        ("after_checkpoint", EPOCHS),  # after the last checkpoint: no model, no summary yet
        ("before_first", 3),  # three training records, no checkpoint at all
    ],
)
def test_a_kill_at_any_point_resumes_to_the_uninterrupted_run(tmp_path, reference, point, n):
    folder = tmp_path / "cut"
    killed = run_with_fault(folder, point, n)
    assert killed.returncode == -9, killed.stderr[-2000:]
    run = RunDir(folder, writer=False)
    assert not run.finished
    assert cli(["finetune", "--resume", str(folder)]) == 0
    assert_matches(run, reference)
    assert cli(["finetune", "--resume", str(folder)]) == 0  # resuming a finished run changes nothing
    assert_matches(run, reference)


RECIPE = ["optim.mixup=0.8", "optim.cutmix=1.0", "optim.label_smoothing=0.1", "optim.ema_decay=0.9",
          "data.options.augment=true", "data.options.transform={auto_augment: rand-m7-mstd0.5-inc1, re_prob: 0.25}"]  # fmt: skip


@pytest.fixture(scope="module")
def recipe_reference(tmp_path_factory, cache) -> RunDir:
    """The uninterrupted run with augmentation, mixup, CutMix and EMA (and no mid-epoch checkpoints)."""
    out = tmp_path_factory.mktemp("recipe")
    run_stage("finetune", overrides=[f"output_dir={out}", "name=ref", *TINY, *RECIPE])
    return RunDir(out / "ref", writer=False)


@pytest.mark.slow
@pytest.mark.parametrize("step", [3, 7])  # inside epoch 1 (checkpoint at step 2), inside epoch 2 (at step 6)
def test_a_kill_mid_epoch_resumes_inside_the_epoch_to_the_uninterrupted_run(tmp_path, recipe_reference, step):
    folder = tmp_path / "mid"
    killed = run_with_fault(folder, "at_step", step, *RECIPE, "checkpoint_every=2")
    assert killed.returncode == -9, killed.stderr[-2000:]
    run = RunDir(folder, writer=False)
    state = torch.load(run.last, weights_only=True)
    assert state["step"] == step - 1 and state["batch"] == (step - 1) % 5 and state["epoch"] == (step - 1) // 5
    assert max(r["step"] for r in run.records()) == step  # logged past the checkpoint: dropped on resume
    assert cli(["finetune", "--resume", str(folder)]) == 0
    assert_matches(run, recipe_reference)


@pytest.mark.slow
def test_a_second_writer_is_refused_and_a_killed_writers_lock_is_taken_over(tmp_path, reference, cache):
    folder = tmp_path / "busy"
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    slow = [*TINY, "epochs=200"]
    first = subprocess.Popen([sys.executable, "-m", "m2pt.train", "finetune", f"output_dir={tmp_path}", "name=busy",
                              *slow], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        lock = folder / RunDir.LOCK
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lock.read_text().startswith(f"process {first.pid} ")
        second = subprocess.run([sys.executable, "-m", "m2pt.train", "finetune", "--resume", str(folder)],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert second.returncode == 2 and f"being written by process {first.pid}" in second.stderr
    finally:
        first.kill()
        first.wait()
    # the killed writer's lock went with its process: the next writer takes the folder over
    with RunDir(folder).lock():
        assert lock.read_text().startswith(f"process {os.getpid()} ")
        RunDir(folder).remove_partial_files()  # what a run does first, holding the lock (the kill may cut a write)
    assert_consistent(RunDir(folder, writer=False))


def test_a_full_disk_is_reported_and_the_previous_checkpoint_stays(tmp_path, reference, monkeypatch, capsys):
    folder = tmp_path / "full"
    assert cli(["finetune", f"output_dir={tmp_path}", "name=full", *TINY, "epochs=1"]) == 0
    good = {path: path.read_bytes() for path in (RunDir(folder).last, RunDir(folder).best)}
    real = torch.save

    def no_space(obj, path, *args, **kwargs):
        real(obj, path, *args, **kwargs)  # a partial file on disk, then the error a full disk gives
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    assert cli(["finetune", "--resume", str(folder), f"epochs={EPOCHS}"]) == 2
    assert f"no space left on device while writing {folder / RunDir.CHECKPOINTS}" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in good} == good and not list(folder.rglob("*.tmp"))
    monkeypatch.setattr(torch, "save", real)
    assert cli(["finetune", "--resume", str(folder), f"epochs={EPOCHS}"]) == 0
    assert_matches(RunDir(folder, writer=False), reference)


def tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return (
        shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.slow
def test_a_real_full_disk_and_a_read_only_folder(tmp_path, cache, capsys):
    disk = tmp_path / "disk"
    if not tmpfs(disk, "40m"):
        pytest.skip("cannot mount a tmpfs here (the injected ENOSPC test covers the logic)")
    try:
        assert cli(["finetune", f"output_dir={disk}", "name=run", *TINY, "epochs=1"]) == 0
        run = RunDir(disk / "run", writer=False)
        good = run.last.read_bytes()
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * (free - 64 * 1024))  # leave 64 KiB: less than a checkpoint
        assert cli(["finetune", "--resume", str(run.path), "epochs=2"]) == 2
        assert "no space left on device while writing" in capsys.readouterr().err
        assert run.last.read_bytes() == good and not list(run.path.rglob("*.tmp"))
        (disk / "filler").unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        assert cli(["finetune", f"output_dir={disk}", "name=other", *TINY, "epochs=1"]) == 2
        assert "read-only" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.parametrize(
    ("change", "allowed"),
    [
        ("model.options.depth=3", False),
        ("seed=5", False),
        ("data.batch_size=8", False),
        ("optim.lr=0.01", False),
        ("pathway.aux=[]", False),
        ("finetune.mode=fix", False),
        ("epochs=4", True),
        ("log_every=2", True),
        ("threads=2", True),
    ],
)
def test_resume_refuses_settings_that_change_the_run_and_records_the_others(tmp_path, cache, change, allowed, capsys):
    folder = tmp_path / "r"
    assert cli(["finetune", f"output_dir={tmp_path}", "name=r", *TINY, "epochs=1"]) == 0
    before = {name: (folder / name).read_bytes() for name in (RunDir.CONFIG, f"{RunDir.CHECKPOINTS}/{RunDir.LAST}")}
    code = cli(["finetune", "--resume", str(folder), change])
    key = change.partition("=")[0]
    if not allowed:
        assert code == 2
        assert key in capsys.readouterr().err
        assert {name: (folder / name).read_bytes() for name in before} == before  # nothing written
        assert not (folder / RunDir.RESUMES).exists()
        assert cli(["finetune", "--resume", str(folder)]) == 0  # the original settings still resume
    else:
        assert code == 0
        record = json.loads((folder / RunDir.RESUMES).read_text().splitlines()[-1])
        assert key in record["changes"]
