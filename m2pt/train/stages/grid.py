"""``grid``: the paper's Figure 3 at toy scale, every ordered (target, auxiliary) modality pair.

1. Pretrain one encoder per modality of ``grid.modalities`` on its own dataset (reused when
   already there).
2. For every ordered pair, run ``compare`` in ``<run>/<target>__<aux>/`` with ``${aux}`` and
   ``${self}`` of ``compare.arms`` replaced by the encoders. Arms that do not use ``${aux}``
   (the baseline, the random control, a same-modality reference) do not depend on the pair:
   they run once per target in ``<run>/<target>__shared/`` and every pair of that target links
   to them, so they cost one run per seed instead of one per pair.
3. ``grid.md`` and ``figures/grid_heatmap.html``: per pair, the paired effect of ``m2pt`` vs
   the baseline and beyond the best control (``analysis.grid``, which re-reads and re-plots a
   grid from its run folders alone).
"""

import os
from pathlib import Path
from typing import Any

from m2pt.comparison import Comparison
from m2pt.train.config import Config, ConfigError, apply_overrides
from m2pt.train.run_dir import RunDir
from m2pt.train.session import run_path
from m2pt.train.stages import register_stage
from m2pt.train.stages.compare import compare
from m2pt.train.stages.experiment import pretrain_or_reuse, substitute

AUX, SELF = "${aux}", "${self}"


@register_stage("grid", "every ordered (target, auxiliary) modality pair with controls (Figure 3)")
def grid(config: Config, overrides: list[str] = (), resume: bool = False) -> dict[str, Any]:
    modalities = config.grid.modalities
    if len(modalities) < 2:
        raise ConfigError("grid.modalities needs at least two modalities")
    root = run_path(config)
    run = RunDir(root)
    run.write_config(config)
    run.write_environment()
    encoders = {
        name: pretrain_or_reuse(config, root, name, {**changes, **config.grid.pretrain})
        for name, changes in modalities.items()
    }
    results = {}
    for target, changes in modalities.items():
        for aux in modalities:
            if aux == target:
                continue
            pair = f"{target}__{aux}"
            arms = substitute(config.compare.arms, {AUX: str(encoders[aux]), SELF: str(encoders[target])})
            link_shared_arms(root, target, pair, config.compare.arms)
            sub = apply_overrides(config, {**changes, "compare.arms": arms, "stage": "compare",
                                           "output_dir": str(root), "name": pair})  # fmt: skip
            print(f"\n== target {target}, auxiliary {aux} ==")
            results[pair] = Comparison.from_json(compare(sub))
    from analysis.grid import write_grid_report  # analysis builds on the trainer: imported when used

    table, *figures = write_grid_report(root)
    print(f"\n{table.read_text()}\ngrid table: {table}\nfigures: {', '.join(map(str, figures))}")
    return {pair: comparison.to_json() for pair, comparison in results.items()}


def link_shared_arms(root: Path, target: str, pair: str, arms: dict[str, dict[str, Any]]) -> None:
    """Point ``<pair>/<arm>`` at ``<target>__shared/<arm>`` for each arm that does not use ``${aux}``."""
    for arm, changes in arms.items():
        if AUX in repr(changes):
            continue
        shared = root / f"{target}__shared" / arm
        shared.mkdir(parents=True, exist_ok=True)
        link = root / pair / arm
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(shared, link.parent), link)
