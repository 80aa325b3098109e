"""The trainer: ``python -m m2pt.train`` (see ``--help``) and the same stages from Python.

Each stage trains, merges or evaluates exactly one run; comparisons of many runs live in
:mod:`workflows`, which calls :func:`ensure_run` for each of its runs.
"""

import contextlib
import sys
from typing import Any

from m2pt.run_dir import RunDir
from m2pt.train.config import (
    ConfigError,
    EvaluateConfig,
    FinetuneRun,
    MergeConfig,
    PretrainRun,
    RunConfig,
    apply_overrides,
    load_config,
    project,
)
from m2pt.train.engine import TrainingDiverged, TrainingSpec, fit
from m2pt.train.provenance import mismatches, stale_error
from m2pt.train.stages import STAGES


def stage_config(stage: str, overrides: list[str] | tuple[str, ...] | dict[str, Any] = ()) -> Any:
    """The default config of ``stage`` with ``overrides``."""
    return apply_overrides(_stage(stage).config(), overrides)


def run_stage(stage: str, config: Any = None, overrides: list[str] | tuple[str, ...] = (), resume: bool = False):
    """Run ``stage`` as the command line would: ``run_stage("finetune", overrides=["epochs=2"])``."""
    kind = _stage(stage).config
    config = apply_overrides(config, list(overrides)) if config is not None else stage_config(stage, overrides)
    if not isinstance(config, kind):
        raise ConfigError(f"stage {stage} takes a {kind.__name__}, got a {type(config).__name__}")
    return STAGES[stage].run(config, resume)


def _stage(name: str):
    if name not in STAGES:
        raise ConfigError(f"unknown stage {name!r}; choose from {sorted(STAGES)}")
    return STAGES[name]


def ensure_run(stage: str, config: RunConfig) -> RunDir:
    """The run folder of ``config``, finished: run the stage unless the folder holds a finished run,
    resuming it when it holds an interrupted one. A finished run of other settings or weights than
    ``config``'s is refused (:func:`m2pt.train.provenance.mismatches`). A quiet config
    (``verbose=False``) prints into the run's ``log.txt`` instead of the console."""
    run = RunDir(config.path(), writer=False)
    if run.finished:
        if found := mismatches(run, config):
            raise ConfigError(stale_error({str(run.path): found}))
    else:
        with _quiet(run) if not config.verbose else contextlib.nullcontext():
            run_stage(stage, config, resume=run.resumable)
    return run


@contextlib.contextmanager
def _quiet(run: RunDir):
    run.path.mkdir(parents=True, exist_ok=True)
    with open(run.log_file, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            yield
        finally:
            sys.stdout.flush()


def main() -> int:
    from m2pt.train.__main__ import main as cli

    return cli()


__all__ = [
    "STAGES",
    "ConfigError",
    "EvaluateConfig",
    "FinetuneRun",
    "MergeConfig",
    "PretrainRun",
    "RunConfig",
    "TrainingDiverged",
    "TrainingSpec",
    "apply_overrides",
    "ensure_run",
    "fit",
    "load_config",
    "project",
    "run_stage",
    "stage_config",
]
