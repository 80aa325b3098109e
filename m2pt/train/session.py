"""What every training stage sets up first: the allocator, process group, device, threads, seeds,
and its run folder.

The main process holds the run folder's lock for the whole run. A new run records the content of
the weight files and the build of the dataset it reads (:mod:`m2pt.train.provenance`). A resume is checked against the folder's
saved config and that record before anything is written: settings outside
:data:`m2pt.train.config.RESUMABLE`, weight files whose content changed and a dataset built anew
are refused, the other
changes are recorded in ``resumes.jsonl``.
"""

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from m2pt.run_dir import RunDir
from m2pt.train.allocator import keep_freed_memory
from m2pt.train.config import RESUMABLE, ConfigError, RunConfig, dump_yaml, saved_config, to_dict
from m2pt.train.device import choose_device
from m2pt.train.distributed import World, close_world, init_world
from m2pt.train.provenance import changed_inputs, inputs


@dataclass
class Session:
    config: RunConfig
    run: RunDir
    world: World
    device: torch.device

    def log(self, message: str) -> None:
        if self.world.is_main:
            print(message, flush=True)


@contextlib.contextmanager
def session(config: RunConfig, *, resume: bool = False) -> Iterator[Session]:
    """Set up a run; on exit leave the process group cleanly."""
    keep_freed_memory()
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    wants_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    world = init_world("nccl" if wants_cuda else "gloo")
    device = choose_device(config.device, world)
    path = config.path()
    try:
        run = RunDir(path, writer=world.is_main)
        with run.lock() if world.is_main else contextlib.nullcontext():
            changes = _check(run, config, resume)
            if world.is_main:
                run.remove_partial_files()
                run.write_config(dump_yaml(config))
                run.write_environment(world_size=world.size, device=str(device))
                if not resume:
                    run.write_json(RunDir.INPUTS, inputs(config))
                if resume:
                    run.log({"time": time.strftime("%Y-%m-%d %H:%M:%S"), "changes": changes}, RunDir.RESUMES)
            yield Session(config, run, world, device)
    finally:
        close_world(world)


def _check(run: RunDir, config: RunConfig, resume: bool) -> dict:
    """Refuse to start over a run, or to resume one with settings it cannot take; the changes a resume makes."""
    if not resume:
        if run.last.exists():
            raise ConfigError(
                f"{run.path} already holds a run: continue it with --resume {run.path}, or choose another name"
            )
        return {}
    if not run.config_file.exists():
        raise ConfigError(f"{run.path} holds no run to resume ({RunDir.CONFIG} missing)")
    try:
        saved = to_dict(saved_config(type(config), run.config()))
        changes = run.resume_changes(to_dict(config), RESUMABLE, saved)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if changed := changed_inputs(run, config):
        raise ConfigError(f"cannot resume {run.path} on other inputs than it started with ({'; '.join(changed)}); "
                          "start a new run")  # fmt: skip
    return changes


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
