"""``grid``: the paper's Figure 3 at toy scale, every ordered (target, auxiliary) modality pair.

1. Pretrain one encoder per modality of ``grid.modalities`` on its own dataset, or find it in the
   encoder cache (:mod:`workflows.encoder_cache`), in ``<grid>/aux/<modality>``.
2. For every ordered pair, compare the arms in ``<grid>/<target>__<aux>/``, the auxiliary
   ``paired`` being the pair's encoder and ``own`` the target's. Arms that do not use ``paired``
   (the baseline, the random control, a same-modality reference) do not depend on the pair: they
   run once per target in ``<grid>/<target>__shared/`` and every pair of that target links to
   them, so they cost one run per seed instead of one per pair. All runs go to the executor
   together.
3. ``grid.md`` and ``figures/grid_heatmap.html`` (:func:`analysis.grid.write_grid_report`, which
   re-reads and re-plots a grid from its run folders alone).
"""

import os
from pathlib import Path

from analysis.grid import write_grid_report
from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, apply_overrides, project
from workflows.arms import parse_arms
from workflows.compare import arm_jobs, check_jobs, collect, write_workflow_files
from workflows.config import CompareConfig, GridConfig
from workflows.executors import execute
from workflows.experiment import pretrain_auxiliaries

PAIRED, OWN = "paired", "own"  # the auxiliary names a grid's arms may use


def grid(config: GridConfig) -> dict[tuple[str, str], Comparison]:
    modalities = config.grid.modalities
    if len(modalities) < 2:
        raise ConfigError("grid.modalities needs at least two modalities")
    root = write_workflow_files(config)
    unknown = set(config.grid.pretrain_by_modality) - set(modalities)
    if unknown:
        raise ConfigError(f"grid.pretrain_by_modality names {sorted(unknown)}, which grid.modalities does not have")
    encoders = pretrain_auxiliaries(config, root, {
        name: {**changes, **config.grid.pretrain, **config.grid.pretrain_by_modality.get(name, {})}
        for name, changes in modalities.items()
    })  # fmt: skip
    arms = parse_arms(config.compare.arms)
    shared = [name for name, arm in arms.items() if not arm.uses(PAIRED)]
    pairs = {}
    for target, changes in modalities.items():
        for aux in modalities:
            if aux == target:
                continue
            folder = root.path / RunDir.pair_name(target, aux)
            sub = apply_overrides(project(config, CompareConfig), {**changes, "output_dir": str(root.path),
                                                                  "name": folder.name})  # fmt: skip
            resolved = {name: arm.resolve({PAIRED: encoders[aux], OWN: encoders[target]}) for name, arm in arms.items()}
            shared_folders = {name: root.path / RunDir.shared_name(target) / name for name in shared}
            pairs[target, aux] = (resolved, arm_jobs(sub, resolved, folder, shared_folders))
            check_jobs(pairs[target, aux][1])
            link_shared_arms(folder, shared_folders)
    unique = {job.config.path(): job for _, jobs in pairs.values() for seeds in jobs.values() for job in seeds}
    execute(list(unique.values()), config.executor, f"grid {root.path.name}")
    results = {
        pair: collect(root.path / RunDir.pair_name(*pair), jobs, resolved, config.compare.reference)
        for pair, (resolved, jobs) in pairs.items()
    }
    write_grid_report(root.path)
    return results


def link_shared_arms(pair: Path, shared: dict[str, Path]) -> None:
    """Point ``<pair>/<arm>`` at the target's shared folder of each pair-independent arm."""
    for arm, folder in shared.items():
        folder.mkdir(parents=True, exist_ok=True)
        link = pair / arm
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(folder, link.parent), link)
