"""``merge``: turn a fine-tuned M2PT model into a plain ViT and verify it.

Reads ``source`` (a finetune run folder or its ``model.safetensors``), folds every pathway into
its linear layer, checks on a batch of the run's evaluation split that the merged model's
outputs equal the re-parameterized model's, checks that the merged weights load with
``strict=True`` into a freshly built model, and writes ``merged.safetensors`` and
``merge.json`` beside the source. A merge that fails the check writes no model (only its
``merge.json``, saying so) and raises :class:`MergeVerificationError`.
"""

from typing import Any

import torch

from data_tools.from_settings import probe_batch
from m2pt.batches import first_tensor
from m2pt.checkpoint import save_checkpoint
from m2pt.merge import merge
from m2pt.run_dir import RunDir
from m2pt.saved import build_saved, load_classifier, model_file
from m2pt.train.config import ConfigError, DataConfig, MergeConfig, apply_overrides, from_dict
from m2pt.train.data import check_modality
from m2pt.train.stages import register_stage


class MergeVerificationError(RuntimeError):
    """The merged model does not compute what the re-parameterized one does."""


@register_stage("merge", "merge a fine-tuned M2PT model into a plain ViT (safetensors) and verify it", MergeConfig)
def merge_stage(config: MergeConfig, resume: bool = False) -> dict[str, Any]:
    if not config.source:
        raise ConfigError("merge needs source=<finetune run folder or model.safetensors>")
    model, metadata = load_classifier(config.source)
    if not metadata.get("pathway"):
        raise ConfigError(f"{config.source} has no pathway: it is a plain model already")
    folder = RunDir(model_file(config.source).parent)
    model.eval()
    merged = merge(model)
    fresh = build_saved(metadata)
    fresh.load_state_dict(merged.state_dict(), strict=True)
    x = verification_batch(metadata, config.data)
    with torch.no_grad():
        reference = model(x)
        difference = (fresh.eval()(x) - reference).abs().max().item()
    report = {
        "source": str(config.source),
        "merged": str(folder.merged_file),
        "max_abs_difference": difference,
        "tolerance": config.tolerance,
        "verified": difference <= config.tolerance,
        "parameters_before": sum(p.numel() for p in model.parameters()),
        "parameters_after": sum(p.numel() for p in fresh.parameters()),
        "batch": list(first_tensor(x).shape),
    }
    if not report["verified"]:
        folder.merged_file.unlink(missing_ok=True)  # an earlier merge of other weights must not stand in
        folder.write_json(RunDir.MERGE_REPORT, report | {"merged": None})
        raise MergeVerificationError(
            f"merge verification failed: outputs differ by {difference:.2e} > {config.tolerance}; "
            f"no merged model written (see {folder.path / RunDir.MERGE_REPORT})"
        )
    plain = metadata | {"pathway": None, "merged_from": str(config.source), "merge": report}
    save_checkpoint(folder.merged_file, merged.state_dict(), plain)
    folder.write_json(RunDir.MERGE_REPORT, report)
    print(
        f"merged {report['parameters_before']:,} -> {report['parameters_after']:,} parameters; "
        f"max |output difference| on a batch of {len(first_tensor(x))}: {difference:.2e} (verified); wrote {report['merged']}"
    )
    return report


def verification_batch(metadata: dict[str, Any], data_overrides: dict[str, Any], size: int = 32) -> torch.Tensor:
    """A batch from the evaluation split of the data the model was trained on."""
    settings = apply_overrides(from_dict(DataConfig, metadata["config"]["data"]), data_overrides)
    check_modality(settings, metadata["modality"])
    return probe_batch(vars(settings), size)
