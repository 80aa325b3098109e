"""The trainer: ``python -m m2pt.train`` (see ``--help``) and the same stages from Python."""

from m2pt.train.config import Config, ConfigError, apply_overrides, load_config
from m2pt.train.engine import Task, TrainingDiverged, fit
from m2pt.train.stages import STAGES


def run_stage(
    stage: str, config: Config | None = None, overrides: list[str] | tuple[str, ...] = (), resume: bool = False
):
    """Run ``stage`` as the command line would: ``run_stage("finetune", overrides=["epochs=2"])``."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; choose from {sorted(STAGES)}")
    config = apply_overrides(config or Config(), list(overrides) + [f"stage={stage}"])
    return STAGES[stage].run(config, list(overrides), resume)


def main() -> int:
    from m2pt.train.__main__ import main as cli

    return cli()


__all__ = [
    "STAGES",
    "Config",
    "ConfigError",
    "Task",
    "TrainingDiverged",
    "apply_overrides",
    "fit",
    "load_config",
    "run_stage",
]
