"""``finetune``: train a classifier on the target modality, plain or with the pathway.

Writes ``model.safetensors`` (the final weights, re-parameterized if the run used a pathway:
``merge`` turns it into a plain ViT) and logs λ of every layer during training.
"""

from typing import Any

from m2pt.checkpoint import save_checkpoint
from m2pt.train.classifier import (
    build_classifier,
    classification_loss,
    classifier_metadata,
    evaluate_classifier,
    lambda_record,
)
from m2pt.train.config import Config
from m2pt.train.data import Data, build_data, check_modality, eval_loader, train_loader
from m2pt.train.engine import Task, fit
from m2pt.train.session import session
from m2pt.train.stages import register_stage


@register_stage("finetune", "train a classifier, plain (baseline) or with the cross-modal pathway")
def finetune(
    config: Config, overrides: list[str] = (), resume: bool = False, data: Data | None = None
) -> dict[str, Any]:
    check_modality(config.data, config.model.modality)
    data = data or build_data(config.data)
    model = build_classifier(config, len(data.classes))
    with session(config, resume=resume) as s:
        loader, sampler = train_loader(data.train, config.data, s.world, config.seed, s.device)
        val = eval_loader(data.val, config.data, s.device)
        task = Task(
            model,
            loss=classification_loss(config.optim.label_smoothing, config.optim.mixup),
            depth=len(model.blocks),
            evaluate=lambda m: {f"val_{k}": v for k, v in evaluate_classifier(m, val, s.device).items()},
            monitor="val_acc",
            log_extra=lambda_record if config.pathway.aux else None,
        )
        summary = fit(task, config, s.run, s.world, s.device, loader, sampler, resume=resume)
        if s.world.is_main:
            metadata = classifier_metadata(config, data.classes, metrics=summary["final"])
            save_checkpoint(s.run.model_file, model.state_dict(), metadata)
            s.run.write_json("summary.json", summary)
            s.log(f"model saved to {s.run.model_file}")
    return summary
