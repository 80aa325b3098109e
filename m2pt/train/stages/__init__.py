"""The stages of ``python -m m2pt.train``, by name: each trains, merges or evaluates one run.

Each stage is ``run(config, resume) -> summary`` over its own config class; comparisons,
experiments and grids of many runs are the :mod:`workflows` layer's, above this one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    name: str
    help: str
    config: type  # the stage's config dataclass (m2pt.train.config)
    run: Callable[[Any, bool], dict[str, Any]]


STAGES: dict[str, Stage] = {}


def register_stage(name: str, help: str, config: type):
    def decorate(run):
        STAGES[name] = Stage(name, help, config, run)
        return run

    return decorate


from m2pt.train.stages import evaluate, finetune, merge, pretrain  # noqa: E402, F401
