"""Arms of a comparison, and running them with the trainer.

An arm is a mapping of dotted config overrides (one ``compare.arms`` entry); the ``compare``
stage fine-tunes every arm over the same seeds and saves a paired comparison. Ablations and
block-order experiments are functions that build arms; :func:`run_arms` runs them.
"""

from collections.abc import Sequence
from typing import Any

from m2pt.comparison import Comparison
from m2pt.train import Config, apply_overrides, run_stage

Arm = dict[str, Any]
Arms = dict[str, Arm]


def pathway_arm(aux: str | Sequence[str], **pathway: Any) -> Arm:
    """The overrides of an arm with auxiliary ``aux`` (a checkpoint path or a control spec, or a
    list of them) and ``pathway.<key>=value`` for each keyword, e.g. ``block_map="reversed"``."""
    return {"pathway.aux": [aux] if isinstance(aux, str) else list(aux)} | {
        f"pathway.{key}": value for key, value in pathway.items()
    }


def run_arms(name: str, arms: Arms, config: Config, seeds: Sequence[int] | None = None) -> Comparison:
    """Run ``arms`` as the comparison ``<config.output_dir>/<name>`` (finished runs are reused).

    ``config`` holds everything the arms share (data, model, schedule); ``seeds`` defaults to
    ``config.compare.seeds``.
    """
    changes: dict[str, Any] = {"name": name, "compare.arms": arms}
    if seeds is not None:
        changes["compare.seeds"] = list(seeds)
    return Comparison.from_json(run_stage("compare", apply_overrides(config, changes)))
