"""``compare``: arms (baseline, M2PT, controls, references) fine-tuned over the same seeds.

Each (arm, seed) is a fine-tuning run in ``<compare>/<arm>/seed<k>``, all with identical data,
data order, target initialisation (per seed) and budget, handed to the configured executor.
Writes ``results.json``, ``results.md`` and ``results.csv``: per-arm mean, std and 95% interval,
the paired difference from the reference arm, the relative improvement, and the effect beyond the
best control.
"""

import csv
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.train.classifier import build_classifier
from m2pt.train.config import ConfigError, FinetuneRun, dump_yaml, project
from m2pt.train.data import build_data, check_modality
from m2pt.train.run_task import run_task
from workflows.arms import Arm, parse_arms
from workflows.config import CompareConfig
from workflows.executors import Job, execute


def compare(config: CompareConfig, names: Mapping[str, str] | None = None) -> Comparison:
    """Run the comparison ``config`` describes; ``names`` resolves named auxiliaries to checkpoints."""
    arms = {name: arm.resolve(names or {}) for name, arm in parse_arms(config.compare.arms).items()}
    jobs = arm_jobs(config, arms, config.path())
    check_jobs(jobs)
    write_workflow_files(config)
    execute([job for seeds in jobs.values() for job in seeds], config.executor, f"compare {config.path().name}")
    return collect(config.path(), jobs, arms, config.compare.reference)


def arm_jobs(config: CompareConfig, arms: Mapping[str, Arm], root: Path, shared: Mapping[str, Path] | None = None,
             seed_names: Callable[[int], Mapping[str, str]] | None = None):  # fmt: skip
    """The fine-tuning job of every (arm, seed) in ``root/<arm>/seed<k>`` (or ``shared[arm]/seed<k>``);
    ``seed_names(k)`` resolves the auxiliary names that stand for one checkpoint per seed."""
    if config.compare.reference not in arms:
        raise ConfigError(f"compare.reference={config.compare.reference!r} is not among the arms {sorted(arms)}")
    jobs: dict[str, list[Job]] = {}
    for name, arm in arms.items():
        folder = (shared or {}).get(name, root / name)
        jobs[name] = [
            Job(
                "finetune",
                project(
                    config,
                    FinetuneRun,
                    {
                        **(arm.resolve(seed_names(seed)) if seed_names else arm).overrides(),
                        "seed": seed,
                        "output_dir": str(folder),
                        "name": RunDir.seed_name(seed),
                    },  # fmt: skip
                ),
            )  # fmt: skip
            for seed in config.compare.seeds
        ]
    return jobs


def check_jobs(jobs: Mapping[str, list[Job]]) -> None:
    """Every arm must build (data, model, pathway) before anything trains."""
    for seeds in jobs.values():
        first = seeds[0].config
        check_modality(first.data, first.model.modality)
        data = build_data(first.data)
        build_classifier(first, len(data.classes), task=run_task(first, data.train), log=lambda _: None)


def collect(root: Path, jobs: Mapping[str, list[Job]], arms: Mapping[str, Arm], reference: str) -> Comparison:
    """The comparison of finished runs, saved in ``root`` (results.json, .md, .csv)."""
    scores, rows, metrics = {}, [], set()
    for name, seeds in jobs.items():
        scores[name] = {}
        for job in seeds:
            summary = job.run.summary()
            metrics.add(summary["monitor"])  # the task's primary metric, higher is better (e.g. val_acc)
            scores[name][job.config.seed] = summary["final"][summary["monitor"]]
            rows.append({"arm": name, "seed": job.config.seed, **summary["final"]})
    if len(metrics) != 1:
        raise ConfigError(
            f"the arms of {root} were scored by different metrics {sorted(metrics)}: one task per comparison"
        )
    roles = {name: arm.role for name, arm in arms.items()}
    comparison = Comparison(scores, reference=reference, metric=metrics.pop(), roles=roles)
    comparison.save(root)
    RunDir(root).write_text(RunDir(root).results(".csv").name, _csv(rows))
    return comparison


def write_workflow_files(config: Any) -> RunDir:
    run = RunDir(config.path())
    run.write_config(dump_yaml(config))
    run.write_environment()
    return run


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
