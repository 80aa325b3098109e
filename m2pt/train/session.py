"""What every stage sets up first: process group, device, threads, seeds, and its run folder."""

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from m2pt.train.config import Config, ConfigError
from m2pt.train.device import choose_device
from m2pt.train.distributed import World, close_world, init_world
from m2pt.train.run_dir import RunDir


@dataclass
class Session:
    config: Config
    run: RunDir
    world: World
    device: torch.device

    def log(self, message: str) -> None:
        if self.world.is_main:
            print(message, flush=True)


def run_path(config: Config) -> Path:
    name = config.name or f"{config.stage}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Path(config.output_dir) / name


@contextlib.contextmanager
def session(config: Config, *, resume: bool = False) -> Iterator[Session]:
    """Set up a run; on exit leave the process group cleanly."""
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    wants_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    world = init_world("nccl" if wants_cuda else "gloo")
    device = choose_device(config.device, world)
    path = run_path(config)
    if world.is_main and not resume and (path / "checkpoints" / "last.pt").exists():
        raise ConfigError(f"{path} already holds a run: continue it with --resume {path}, or choose another name")
    run = RunDir(path, writer=world.is_main)
    run.write_config(config)
    run.write_environment(world_size=world.size, device=str(device))
    try:
        yield Session(config, run, world, device)
    finally:
        close_world(world)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
