"""Models saved by runs: what their metadata holds, and rebuilding them from the file alone.

A fine-tuning run saves ``model.safetensors`` with metadata (:func:`classifier_metadata`) that
names the modality, size, build options, classes and pathway; :func:`load_classifier` rebuilds
the model (re-parameterized, or plain once merged) and loads the weights strictly.
"""

from pathlib import Path
from typing import Any

from m2pt.checkpoint import CheckpointError, load_checkpoint, read_metadata
from m2pt.models.vit import ViTEncoder
from m2pt.reparameterize import reparameterize
from m2pt.run_dir import RunDir
from m2pt.tasks import Task, get_task

CLASSIFIER = "classifier"


def classifier_metadata(
    *,
    modality: str,
    size: str,
    options: dict[str, Any],
    classes: list[str],
    num_heads: int,
    pathway: dict[str, Any] | None,
    config: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """What :func:`load_classifier` needs to rebuild the model (and the config that made it).

    ``pathway``: ``{"num_aux", "layers", "aux"}`` of a re-parameterized model, None for a plain one."""
    return {
        "kind": CLASSIFIER,
        "modality": modality,
        "size": size,
        "settings": options,
        "num_classes": len(classes),
        "num_heads": num_heads,
        "classes": classes,
        "pathway": pathway,
        "config": config,
        **extra,
    }


def saved_task(metadata: dict[str, Any]) -> Task:
    """The task a saved model's metadata names, with its settings (classification when it names none)."""
    task = metadata.get("task") or {"name": "classification"}
    return get_task(task["name"], **task.get("settings", {}))


def build_saved(metadata: dict[str, Any]) -> ViTEncoder:
    """A fresh model of the shape a saved model's metadata describes (its task's head included)."""
    build = saved_task(metadata).build_model
    return build(metadata["modality"], metadata["size"], num_classes=metadata["num_classes"], **metadata["settings"])


def model_file(path: str | Path) -> Path:
    """``path`` itself, or the model file of the run folder ``path``."""
    path = Path(path)
    return RunDir(path, writer=False).model_file if path.is_dir() else path


def load_classifier(path: str | Path) -> tuple[ViTEncoder, dict[str, Any]]:
    """Rebuild and load a classifier saved by a run (re-parameterized or merged): a run folder or a file."""
    path = model_file(path)
    weights = load_checkpoint(path)
    metadata = read_metadata(path) if path.suffix == ".safetensors" else {}
    if metadata.get("kind") != CLASSIFIER:
        raise CheckpointError(f"{path} is not a classifier saved by m2pt (no classifier metadata)")
    model = build_saved(metadata)
    if metadata.get("pathway"):
        placeholder = [model.state_dict()] * metadata["pathway"]["num_aux"]  # shapes only: loaded next
        reparameterize(model, placeholder, layers=metadata["pathway"]["layers"])
    model.load_state_dict(weights, strict=True)
    bad = [name for name, value in weights.items() if value.is_floating_point() and not value.isfinite().all()]
    if bad:
        raise CheckpointError(
            f"{path} holds non-finite weights (NaN or inf) in {', '.join(bad[:3])}: not a usable model"
        )
    return model, metadata
