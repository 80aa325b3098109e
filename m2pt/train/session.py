"""What every training stage sets up first: process group, device, threads, seeds, and its run folder."""

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, RunConfig, dump_yaml
from m2pt.train.device import choose_device
from m2pt.train.distributed import World, close_world, init_world


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
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    wants_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    world = init_world("nccl" if wants_cuda else "gloo")
    device = choose_device(config.device, world)
    path = config.path()
    if world.is_main and not resume and RunDir(path, writer=False).last.exists():
        raise ConfigError(f"{path} already holds a run: continue it with --resume {path}, or choose another name")
    run = RunDir(path, writer=world.is_main)
    run.write_config(dump_yaml(config))
    run.write_environment(world_size=world.size, device=str(device))
    try:
        yield Session(config, run, world, device)
    finally:
        close_world(world)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
