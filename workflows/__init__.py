"""Workflows: experiments of many runs, above the trainer and the analysis.

- :mod:`workflows.compare`: arms fine-tuned over the same seeds, a paired comparison.
- :mod:`workflows.experiment`: the main job: auxiliaries pretrained, a comparison per setting,
  a merged model, a report with figures.
- :mod:`workflows.grid`: every ordered (target, auxiliary) modality pair.
- :mod:`workflows.budget`: a masked autoencoder's pretraining budget, from a measured curve.
- :mod:`workflows.arms`: typed arms (role, auxiliaries, overrides); :mod:`workflows.designs`:
  arms of the standard ablations, controls and block orders.
- :mod:`workflows.executors`: where the runs go (this process, local processes, Slurm).
- :mod:`workflows.encoder_cache`: pretrained auxiliaries cached under ``$M2PT_CACHE``, keyed by their config.
- :mod:`workflows.presets`, :mod:`workflows.widgets`: settings and widgets for the notebooks.

``python -m workflows WORKFLOW --config FILE [key=value ...]`` runs one from the command line;
:func:`run_workflow` does the same from Python. Layers, from the bottom: ``m2pt`` (the library
and the trainer of single runs) and ``data_tools``, then ``analysis`` (reads run folders), then
``workflows``; no module imports a layer above its own.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, apply_overrides
from workflows.budget import budget
from workflows.compare import compare
from workflows.config import BudgetConfig, CompareConfig, ExperimentConfig, GridConfig
from workflows.experiment import experiment
from workflows.grid import grid


@dataclass(frozen=True)
class Workflow:
    name: str
    help: str
    config: type
    run: Callable[[Any], Any]
    report: Callable[[RunDir], Path]  # the file that says what a finished workflow found


WORKFLOWS: dict[str, Workflow] = {
    w.name: w
    for w in (
        Workflow("compare", "baseline vs M2PT (and controls) over seeds, same data order and budget", CompareConfig,
                 compare, lambda run: run.results(".md")),
        Workflow("experiment", "the main job: pretrain auxiliaries, compare arms per setting, merge, report",
                 ExperimentConfig, experiment, lambda run: run.report_file),
        Workflow("grid", "every ordered (target, auxiliary) modality pair with controls (Figure 3)", GridConfig, grid,
                 lambda run: run.grid_report_file),
        Workflow("budget", "how long to pretrain a masked autoencoder: reconstruction loss and init gain by epoch",
                 BudgetConfig, budget, lambda run: run.budget_report_file),
    )
}  # fmt: skip


def run_workflow(name: str, config: Any = None, overrides: list[str] | tuple[str, ...] | dict[str, Any] = ()):
    """Run workflow ``name`` on ``config`` (default: its default config) with ``overrides``."""
    if name not in WORKFLOWS:
        raise ConfigError(f"unknown workflow {name!r}; choose from {sorted(WORKFLOWS)}")
    workflow = WORKFLOWS[name]
    config = apply_overrides(config if config is not None else workflow.config(), overrides)
    if not isinstance(config, workflow.config):
        raise ConfigError(f"{name} takes a {workflow.config.__name__}, got a {type(config).__name__}")
    return workflow.run(config)


__all__ = ["WORKFLOWS", "Workflow", "run_workflow"]
