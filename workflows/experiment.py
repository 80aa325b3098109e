"""``experiment``: the workbench's main job, end to end, resumable.

1. Pretrain each auxiliary encoder of ``experiment.auxiliaries`` (masked autoencoding, labels
   unused), or find it in the encoder cache (``$M2PT_CACHE/encoders``, keyed by its config), and
   copy it to ``<experiment>/aux/<name>``; kept when already there.
2. For each setting of ``experiment.settings`` (e.g. tune and fix), compare every arm of
   ``compare.arms`` over ``compare.seeds`` in ``<experiment>/<setting>``; an arm's auxiliary named
   like an auxiliary of step 1 is that encoder. All settings' runs go to the executor together.
3. Merge the first seed's ``experiment.merge_arm`` model and verify the merge.
4. Write ``report.md``: each setting's table, a plain-words verdict on the effect beyond the
   controls (and, with a positive reference arm, on whether the setup can detect a helpful
   auxiliary at all), the merge check, and the figures (``figures/``).
"""

import contextlib
import io
from pathlib import Path
from typing import Any

from analysis.report import experiment_figures
from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.train import run_stage
from m2pt.train.config import MergeConfig, PretrainRun, apply_overrides, project
from workflows.arms import parse_arms
from workflows.compare import arm_jobs, check_jobs, collect, write_workflow_files
from workflows.config import CompareConfig, ExperimentConfig
from workflows.encoder_cache import cached_encoders
from workflows.executors import execute


def experiment(config: ExperimentConfig) -> dict[str, Comparison]:
    root = write_workflow_files(config)
    encoders = pretrain_auxiliaries(config, root, config.experiment.auxiliaries)
    arms = {name: arm.resolve(encoders) for name, arm in parse_arms(config.compare.arms).items()}
    jobs = {}
    for setting, changes in config.experiment.settings.items():
        sub = apply_overrides(
            project(config, CompareConfig), {**changes, "output_dir": str(root.path), "name": setting}
        )
        jobs[setting] = arm_jobs(sub, arms, sub.path())
        check_jobs(jobs[setting])
    execute([job for arms_ in jobs.values() for seeds in arms_.values() for job in seeds], config.executor,
            f"experiment {root.path.name}")  # fmt: skip
    comparisons = {
        setting: collect(root.path / setting, setting_jobs, arms, config.compare.reference)
        for setting, setting_jobs in jobs.items()
    }
    merged = None
    first = next(iter(config.experiment.settings), None)
    if config.experiment.merge_arm and first:
        source = root.path / first / config.experiment.merge_arm / RunDir.seed_name(config.compare.seeds[0])
        with contextlib.redirect_stdout(io.StringIO()):  # the report says how the merge went
            merged = run_stage("merge", MergeConfig(source=str(source)))
    figures = experiment_figures(root.path)
    write_report(root, config, comparisons, encoders, merged, figures)
    return comparisons


def pretrain_auxiliaries(config: Any, root: RunDir, auxiliaries: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each named auxiliary encoder as the pretraining run ``<root>/aux/<name>``, copied from the encoder
    cache (:mod:`workflows.encoder_cache`: pretrained there first when missing); their checkpoints by name."""
    runs = {name: project(config, PretrainRun, changes) for name, changes in auxiliaries.items()}
    encoders = cached_encoders(runs, {name: root.auxiliary(name) for name in runs}, config.executor)
    return {name: str(path) for name, path in encoders.items()}


def write_report(root: RunDir, config: ExperimentConfig, comparisons: dict[str, Comparison],
                 encoders: dict[str, str], merged: dict[str, Any] | None, figures: list[Path]) -> Path:  # fmt: skip
    lines = [f"# Experiment {root.path.name}", "",
             f"Target: {config.model.modality} ({config.data.dataset}), model {config.model.size}; "
             f"seeds {config.compare.seeds}; {config.epochs} epochs per run.",
             "Auxiliaries: " + (", ".join(f"{n} ({p})" for n, p in encoders.items()) or "none"), ""]  # fmt: skip
    for setting, comparison in comparisons.items():
        lines += [f"## {setting}", "", comparison.markdown(), ""]
        lines += [comparison.verdict(arm) + "\n" for arm in comparison.pathways]
        if sensitivity := comparison.sensitivity():
            lines += [sensitivity, ""]
    if merged:
        status = "verified" if merged["verified"] else "FAILED"
        lines += ["## Merge", "", f"{merged['source']} -> {merged['merged']}: max |output difference| "
                  f"{merged['max_abs_difference']:.2e} ({status}); {merged['parameters_before']:,} -> "
                  f"{merged['parameters_after']:,} parameters.", ""]  # fmt: skip
    if figures:
        lines += ["## Figures", "", *(f"- {p.relative_to(root.path)}" for p in figures if p.suffix == ".html"), ""]
    return root.write_text(RunDir.REPORT, "\n".join(lines))
