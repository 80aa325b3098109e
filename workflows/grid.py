"""``grid``: the paper's Figure 3 at toy scale, every ordered (target, auxiliary) modality pair.

1. Pretrain one encoder per modality of ``grid.modalities`` on its own dataset, or find it in the
   encoder cache (:mod:`workflows.encoder_cache`), in ``<grid>/aux/<modality>``.
2. For every ordered pair, compare the arms in ``<grid>/<target>__<aux>/``, the auxiliary
   ``paired`` being the pair's encoder and ``own`` the target's. Arms that do not use ``paired``
   (the baseline, the random control, a same-modality reference) do not depend on the pair: they
   run once per target in ``<grid>/<target>__shared/`` and every pair of that target links to
   them, so they cost one run per seed instead of one per pair. All runs go to the executor
   together. ``grid.references`` (e.g. a classifier of each target's own task, the positive
   reference) are trained per modality in step 1 and named in the arms like ``own``.
3. ``grid.md`` and ``figures/grid_heatmap.html`` (:func:`analysis.grid.write_grid_report`, which
   re-reads and re-plots a grid from its run folders alone).

With ``grid.settings`` (e.g. from scratch and the paper's pretrained setting, whose
``finetune.init: own`` starts each target from its own modality's encoder), steps 2 and 3 run once
per setting in ``<grid>/<setting>/``, itself a grid folder, and ``<grid>/grid.md`` gathers them.
"""

import functools
import os
from pathlib import Path
from typing import Any

from analysis.grid import write_grid_report
from analysis.transfer import TransferEfficiency, transfer_efficiency
from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, apply_overrides, project
from workflows.arms import parse_arms
from workflows.compare import arm_jobs, check_jobs, collect, write_workflow_files
from workflows.config import CompareConfig, GridConfig
from workflows.executors import execute
from workflows.experiment import Auxiliaries, seeds_using, train_auxiliaries, transfer_arms

PAIRED, OWN = "paired", "own"  # the auxiliary names a grid's arms may use


def grid(config: GridConfig) -> dict[tuple[str, str], Comparison]:
    """Every ordered pair's comparison (of the first setting when ``grid.settings`` names several)."""
    return grid_settings(config)[next(iter(config.grid.settings or {"": {}}))]


def grid_settings(config: GridConfig) -> dict[str, dict[tuple[str, str], Comparison]]:
    """Each setting's pair comparisons; without ``grid.settings``, one unnamed setting (``""``) at the root."""
    modalities = config.grid.modalities
    if len(modalities) < 2:
        raise ConfigError("grid.modalities needs at least two modalities")
    unknown = set(config.grid.pretrain_by_modality) - set(modalities)
    if unknown:
        raise ConfigError(f"grid.pretrain_by_modality names {sorted(unknown)}, which grid.modalities does not have")
    clash = set(config.grid.references) & {PAIRED, OWN, *modalities}
    if clash:
        raise ConfigError(f"grid.references names {sorted(clash)}: a reference is named unlike the modalities, "
                          f"{PAIRED!r} and {OWN!r}")  # fmt: skip
    settings = config.grid.settings or {"": {}}
    misnamed = [f"{setting}.{target}" for setting, by_target in config.grid.settings_by_modality.items()
                for target in by_target if setting not in settings or target not in modalities]  # fmt: skip
    if misnamed:
        raise ConfigError(f"grid.settings_by_modality names {misnamed}: each must be a setting of grid.settings, "
                          "then a modality of grid.modalities")  # fmt: skip
    root = write_workflow_files(config)
    targets = {setting: target_subs(config, setting) for setting in settings}
    seeds = {seed for subs in targets.values() for sub in subs.values() for seed in sub.compare.seeds}
    encoders = {
        name: {**changes, **config.grid.pretrain, **config.grid.pretrain_by_modality.get(name, {})}
        for name, changes in modalities.items()
    }
    references = {
        reference_name(modality, name): {**changes, **own_init(reference, modality)}
        for modality, changes in modalities.items() for name, reference in config.grid.references.items()
    }  # fmt: skip
    trained = train_auxiliaries(
        config, root, encoders | references, sorted(seeds), references_needed(config, targets), grid_setting
    )
    folders = {setting: root.path / setting if setting else root.path for setting in settings}
    pairs = {setting: setting_pairs(config, folders[setting], targets[setting], trained) for setting in settings}
    every = [job for one in pairs.values() for _, _, jobs in one.values() for seeds in jobs.values() for job in seeds]
    unique = {job.config.path(): job for job in every}
    execute(list(unique.values()), config.executor, f"grid {root.path.name}")
    results = {
        setting: {
            pair: collect(sub.path(), jobs, arms, sub.compare.reference) for pair, (sub, arms, jobs) in one.items()
        }
        for setting, one in pairs.items()
    }
    for folder in folders.values():
        write_grid_report(folder)
    if config.grid.settings:
        write_settings_report(root, list(settings), grid_transfers(pairs, results))
    return results


def grid_transfers(pairs, results) -> list[tuple[str, str, str, TransferEfficiency]]:
    """``(target, from-scratch setting, pretrained setting, efficiency)`` for each target whose pretrained
    setting starts from its own encoder, with a from-scratch setting's pathway arm to that encoder
    (:func:`workflows.experiment.transfer_arms`), read from the target's first pair (its shared arms
    are every pair's)."""
    found = []
    for pretrained, p_pairs in pairs.items():
        firsts: dict[str, tuple[str, str]] = {}
        for pair in p_pairs:
            firsts.setdefault(pair[0], pair)
        for scratch, s_pairs in pairs.items():
            for target, pair in firsts.items():
                (s_sub, s_arms, _), (p_sub, _, _) = s_pairs[pair], p_pairs[pair]
                for name in transfer_arms(s_sub, p_sub, s_arms):
                    efficiency = transfer_efficiency(results[scratch][pair], results[pretrained][pair], name)
                    found.append((target, scratch, pretrained, efficiency))
    return found


def target_overrides(config: GridConfig, setting: str, target: str) -> dict[str, Any]:
    """The overrides of ``target``'s runs in ``setting`` (``""``: the grid without settings): the
    modality's, the setting's, then the setting's for that target (``grid.settings_by_modality``)."""
    return {
        **config.grid.modalities[target],
        **config.grid.settings.get(setting, {}),
        **config.grid.settings_by_modality.get(setting, {}).get(target, {}),
    }


def target_subs(config: GridConfig, setting: str) -> dict[str, CompareConfig]:
    """Each target's comparison settings in ``setting``, before its auxiliaries are known (``finetune.init``
    unresolved): the seeds and arms that decide which auxiliaries to train."""
    return {
        target: apply_overrides(project(config, CompareConfig), target_overrides(config, setting, target))
        for target in config.grid.modalities
    }


def references_needed(config: GridConfig, targets: dict[str, dict[str, CompareConfig]]) -> dict[str, list[int]]:
    """Per reference auxiliary (:func:`reference_name`), the seeds of the settings' targets whose arms
    name it: a per_seed reference is trained for those seeds only."""
    found: dict[str, set[int]] = {}
    for subs in targets.values():
        for target, sub in subs.items():
            for source, seeds in seeds_using({target: sub}).items():
                if source in config.grid.references:
                    found.setdefault(reference_name(target, source), set()).update(seeds)
    return {name: sorted(seeds) for name, seeds in found.items()}


def setting_pairs(config: GridConfig, folder: Path, subs: dict[str, CompareConfig], trained: Auxiliaries):
    """Per ordered pair of one setting (its targets' :func:`target_subs`, in ``folder``): the pair's
    comparison config, its resolved arms and their jobs; the pair folders link to the target's shared arms."""
    found = {}
    for target, target_sub in subs.items():
        names = own_names(config, trained, target)
        init = target_sub.finetune.init  # may be "own": the target's own encoder
        resolved = {"finetune.init": names.get(init, init)} if init else {}
        per_seed = functools.partial(own_names, config, trained, target)  # per_seed references
        for aux in config.grid.modalities:
            if aux == target:
                continue
            pair = folder / RunDir.pair_name(target, aux)
            sub = apply_overrides(target_sub, {**resolved, "output_dir": str(folder), "name": pair.name})
            arms = parse_arms(sub.compare.arms)  # a setting may run its own
            resolved_arms = {name: arm.resolve({PAIRED: trained.files[aux], **names}) for name, arm in arms.items()}
            shared = {
                name: folder / RunDir.shared_name(target) / name for name, a in arms.items() if not a.uses(PAIRED)
            }
            found[target, aux] = (sub, resolved_arms, arm_jobs(sub, resolved_arms, pair, shared, seed_names=per_seed))
            check_jobs(found[target, aux][2])
            link_shared_arms(pair, shared)
    return found


def reference_name(modality: str, reference: str) -> str:
    """The auxiliary name of ``modality``'s reference ``reference`` (of ``grid.references``)."""
    return f"{modality}.{reference}"


def grid_setting(name: str) -> str:
    """Where the grid's auxiliary ``name`` (a modality's encoder, or a :func:`reference_name`) is set."""
    modality, _, reference = name.partition(".")
    return f"grid.references.{reference} (of {modality})" if reference else f"grid.pretrain (of {modality})"


def own_init(reference: dict[str, Any], modality: str) -> dict[str, Any]:
    """A reference's overrides with ``finetune.init: own`` made ``modality``'s encoder."""
    return {**reference, "finetune.init": modality} if reference.get("finetune.init") == OWN else reference


def own_names(config: GridConfig, trained: Auxiliaries, target: str, seed: int | None = None) -> dict[str, str]:
    """The checkpoints that ``own`` and each reference name stand for in ``target``'s arms: in the runs of
    ``seed``, or, without, those that every seed shares."""
    names = trained.names(seed)
    found = {OWN: names[target]}
    for reference in config.grid.references:
        if reference_name(target, reference) in names:
            found[reference] = names[reference_name(target, reference)]
    return found


def write_settings_report(root: RunDir, settings: list[str], transfers: list[tuple[str, str, str, TransferEfficiency]] = ()) -> Path:  # fmt: skip
    """The grid's ``grid.md``: each setting's own ``<setting>/grid.md`` under a heading, then the
    transfer efficiency of each target's own encoder (:func:`grid_transfers`)."""
    parts = [f"# Grid {root.path.name}", ""]
    for setting in settings:
        text = (root.path / setting / RunDir.GRID_REPORT).read_text()
        parts += [f"## {setting}", "", f"(from `{setting}/{RunDir.GRID_REPORT}`; heatmap in "
                  f"`{setting}/figures/`)", "", text]  # fmt: skip
    if transfers:
        parts += ["## Transfer efficiency", "", "Per target, its own modality's encoder: the gain through the pathway "
                  "(from scratch) over the gain of starting from it (the pretrained setting's baseline minus the "
                  "from-scratch one), paired by seed:", ""]  # fmt: skip
        parts += [
            f"- {target} ({scratch} / {pretrained}): {t.sentence()}" for target, scratch, pretrained, t in transfers
        ]
        parts.append("")
    return root.write_text(RunDir.GRID_REPORT, "\n".join(parts))


def link_shared_arms(pair: Path, shared: dict[str, Path]) -> None:
    """Point ``<pair>/<arm>`` at the target's shared folder of each pair-independent arm."""
    for arm, folder in shared.items():
        folder.mkdir(parents=True, exist_ok=True)
        link = pair / arm
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(folder, link.parent), link)
