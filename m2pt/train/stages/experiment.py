"""``experiment``: the workbench's main job, end to end, resumable.

1. Pretrain each auxiliary encoder of ``experiment.auxiliaries`` (masked autoencoding, labels
   unused), or reuse it when already there.
2. For each setting of ``experiment.settings`` (e.g. from-scratch and fix), run ``compare``:
   every arm of ``compare.arms`` over ``compare.seeds``, ``${name}`` replaced by the path of
   auxiliary ``name``'s encoder.
3. Merge the first seed's ``experiment.merge_arm`` model and verify the merge.
4. Write ``report.md``: each setting's table, a plain-words verdict on the effect beyond the
   controls (and, with a ``same_modality`` arm, on whether the setup can detect a helpful
   auxiliary at all), the merge check, and the figures (``figures/``: comparisons, λ and the
   effective contribution over training and per layer).
"""

from pathlib import Path
from typing import Any

from m2pt.atomic import atomic_write_text
from m2pt.comparison import Comparison
from m2pt.train.config import Config, apply_overrides
from m2pt.train.run_dir import RunDir
from m2pt.train.session import run_path
from m2pt.train.stages import register_stage
from m2pt.train.stages.compare import compare
from m2pt.train.stages.merge import merge_stage
from m2pt.train.stages.pretrain import pretrain


@register_stage("experiment", "the main job: pretrain auxiliaries, compare arms per setting, merge, report")
def experiment(config: Config, overrides: list[str] = (), resume: bool = False) -> dict[str, Any]:
    root = run_path(config)
    run = RunDir(root)
    run.write_config(config)
    run.write_environment()
    encoders = {
        name: pretrain_or_reuse(config, root, name, changes) for name, changes in config.experiment.auxiliaries.items()
    }
    arms = substitute(config.compare.arms, {f"${{{name}}}": str(path) for name, path in encoders.items()})
    comparisons = {}
    for setting, changes in config.experiment.settings.items():
        sub = apply_overrides(
            config, {**changes, "compare.arms": arms, "stage": "compare", "output_dir": str(root), "name": setting}
        )
        print(f"\n== setting: {setting} ==")
        comparisons[setting] = Comparison.from_json(compare(sub))
    merged = None
    first = next(iter(config.experiment.settings), None)
    if config.experiment.merge_arm and first:
        source = root / first / config.experiment.merge_arm / f"seed{config.compare.seeds[0]}"
        merged = merge_stage(apply_overrides(config, {"source": str(source), "stage": "merge"}))
    from analysis.report import experiment_figures  # analysis builds on the trainer: imported when used

    figures = experiment_figures(root, arm=config.experiment.merge_arm or "m2pt")
    report = write_report(root, config, comparisons, encoders, merged, figures)
    print(f"\n{report.read_text()}\nreport: {report}")
    return {setting: c.to_json() for setting, c in comparisons.items()}


def pretrain_or_reuse(config: Config, root: Path, name: str, changes: dict[str, Any]) -> Path:
    sub = apply_overrides(config, {**changes, "stage": "pretrain", "output_dir": str(root / "aux"), "name": name})
    folder = run_path(sub)
    encoder = folder / "encoder.safetensors"
    if not encoder.exists():
        print(f"\n== pretraining auxiliary '{name}' ({sub.model.modality}, {sub.data.dataset}) ==")
        pretrain(sub, resume=(folder / "checkpoints" / "last.pt").exists())
    return encoder


def substitute(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every ``${name}`` inside its strings replaced."""
    if isinstance(value, str):
        for placeholder, replacement in names.items():
            value = value.replace(placeholder, replacement)
        return value
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    return value


def write_report(root: Path, config: Config, comparisons: dict[str, Comparison], encoders: dict[str, Path],
                 merged: dict[str, Any] | None, figures: list[Path]) -> Path:  # fmt: skip
    lines = [f"# Experiment {root.name}", "",
             f"Target: {config.model.modality} ({config.data.dataset}), model {config.model.size}; "
             f"seeds {config.compare.seeds}; {config.epochs} epochs per run.",
             "Auxiliaries: " + (", ".join(f"{n} ({p})" for n, p in encoders.items()) or "none"), ""]  # fmt: skip
    arm = config.experiment.merge_arm
    for setting, comparison in comparisons.items():
        lines += [f"## {setting}", "", comparison.markdown(), ""]
        if arm in comparison.scores:
            lines += [comparison.verdict(arm), ""]
        if sensitivity := comparison.sensitivity():
            lines += [sensitivity, ""]
    if merged:
        status = "verified" if merged["verified"] else "FAILED"
        lines += ["## Merge", "", f"{merged['source']} -> {merged['merged']}: max |output difference| "
                  f"{merged['max_abs_difference']:.2e} ({status}); {merged['parameters_before']:,} -> "
                  f"{merged['parameters_after']:,} parameters.", ""]  # fmt: skip
    if figures:
        lines += ["## Figures", "", *(f"- {p.relative_to(root)}" for p in figures if p.suffix == ".html"), ""]
    path = root / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
