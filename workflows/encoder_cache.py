"""Pretrained encoders cached like datasets, so a second experiment or grid reuses them.

A cached encoder is the finished run (a pretraining run, or the fine-tuning run of a supervised
auxiliary) in ``$M2PT_CACHE/encoders/<key>/``, where ``key`` hashes the run's stage and config
without where it goes (``name``, ``output_dir``) and without what leaves its weights alone
(:data:`NOT_WEIGHTS`: how it logs and shows progress, its threads, device and data-loading
workers), with the build version of its built-in dataset (a dataset built anew is other data);
any other change is a new key, so a stale encoder is never served. A run
being trained lives in ``encoders/.partial/<key>/`` (resumed there when interrupted) and is
renamed to ``<key>/`` once finished, so ``<key>/`` is always whole. An experiment's
``aux/<name>/`` is a copy of its entry (hard links where the file system allows), made atomically
with :func:`data_tools.cache.build_once`, so the experiment stays whole when the cache is cleared.
"""

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from data_tools.cache import build_once, cache_root
from m2pt.run_dir import RunDir
from m2pt.train.config import NOT_WEIGHTS, ConfigError, FinetuneRun, PretrainRun, apply_overrides, saved_config, to_dict
from m2pt.train.provenance import MISSING, changed_data, data_versions, file_digest
from workflows.config import ExecutorConfig
from workflows.executors import Job, execute

ENCODERS, PARTIAL = "encoders", ".partial"
AuxiliaryRun = PretrainRun | FinetuneRun  # a masked autoencoder, or a supervised encoder


def weight_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's settings (a plain mapping, as saved) without the keys of :data:`NOT_WEIGHTS`."""
    kept = json.loads(json.dumps(config))
    for dotted in NOT_WEIGHTS:
        *parents, last = dotted.split(".")
        section = kept
        for parent in parents:
            section = section.get(parent, {})
        section.pop(last, None)
    return kept


def cache_key(config: AuxiliaryRun) -> str:
    """The cache key of an auxiliary's run: a hash of its stage, :func:`weight_settings` and the build
    version of its built-in dataset, where the checkpoint a fine-tuning run starts from counts by its
    content, not its path."""
    settings = {"stage": config.stage, **weight_settings(to_dict(config))}
    if versions := data_versions(config):  # a built-in dataset built anew is other data
        settings["data"]["version"] = versions[config.data.dataset]
    if isinstance(config, FinetuneRun) and config.finetune.init:
        settings["finetune"]["init"] = _file_digest(Path(config.finetune.init).expanduser())
    return _digest(json.dumps(settings, sort_keys=True).encode())


def _file_digest(path: Path) -> str:
    digest = file_digest(path)
    if digest == MISSING:
        raise ConfigError(f"finetune.init: {path} is not a file")
    return digest


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def cache_entry(config: AuxiliaryRun, root: str | Path | None = None) -> Path:
    """The folder of ``config``'s finished run in the cache (it may not exist yet)."""
    return cache_root(root) / ENCODERS / cache_key(config)


def cached_encoders(
    runs: Mapping[str, AuxiliaryRun], folders: Mapping[str, Path], executor: ExecutorConfig
) -> dict[str, Path]:
    """Each run of ``runs`` as a finished run folder ``folders[name]``, copied from the cache; the
    runs missing there are trained first (all at once, with ``executor``). A folder already holding a
    finished run with the same weight settings is kept as it is. Returns each run's trained weights
    (:meth:`m2pt.run_dir.RunDir.trained_weights`) in its folder."""
    missing = {}
    for name, config in runs.items():
        entry = cache_entry(config)
        if not entry.is_dir() and not _kept(folders[name], config):
            job = Job(
                config.stage, apply_overrides(config, {"output_dir": str(entry.parent / PARTIAL), "name": entry.name})
            )
            missing.setdefault(entry, job)
    execute(list(missing.values()), executor, f"training {len(missing)} auxiliary encoders (not in the cache)")
    for entry, job in missing.items():
        _publish(job.run.path, entry)
    for name, config in runs.items():
        if not _kept(folders[name], config):
            build_once(folders[name], functools.partial(_link_or_copy, cache_entry(config)))
    return {name: RunDir(folders[name], writer=False).trained_weights(config.stage) for name, config in runs.items()}


def _kept(folder: Path, config: AuxiliaryRun) -> bool:
    """Whether ``folder`` already holds ``config``'s finished run; an error when it holds another one."""
    if not folder.exists():
        return False
    run = RunDir(folder, writer=False)
    if not run.finished:
        raise ConfigError(
            f"{folder} holds an unfinished run (no {RunDir.SUMMARY}): encoders come from the cache now; "
            "remove the folder to let it be copied from there"
        )
    if cache_key(saved_config(type(config), run.config())) != cache_key(config) or changed_data(run, config):
        raise ConfigError(
            f"{folder} holds an encoder trained with other settings or data than the config asks for, and the runs "
            "next to it were trained with that encoder: give the workflow another name (or remove the folder)"
        )
    return True


def _publish(partial: Path, entry: Path) -> None:
    """Rename a finished run from ``.partial/`` to its cache entry (if another process was first, drop ours)."""
    try:
        os.rename(partial, entry)
    except OSError:
        if not entry.is_dir():
            raise
        shutil.rmtree(partial, ignore_errors=True)


def _link_or_copy(source: Path, dest: Path) -> None:
    """Every file of the run ``source`` (but its lock) into ``dest``: hard links, else copies."""
    for path in sorted(source.rglob("*")):
        if path.is_dir() or path.name == RunDir.LOCK:
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
