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
   auxiliary at all), its paired t-test adjusted with the report's other verdicts (Holm) and,
   when null, the minimum detectable effect; the transfer efficiency of an auxiliary that a
   pretrained setting starts from (``finetune.init`` may name an auxiliary); the merge check, and
   the figures (``figures/``).
"""

import contextlib
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.report import experiment_figures
from analysis.transfer import TransferEfficiency, transfer_efficiency
from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.stats import CORRECTION_CONTROLS, CORRECTION_NAMES, Adjusted, adjust_p_values
from m2pt.train import run_stage
from m2pt.train.config import MergeConfig, PretrainRun, apply_overrides, project
from workflows.arms import Arm, parse_arms
from workflows.compare import arm_jobs, check_jobs, collect, write_workflow_files
from workflows.config import CompareConfig, ExperimentConfig
from workflows.encoder_cache import cached_encoders
from workflows.executors import execute


def experiment(config: ExperimentConfig) -> dict[str, Comparison]:
    root = write_workflow_files(config)
    encoders = pretrain_auxiliaries(config, root, config.experiment.auxiliaries)
    arms = {name: arm.resolve(encoders) for name, arm in parse_arms(config.compare.arms).items()}
    jobs, subs = {}, {}
    for setting, changes in config.experiment.settings.items():
        init = changes.get("finetune.init")  # may name an auxiliary: a target initialised from it
        resolved = {**changes, "finetune.init": encoders.get(init, init)} if init else changes
        subs[setting] = sub = apply_overrides(
            project(config, CompareConfig), {**resolved, "output_dir": str(root.path), "name": setting}
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
    transfers = transfer_efficiencies(subs, arms, comparisons)
    write_report(root, config, comparisons, encoders, merged, figures, transfers)
    return comparisons


def pretrain_auxiliaries(config: Any, root: RunDir, auxiliaries: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each named auxiliary encoder as the pretraining run ``<root>/aux/<name>``, copied from the encoder
    cache (:mod:`workflows.encoder_cache`: pretrained there first when missing); their checkpoints by name."""
    runs = {name: project(config, PretrainRun, changes) for name, changes in auxiliaries.items()}
    encoders = cached_encoders(runs, {name: root.auxiliary(name) for name in runs}, config.executor)
    return {name: str(path) for name, path in encoders.items()}


def transfer_efficiencies(settings: dict[str, CompareConfig], arms: dict[str, Arm],
                          comparisons: dict[str, Comparison]) -> list[tuple[str, str, TransferEfficiency]]:  # fmt: skip
    """``(from-scratch setting, pretrained setting, efficiency)`` for every pathway arm whose one auxiliary
    is the checkpoint a pretrained setting of the same mode starts from (:mod:`analysis.transfer`)."""
    found = []
    for pretrained, p in settings.items():
        if p.finetune.start != "pretrained" or not p.finetune.init:
            continue
        for scratch, s in settings.items():
            if s.finetune.start != "from_scratch" or s.finetune.mode != p.finetune.mode:
                continue
            for name, arm in arms.items():
                if len(arm.aux) == 1 and not arm.aux[0].is_control and _same_file(arm.aux[0].source, p.finetune.init):
                    efficiency = transfer_efficiency(comparisons[scratch], comparisons[pretrained], name)
                    found.append((scratch, pretrained, efficiency))
    return found


def _same_file(a: str | None, b: str) -> bool:
    return a is not None and Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def headline_tests(comparisons: dict[str, Comparison], correction: str = "holm") -> dict[tuple[str, str], Adjusted]:
    """Every setting's verdict tests (:meth:`Comparison.headline_p_values`) adjusted together as one
    family; empty when the report makes fewer than two."""
    p = {(setting, arm): value for setting, c in comparisons.items() for arm, value in c.headline_p_values().items()}
    adjusted = adjust_p_values(p, correction)
    return adjusted if sum(not math.isnan(a.p) for a in adjusted.values()) > 1 else {}


def write_report(root: RunDir, config: ExperimentConfig, comparisons: dict[str, Comparison],
                 encoders: dict[str, str], merged: dict[str, Any] | None, figures: list[Path],
                 transfers: Sequence[tuple[str, str, TransferEfficiency]] = (), correction: str = "holm") -> Path:  # fmt: skip
    lines = [f"# Experiment {root.path.name}", "",
             f"Target: {config.model.modality} ({config.data.dataset}), model {config.model.size}; "
             f"seeds {config.compare.seeds}; {config.epochs} epochs per run.",
             "Auxiliaries: " + (", ".join(f"{n} ({p})" for n, p in encoders.items()) or "none"), ""]  # fmt: skip
    adjusted = headline_tests(comparisons, correction)
    if adjusted:
        tested = sum(not math.isnan(a.p) for a in adjusted.values())
        lines += [f"Each verdict's main claim (a pathway or positive reference beyond its setting's best control, or "
                  f"vs the baseline without controls) is a paired t-test; the {tested} such tests of this report are {CORRECTION_NAMES[correction]}"
                  f"-adjusted as one family (controlling {CORRECTION_CONTROLS[correction]} at 5%), and a finding needs "
                  "an adjusted p below 0.05. Intervals are per comparison, unadjusted. Minimum detectable effects: 80% "
                  "power, 5% two-sided per test, from the observed spread of the paired differences.", ""]  # fmt: skip
    for setting, comparison in comparisons.items():
        lines += [f"## {setting}", "", comparison.markdown(), ""]
        lines += [comparison.verdict(arm, adjusted=adjusted.get((setting, arm))) + "\n" for arm in comparison.pathways]
        positive = next(iter(comparison.positive_references), None)
        if sensitivity := comparison.sensitivity(adjusted=adjusted.get((setting, positive))):
            lines += [sensitivity, ""]
    if transfers:
        lines += ["## Transfer efficiency", "",
                  "The gain through the pathway (from scratch) over the gain of starting from the same auxiliary "
                  "(the pretrained setting's baseline minus the from-scratch one), paired by seed:", ""]  # fmt: skip
        lines += [f"- {scratch} / {pretrained}: {t.sentence()}" for scratch, pretrained, t in transfers] + [""]
    if merged:
        status = "verified" if merged["verified"] else "FAILED"
        lines += ["## Merge", "", f"{merged['source']} -> {merged['merged']}: max |output difference| "
                  f"{merged['max_abs_difference']:.2e} ({status}); {merged['parameters_before']:,} -> "
                  f"{merged['parameters_after']:,} parameters.", ""]  # fmt: skip
    if figures:
        lines += ["## Figures", "", *(f"- {p.relative_to(root.path)}" for p in figures if p.suffix == ".html"), ""]
    return root.write_text(RunDir.REPORT, "\n".join(lines))
