"""Executors give the same results as running in this process, and an interrupted workflow continues."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from m2pt import load_checkpoint
from m2pt.run_dir import RunDir
from workflows import run_workflow

TINY = ["data.size=tiny", "data.batch_size=16", "data.eval_batch_size=64", "model.options.depth=2", "epochs=1",
        "log_every=2", "compare.seeds=[0, 1]", "data.train_limit=64", "data.val_limit=64",
        "compare.arms={baseline: {}, random: {aux: [random]}}", "executor.threads=1"]  # fmt: skip


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("M2PT_CACHE", os.environ.get("M2PT_TEST_CACHE") or str(tmp_path_factory.getbasetemp() / "cache"))


def weights(folder):
    return {run: load_checkpoint(RunDir(run, writer=False).model_file) for arm in ("baseline", "random")
            for run in RunDir.seed_runs(folder / arm)}  # fmt: skip


def assert_same_runs(a, b):
    first, second = weights(a), weights(b)
    assert len(first) == len(second) == 4
    for (_, x), (_, y) in zip(sorted(first.items()), sorted(second.items())):
        assert all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sequential")
    comparison = run_workflow("compare", overrides=[f"output_dir={out}", "name=seq", *TINY])
    return out / "seq", comparison


@pytest.mark.slow
def test_processes_give_the_results_of_sequential(tmp_path, sequential_run):
    folder, expected = sequential_run
    got = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=par", *TINY,
                                             "executor.kind=processes", "executor.workers=2"])  # fmt: skip
    assert got.scores == expected.scores
    assert_same_runs(folder, tmp_path / "par")


@pytest.mark.slow
def test_slurm_through_submitits_local_executor_gives_the_same_results(tmp_path, sequential_run):
    folder, expected = sequential_run
    got = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=slurm", *TINY, "executor.kind=slurm",
                                             "executor.slurm={cluster: local, timeout_min: 10}"])  # fmt: skip
    assert got.scores == expected.scores
    assert_same_runs(folder, tmp_path / "slurm")
    assert (tmp_path / "slurm" / "submitit").is_dir()


@pytest.mark.parametrize("kind", ["sequential", "processes"])
def test_an_interrupted_workflow_continues_where_it_stopped(tmp_path, sequential_run, kind):
    """A comparison with one run finished, one killed after its checkpoint and two never started
    completes to the same results, and keeps the finished run as it was."""
    folder, expected = sequential_run
    import shutil

    shutil.copytree(folder, tmp_path / "cut", symlinks=True)
    cut = tmp_path / "cut"
    (cut / "results.json").unlink()
    killed = RunDir(cut / "random" / "seed0")
    killed.summary_file.unlink()  # killed after its last checkpoint, before it wrote its summary
    killed.model_file.unlink()
    for run in (cut / "random" / "seed1", cut / "baseline" / "seed1"):
        shutil.rmtree(run)
    kept = (cut / "baseline" / "seed0" / RunDir.SUMMARY).stat().st_mtime_ns
    got = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=cut", *TINY, f"executor.kind={kind}"])
    assert got.scores == expected.scores
    assert (cut / "baseline" / "seed0" / RunDir.SUMMARY).stat().st_mtime_ns == kept
    assert killed.summary()["final"]["val_acc"] == expected.scores["random"][0]
    assert_same_runs(folder, cut)


WORKFLOW_KILLED_WITH_A_RUN_GOING = """
import os, signal, sys, time
from workflows.executors import worker_pool
pool = worker_pool(1)
with open(sys.argv[1], "w") as file:
    file.write(str(pool.submit(os.getpid).result()))
pool.submit(time.sleep, 600)
time.sleep(1)
os.kill(os.getpid(), signal.SIGKILL)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_process_pool_worker_ends_when_its_workflow_is_killed(tmp_path):
    pid_file = tmp_path / "worker.pid"
    killed = subprocess.run([sys.executable, "-c", WORKFLOW_KILLED_WITH_A_RUN_GOING, str(pid_file)], timeout=120)
    assert killed.returncode == -signal.SIGKILL
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(worker), f"worker {worker} outlived its killed workflow"
