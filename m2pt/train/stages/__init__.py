"""The stages of ``python -m m2pt.train``, by name.

Each stage is ``run(config, overrides, resume) -> summary`` where ``overrides`` are the
``key=value`` strings given on the command line (some stages re-apply them to a saved config).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from m2pt.train.config import Config


@dataclass(frozen=True)
class Stage:
    name: str
    help: str
    run: Callable[[Config, list[str], bool], dict[str, Any]]


STAGES: dict[str, Stage] = {}


def register_stage(name: str, help: str):
    def decorate(run):
        STAGES[name] = Stage(name, help, run)
        return run

    return decorate


from m2pt.train.stages import compare, evaluate, experiment, finetune, grid, merge, pretrain  # noqa: E402, F401
