"""``experiment``: the workbench's main job, end to end, resumable.

1. Train each auxiliary encoder of ``experiment.auxiliaries`` (masked autoencoding, labels unused;
   or, with ``stage: finetune``, a supervised encoder), or find it in the encoder cache
   (``$M2PT_CACHE/encoders``, keyed by its config), and copy it to ``<experiment>/aux/<name>``;
   kept when already there.
2. For each setting of ``experiment.settings`` (e.g. tune and fix), compare every arm of
   ``compare.arms`` over ``compare.seeds`` in ``<experiment>/<setting>`` (a setting may set its own
   ``compare.arms`` and ``compare.seeds``); an arm's auxiliary named like an auxiliary of step 1 is
   that encoder. All settings' runs go to the executor together.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.report import experiment_figures
from analysis.transfer import TransferEfficiency, transfer_efficiency
from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.stats import CORRECTION_CONTROLS, CORRECTION_NAMES, Adjusted, adjust_p_values
from m2pt.train import run_stage
from m2pt.train.config import ConfigError, FinetuneRun, MergeConfig, PretrainRun, apply_overrides, project
from workflows.arms import Arm, parse_arms
from workflows.compare import arm_jobs, check_jobs, collect, write_workflow_files
from workflows.config import CompareConfig, ExperimentConfig
from workflows.encoder_cache import cached_encoders
from workflows.executors import execute


def experiment(config: ExperimentConfig) -> dict[str, Comparison]:
    root = write_workflow_files(config)
    subs = {
        setting: apply_overrides(
            project(config, CompareConfig), {**changes, "output_dir": str(root.path), "name": setting}
        )  # fmt: skip
        for setting, changes in config.experiment.settings.items()
    }
    for setting, sub in subs.items():
        if config.experiment.auxiliaries.get(sub.finetune.init, {}).get("per_seed"):
            raise ConfigError(f"experiment.settings.{setting}: finetune.init names the per_seed auxiliary "
                              f"{sub.finetune.init!r}; a setting starts every seed from one checkpoint")  # fmt: skip
    seeds = sorted({seed for sub in subs.values() for seed in sub.compare.seeds})
    trained = train_auxiliaries(config, root, config.experiment.auxiliaries, seeds, seeds_using(subs))
    encoders = trained.names()
    jobs, arms = {}, {}
    for setting, sub in subs.items():
        init = sub.finetune.init  # may name an auxiliary: a target initialised from it
        subs[setting] = sub = apply_overrides(sub, {"finetune.init": encoders.get(init, init)}) if init else sub
        arms[setting] = {name: arm.resolve(encoders) for name, arm in parse_arms(sub.compare.arms).items()}
        jobs[setting] = arm_jobs(sub, arms[setting], sub.path(), seed_names=trained.names)
        check_jobs(jobs[setting])
    execute([job for arms_ in jobs.values() for seeds in arms_.values() for job in seeds], config.executor,
            f"experiment {root.path.name}")  # fmt: skip
    comparisons = {
        setting: collect(root.path / setting, setting_jobs, arms[setting], subs[setting].compare.reference)
        for setting, setting_jobs in jobs.items()
    }
    merged = None
    first = next(iter(config.experiment.settings), None)
    if config.experiment.merge_arm and first:
        source = root.path / first / config.experiment.merge_arm / RunDir.seed_name(subs[first].compare.seeds[0])
        with contextlib.redirect_stdout(io.StringIO()):  # the report says how the merge went
            merged = run_stage("merge", MergeConfig(source=str(source)))
    figures = experiment_figures(root.path)
    transfers = transfer_efficiencies(subs, arms, comparisons)
    first_seed = next(iter(trained.by_seed.values()), {})
    per_seed = {name: f"{path} and one per other seed" for name, path in first_seed.items()}
    write_report(root, config, comparisons, encoders | per_seed, merged, figures, transfers)
    return comparisons


AUXILIARY_STAGES = {"pretrain": PretrainRun, "finetune": FinetuneRun}  # an auxiliary's `stage:` (default pretrain)
AUXILIARY_SEED = 1_000_003  # auxiliaries' default seed: no fine-tuning seed starts from their initial weights


@dataclass(frozen=True)
class Auxiliaries:
    """Where the trained auxiliaries' weights are: one file each, or one per fine-tuning seed."""

    files: dict[str, str] = field(default_factory=dict)  # name -> weights
    by_seed: dict[int, dict[str, str]] = field(default_factory=dict)  # seed -> name -> weights (per_seed: true)

    def names(self, seed: int | None = None) -> dict[str, str]:
        """The weights each name stands for in the runs of ``seed`` (without: the shared ones)."""
        return {**self.files, **self.by_seed.get(seed, {})} if seed is not None else dict(self.files)


def seeds_using(settings: Mapping[str, CompareConfig]) -> dict[str, list[int]]:
    """Per auxiliary source named in the settings' arms, the fine-tuning seeds of the settings that use it."""
    found: dict[str, set[int]] = {}
    for sub in settings.values():
        for arm in parse_arms(sub.compare.arms).values():
            for name in (name for aux in arm.aux for name in aux.sources):
                found.setdefault(name, set()).update(sub.compare.seeds)
    return {name: sorted(seeds) for name, seeds in found.items()}


def experiment_setting(name: str) -> str:
    """Where an experiment's auxiliary ``name`` is set (what its configuration errors name)."""
    return f"experiment.auxiliaries.{name}"


def train_auxiliaries(config: Any, root: RunDir, auxiliaries: dict[str, dict[str, Any]],
                      seeds: Sequence[int] = (), needed: Mapping[str, Sequence[int]] | None = None,
                      setting: Callable[[str], str] = experiment_setting) -> Auxiliaries:  # fmt: skip
    """Each named auxiliary encoder as the run ``<root>/aux/<name>``, copied from the encoder cache
    (:mod:`workflows.encoder_cache`: trained there first when missing).

    An auxiliary is a masked autoencoder (``stage: pretrain``, the default) or a supervised encoder
    (``stage: finetune``: a classifier trained on labelled data, whose blocks carry knowledge known
    to help, the positive reference's kind). A supervised auxiliary may start from another
    auxiliary (``finetune.init: <its name>``): the named ones are trained first. An auxiliary is
    trained with :data:`AUXILIARY_SEED` unless it sets ``seed``, which may not be one of the
    fine-tuning ``seeds`` (that target would start from the auxiliary's own initial weights), or,
    with ``per_seed: true``, once per fine-tuning seed with that seed, in ``<name>/seed<k>``: a
    supervised auxiliary from scratch is then, for each seed, the target's own trained weights. Given
    ``needed`` (:func:`seeds_using`), a per_seed auxiliary is trained only for the seeds that use it
    or an auxiliary started from it. ``setting(name)`` says where an auxiliary is set, for errors."""
    runs = auxiliary_runs(config, auxiliaries, seeds, needed, setting)
    names = {name for name, _ in runs}
    first = {key: run for key, run in runs.items() if _init_of(run) not in names}
    later = {key: run for key, run in runs.items() if key not in first}
    sources = {}  # a later run's init: the first-wave run of the same seed, else the shared one
    for (name, seed), run in later.items():
        sources[name, seed] = next((k for k in ((_init_of(run), seed), (_init_of(run), None)) if k in first), None)
        if sources[name, seed] is None:
            raise ConfigError(f"{setting(name)}: finetune.init names {_init_of(run)!r}, which starts "
                              "from another auxiliary itself (or is per_seed while this one is not); an auxiliary "
                              "may start from one that does not")  # fmt: skip
    folders = {(name, seed): root.auxiliary(name) if seed is None else root.auxiliary(name) / RunDir.seed_name(seed)
               for name, seed in runs}  # fmt: skip
    weights = cached_encoders(first, {key: folders[key] for key in first}, config.executor)
    later = {key: apply_overrides(run, {"finetune.init": str(weights[sources[key]])}) for key, run in later.items()}
    weights |= cached_encoders(later, {key: folders[key] for key in later}, config.executor)
    found = Auxiliaries()
    for (name, seed), path in weights.items():
        (found.files if seed is None else found.by_seed.setdefault(seed, {}))[name] = str(path)
    return found


def auxiliary_runs(config: Any, auxiliaries: dict[str, dict[str, Any]], seeds: Sequence[int],
                   needed: Mapping[str, Sequence[int]] | None = None, setting: Callable[[str], str] = experiment_setting,
                   ) -> dict[tuple[str, int | None], PretrainRun | FinetuneRun]:  # fmt: skip
    """The run of each auxiliary (keyed ``(name, None)``), or of each seed's (``(name, seed)``, per_seed: each
    of ``seeds``, or only those ``needed`` by it or by an auxiliary that starts from it)."""
    runs = {}
    for name, changes in auxiliaries.items():
        changes = dict(changes)
        stage, per_seed = changes.pop("stage", "pretrain"), changes.pop("per_seed", False)
        if stage not in AUXILIARY_STAGES:
            raise ConfigError(f"{setting(name)}.stage: {stage!r}; choose from {sorted(AUXILIARY_STAGES)}")
        if per_seed and "seed" in changes:
            raise ConfigError(f"{setting(name)}: per_seed auxiliaries take each fine-tuning seed, not seed")
        if not per_seed and changes.setdefault("seed", AUXILIARY_SEED) in seeds:
            raise ConfigError(f"{setting(name)}: seed {changes['seed']} is a fine-tuning seed too, so that "
                              "seed's target would start from the auxiliary's initial weights; give it another seed")  # fmt: skip
        for seed in seeds if per_seed else [None]:
            runs[name, seed] = project(config, AUXILIARY_STAGES[stage], changes | ({"seed": seed} if per_seed else {}))
    if needed is None:
        return runs
    keep = {name: set(needed.get(name, ())) for name in auxiliaries}
    for (name, seed), run in runs.items():  # an auxiliary starts from another: one level deep
        if seed is not None and seed in keep[name] and _init_of(run) in keep:
            keep[_init_of(run)].add(seed)
    return {(name, seed): run for (name, seed), run in runs.items() if seed is None or seed in keep[name]}


def _init_of(run: PretrainRun | FinetuneRun) -> str | None:
    return run.finetune.init if isinstance(run, FinetuneRun) else None


def transfer_efficiencies(settings: dict[str, CompareConfig], arms: dict[str, dict[str, Arm]],
                          comparisons: dict[str, Comparison]) -> list[tuple[str, str, TransferEfficiency]]:  # fmt: skip
    """``(from-scratch setting, pretrained setting, efficiency)`` for every pair of settings and arm of
    :func:`transfer_arms` (:mod:`analysis.transfer`)."""
    return [
        (scratch, pretrained, transfer_efficiency(comparisons[scratch], comparisons[pretrained], name))
        for pretrained, p in settings.items()
        for scratch, s in settings.items()
        for name in transfer_arms(s, p, arms[scratch])
    ]


def transfer_arms(scratch: CompareConfig, pretrained: CompareConfig, arms: dict[str, Arm]) -> list[str]:
    """The pathway arms (of ``arms``, from the from-scratch setting ``scratch``) whose one auxiliary is the
    checkpoint the setting ``pretrained``, of the same mode, starts from: their transfer efficiency is defined."""
    p, s = pretrained.finetune, scratch.finetune
    if p.start != "pretrained" or not p.init or s.start != "from_scratch" or s.mode != p.mode:
        return []
    return [
        name for name, arm in arms.items()
        if len(arm.aux) == 1 and not arm.aux[0].is_control and _same_file(arm.aux[0].source, p.init)
    ]  # fmt: skip


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
             f"seeds {_seeds(comparisons)}; {config.epochs} epochs per run.",
             "Auxiliaries: " + (", ".join(f"{n} ({p})" for n, p in encoders.items()) or "none"), ""]  # fmt: skip
    adjusted = headline_tests(comparisons, correction)
    if adjusted:
        tested = sum(not math.isnan(a.p) for a in adjusted.values())
        lines += [f"Each verdict's main claim (a pathway beyond its setting's best control, or vs the baseline "
                  f"without controls) is a paired t-test; the {tested} such tests of this report are {CORRECTION_NAMES[correction]}"
                  f"-adjusted as one family (controlling {CORRECTION_CONTROLS[correction]} at 5%), and a finding needs "
                  "an adjusted p below 0.05. A positive reference checks the instrument on a known answer: it passes "
                  "when its paired 95% interval beyond the best control excludes zero (unadjusted: it is not a claim). "
                  "Intervals are per comparison, unadjusted. Minimum detectable effects: 80% "
                  "power, 5% two-sided per test, from the observed spread of the paired differences.", ""]  # fmt: skip
    for setting, comparison in comparisons.items():
        lines += [f"## {setting}", "", comparison.markdown(), ""]
        lines += [comparison.verdict(arm, adjusted=adjusted.get((setting, arm))) + "\n" for arm in comparison.pathways]
        for positive in comparison.positive_references:
            if sensitivity := comparison.sensitivity(positive):
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


def _seeds(comparisons: dict[str, Comparison]) -> str:
    """The seeds of the report: once when every setting ran the same, else each setting's."""
    used = {
        setting: sorted({seed for scores in c.scores.values() for seed in scores}) for setting, c in comparisons.items()
    }
    if len({tuple(seeds) for seeds in used.values()}) <= 1:
        return str(next(iter(used.values()), []))
    return ", ".join(f"{setting} {seeds}" for setting, seeds in used.items())
