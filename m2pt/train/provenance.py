"""What a run was trained from: its settings, the weight files it read and the data it read.

A run folder holds the run a config asks for only when all three match. When a run starts,
:func:`inputs` goes to its ``inputs.json``: the SHA-256 of every weight file it reads
(:func:`input_files`: the ``pathway.aux`` checkpoints, controls' sources included, and
``finetune.init``) and the build version of its built-in dataset. A resume refuses inputs that
changed since. A finished run is kept (by :func:`m2pt.train.ensure_run` and the workflows'
executors) only when :func:`mismatches` finds nothing: its settings differ from the config at most
in :data:`~m2pt.train.config.NOT_WEIGHTS`, the files it read still hold what it read, and its
dataset is built as it was. So a changed workflow config, an auxiliary replaced under the same
path, or a dataset built anew does not pass old results off as new ones.
"""

import functools
import hashlib
from pathlib import Path

from data_tools import dataset_version
from m2pt.controls import AuxSpec
from m2pt.run_dir import RunDir, setting_differences, within
from m2pt.train.config import NOT_WEIGHTS, ConfigError, RunConfig, saved_config, to_dict

MISSING = "missing"  # the digest of a file that is not there


def input_files(config: RunConfig) -> list[str]:
    """The weight files ``config`` reads, as its settings name them."""
    pathway, finetune = getattr(config, "pathway", None), getattr(config, "finetune", None)
    sources = [AuxSpec.parse(entry).source for entry in pathway.aux] if pathway else []
    return [source for source in [*sources, finetune.init if finetune else None] if source]


def inputs(config: RunConfig) -> dict[str, dict]:
    """What ``config``'s run reads, as ``inputs.json`` records it: ``{"weights": weight_digests,
    "data": data_versions}``."""
    return {"weights": weight_digests(config), "data": data_versions(config)}


def weight_digests(config: RunConfig) -> dict[str, str]:
    """``{file as the settings name it: sha256}`` of :func:`input_files` (a missing file: :data:`MISSING`)."""
    return {name: file_digest(Path(name).expanduser()) for name in input_files(config)}


def data_versions(config: RunConfig) -> dict[str, int]:
    """``{built-in dataset: build version}`` of ``config``'s data; empty for a dataset of the user's own files."""
    version = dataset_version(config.data.dataset) if config.data.dataset else None
    return {config.data.dataset: version} if version is not None else {}


def file_digest(path: Path) -> str:
    """The sha256 of a file's content, or :data:`MISSING` when there is none."""
    if not path.is_file():
        return MISSING
    stat = path.stat()
    return _content_digest(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _content_digest(path: Path, size: int, mtime_ns: int) -> str:
    """Read once per (path, size, modification time): a grid asks for the same auxiliaries hundreds of times."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def changed_inputs(run: RunDir, config: RunConfig) -> list[str]:
    """What ``run`` recorded reading that differs now from what ``config`` reads, described; ``[]``
    when it recorded nothing (a run from before the record)."""
    if (recorded := run.inputs()) is None:
        return []
    return _changed_weights(recorded, config) + _changed_data(recorded, config)


def changed_data(run: RunDir, config: RunConfig) -> list[str]:
    """The built-in dataset of ``config``, described, when ``run`` read another build of it."""
    return [] if (recorded := run.inputs()) is None else _changed_data(recorded, config)


def _changed_weights(recorded: dict, config: RunConfig) -> list[str]:
    """The weight files of ``config`` not read as they are now by the run that ``recorded`` them, described."""
    weights = recorded.get("weights", {})
    return [f"{name}: its content changed since the run read it" if name in weights else f"{name}: not read by the run"
            for name, digest in weight_digests(config).items() if weights.get(name) != digest]  # fmt: skip


def _changed_data(recorded: dict, config: RunConfig) -> list[str]:
    data = recorded.get("data", {})
    return [f"data: {name} was built at version {data.get(name)}, now at {version}"
            for name, version in data_versions(config).items() if data.get(name) != version]  # fmt: skip


def mismatches(run: RunDir, config: RunConfig) -> list[str]:
    """How the finished run in ``run`` differs from the run ``config`` asks for, described; ``[]``: it is that run."""
    try:
        saved = to_dict(saved_config(type(config), run.config()))
    except ConfigError as error:  # a setting since removed, or a value no longer allowed
        return [f"its {RunDir.CONFIG} does not read as today's settings ({error})"]
    changes = setting_differences(saved, to_dict(config))
    settings = [f"{key}: {old!r} -> {new!r}" for key, (old, new) in changes.items() if not within(key, NOT_WEIGHTS)]
    return settings + changed_inputs(run, config)


def stale_error(runs: dict[str, list[str]]) -> str:
    """The message refusing finished runs that are not the runs asked for (``{run: mismatches}``)."""
    listed = "; ".join(f"{run} ({', '.join(found)})" for run, found in list(runs.items())[:3])
    more = f" and {len(runs) - 3} more" if len(runs) > 3 else ""
    return (
        f"{len(runs)} finished run(s) are not the runs the config asks for: {listed}{more}. Remove those run "
        "folders to train them again, or give the workflow another name (output_dir or name)"
    )
