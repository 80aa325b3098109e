"""Executors: where a workflow's runs go. Each run is a :class:`Job`; results are read back
from the run folders, so any executor can be interrupted and the workflow rerun: finished runs
are kept, interrupted ones resumed (:func:`m2pt.train.ensure_run`). Before anything runs, finished
runs that are not the runs asked for (other settings, or auxiliaries whose content changed) are
refused, all of them in one error.

- ``sequential``: one run after the other in this process.
- ``processes``: ``workers`` runs at once on this machine, each in its own process with
  ``threads`` CPU threads (default: the cores split between the workers) or its own GPU. The
  workers end with the workflow: on Linux they are sent SIGTERM when it dies, even by SIGKILL.
- ``slurm``: one Slurm job per run through submitit (``executor.slurm`` holds submitit's
  parameters; ``cluster: local`` runs them as local subprocesses, for trying a set-up).

Every executor shows one progress bar over the runs (done / total, ETA); each run's own bars
and lines go to its ``log.txt`` unless the workflow is verbose.
"""

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from m2pt.run_dir import RunDir
from m2pt.train import ensure_run
from m2pt.train.config import ConfigError, RunConfig, apply_overrides
from m2pt.train.provenance import mismatches, stale_error
from workflows.config import ExecutorConfig


@dataclass(frozen=True)
class Job:
    """One run of a workflow: a training stage and its config."""

    stage: str
    config: RunConfig

    @property
    def run(self) -> RunDir:
        return RunDir(self.config.path(), writer=False)

    def label(self) -> str:
        return "/".join(self.config.path().parts[-3:])


def run_job(job: Job) -> str:
    """Run (or finish, or keep) ``job``; return its folder. What every executor calls per run."""
    return str(ensure_run(job.stage, job.config).path)


Executor = Callable[[Sequence[Job], ExecutorConfig, str], None]
EXECUTORS: dict[str, Executor] = {}


def register_executor(name: str):
    def decorate(executor: Executor) -> Executor:
        EXECUTORS[name] = executor
        return executor

    return decorate


def execute(jobs: Sequence[Job], config: ExecutorConfig, description: str = "runs") -> list[RunDir]:
    """Run every job (skipping finished ones) with the configured executor; return their folders."""
    if config.kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {config.kind!r}; choose from {sorted(EXECUTORS)}")
    pending, done = [], []
    for job in jobs:
        (done if job.run.finished else pending).append(job)
    stale = {job.label(): found for job in done if (found := mismatches(job.run, job.config))}
    if stale:
        raise ConfigError(stale_error(stale))
    if config.threads:
        pending = [Job(job.stage, apply_overrides(job.config, {"threads": config.threads})) for job in pending]
    if pending:
        EXECUTORS[config.kind](
            pending, config, f"{description} ({len(jobs) - len(pending)} of {len(jobs)} done before)"
        )
    unfinished = [job.label() for job in jobs if not job.run.finished]
    if unfinished:
        raise RuntimeError(f"{len(unfinished)} runs did not finish: {', '.join(unfinished[:5])}")
    return [job.run for job in jobs]


def _progress(total: int, description: str) -> tqdm:
    return tqdm(total=total, desc=description, unit="run", dynamic_ncols=True)


@register_executor("sequential")
def sequential(jobs: Sequence[Job], config: ExecutorConfig, description: str) -> None:
    with _progress(len(jobs), description) as bar:
        for job in jobs:
            bar.set_postfix_str(job.label(), refresh=True)
            run_job(job)
            bar.update()


@register_executor("processes")
def processes(jobs: Sequence[Job], config: ExecutorConfig, description: str) -> None:
    threads = config.threads or max(1, (os.cpu_count() or 1) // config.workers)
    jobs = [j if j.config.threads else Job(j.stage, apply_overrides(j.config, {"threads": threads})) for j in jobs]
    gpus = torch.cuda.device_count()
    if gpus:  # one GPU per run at a time: run k on GPU k mod count
        jobs = [j if j.config.device != "auto" else Job(j.stage, apply_overrides(j.config, {"device": f"cuda:{k % gpus}"}))
                for k, j in enumerate(jobs)]  # fmt: skip
        config = ExecutorConfig(config.kind, min(config.workers, gpus), config.threads, config.slurm)
    with _progress(len(jobs), description) as bar, worker_pool(config.workers) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a failed run stops the workflow with its error
                bar.update()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` fresh processes (spawned: no forked torch state, no inherited threads) that end
    when the process that made them does."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_end_with_parent, initargs=(os.getpid(),))


_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): the signal this process gets when its parent dies


def _end_with_parent(parent: int) -> None:
    """In a worker: be sent SIGTERM when ``parent`` dies (Linux; elsewhere nothing is set)."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


@register_executor("slurm")
def slurm(jobs: Sequence[Job], config: ExecutorConfig, description: str) -> None:
    import submitit

    options = dict(config.slurm)
    cluster = options.pop("cluster", None)  # None: Slurm when available; "local": local subprocesses
    folder = Path(options.pop("folder", None) or _common_root(jobs) / "submitit")
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    if options:
        executor.update_parameters(**options)
    submitted = executor.map_array(run_job, list(jobs))
    with _progress(len(jobs), description) as bar:
        for job in submitted:
            job.result()  # waits; raises the run's error
            bar.update()


def _common_root(jobs: Sequence[Job]) -> Path:
    return Path(os.path.commonpath([str(job.config.path()) for job in jobs]))
