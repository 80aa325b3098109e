"""``compare``: arms (baseline, M2PT, controls, ...) fine-tuned over the same seeds.

Each arm is the run's config plus that arm's overrides (``compare.arms``); each (arm, seed)
is a finetune run in ``<run>/<arm>/seed<k>``, all with identical data, data order, target
initialisation (per seed) and budget. Finished sub-runs are reused and interrupted ones
resumed, so a killed comparison continues where it stopped. Writes ``results.json``,
``results.md`` and ``results.csv``: per-arm mean, std and 95% interval, the paired difference
from the reference arm, the relative improvement, and the effect beyond the best control.
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

from m2pt.atomic import atomic_write_text
from m2pt.comparison import Comparison
from m2pt.controls import is_control
from m2pt.train.classifier import build_classifier
from m2pt.train.config import Config, ConfigError, apply_overrides
from m2pt.train.data import build_data, check_modality
from m2pt.train.run_dir import RunDir
from m2pt.train.session import run_path
from m2pt.train.stages import register_stage
from m2pt.train.stages.finetune import finetune


@register_stage("compare", "baseline vs M2PT (and controls) over seeds, same data order and budget")
def compare(config: Config, overrides: list[str] = (), resume: bool = False) -> dict[str, Any]:
    root = run_path(config)
    arms = arm_configs(config, root)
    data = build_data(config.data)
    for seeds in arms.values():  # every arm must build before anything trains
        check_modality(seeds[0].data, seeds[0].model.modality)
        build_classifier(seeds[0], len(data.classes), log=lambda _: None)
    run = RunDir(root)
    run.write_config(config)
    run.write_environment()
    scores, rows = {}, []
    for arm, seeds in arms.items():
        scores[arm] = {}
        for sub in seeds:
            summary = run_or_reuse(sub, data)
            scores[arm][sub.seed] = summary["final"]["val_acc"]
            rows.append({"arm": arm, "seed": sub.seed, **summary["final"]})
    controls = [
        arm for arm, seeds in arms.items() if seeds[0].pathway.aux and all(map(is_control, seeds[0].pathway.aux))
    ]
    comparison = Comparison(scores, reference=config.compare.reference, controls=controls)
    comparison.save(root)
    atomic_write_text(root / "results.csv", _csv(rows))
    print(f"\n{comparison.markdown()}\n\nresults in {root}/results.md")
    return comparison.to_json()


def arm_configs(config: Config, root: Path) -> dict[str, list[Config]]:
    """The finetune config of every (arm, seed)."""
    arms = config.compare.arms
    if config.compare.reference not in arms:
        raise ConfigError(f"compare.reference={config.compare.reference!r} is not among the arms {sorted(arms)}")
    out = {}
    for arm, changes in arms.items():
        out[arm] = [
            apply_overrides(
                config,
                {**changes, "stage": "finetune", "seed": seed, "output_dir": str(root / arm), "name": f"seed{seed}"},
            )
            for seed in config.compare.seeds
        ]
    return out


def run_or_reuse(config: Config, data) -> dict[str, Any]:
    """A finished sub-run's summary, or the summary of running (or resuming) it now."""
    path = run_path(config)
    summary = path / "summary.json"
    if summary.exists():
        return json.loads(summary.read_text())
    return finetune(config, resume=(path / "checkpoints" / "last.pt").exists(), data=data)


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
