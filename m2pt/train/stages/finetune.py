"""``finetune``: train a model on the target modality, plain or with the pathway, for its task
(classification by default; :mod:`m2pt.train.run_task`).

Writes ``model.safetensors`` (the final weights, re-parameterized if the run used a pathway:
``merge`` turns it into a plain ViT; with ``optim.ema_decay`` the EMA weights, which are also what
was validated, so ``evaluate`` and ``merge`` read the average) and logs λ of every layer during training.
"""

from functools import partial
from typing import Any

from m2pt.checkpoint import save_checkpoint
from m2pt.saved import classifier_metadata
from m2pt.train.classifier import build_classifier, lambda_record
from m2pt.train.config import FinetuneRun, to_dict
from m2pt.train.data import Data, build_data, check_modality, eval_loader, train_loader
from m2pt.train.engine import TrainingSpec, fit
from m2pt.train.optim import parameter_groups
from m2pt.train.recipes import batch_mixer
from m2pt.train.run_task import run_task, sampling_weights, task_metadata
from m2pt.train.session import session
from m2pt.train.stages import register_stage
from m2pt.vocabulary import ParameterRole


@register_stage("finetune", "train a classifier, plain (baseline) or with the cross-modal pathway", FinetuneRun)
def finetune(config: FinetuneRun, resume: bool = False, data: Data | None = None) -> dict[str, Any]:
    check_modality(config.data, config.model.modality)
    data = data or build_data(config.data)
    task = run_task(config, data.train)
    model = build_classifier(config, len(data.classes), task=task, log=print if config.verbose else lambda _: None)
    pathway = config.pathway
    scales = {ParameterRole.LAMBDA: pathway.lambda_lr_scale, ParameterRole.AUX: pathway.aux_lr_scale}
    with session(config, resume=resume) as s:
        weights = sampling_weights(task, data.train)
        loader, sampler = train_loader(data.train, config.data, s.world, config.seed, s.device, weights)
        val = eval_loader(data.val, config.data, s.device)
        mixer = batch_mixer(config.optim, len(data.classes), config.model.modality, loader.batch_size)
        loss = partial(task.loss, mixer=mixer) if mixer else task.loss  # mixers are classification's (run_task)
        spec = TrainingSpec(
            model,
            loss=loss,
            param_groups=lambda m: parameter_groups(m, config.optim, scales),
            evaluate=lambda m: {f"val_{k}": v for k, v in task.evaluate(m, val, s.device).items()},
            monitor=f"val_{task.primary_metric}",
            log_extra=lambda_record if pathway.aux else None,
        )
        summary = fit(spec, config.training(), s.run, s.world, s.device, loader, sampler, resume=resume)
        if s.world.is_main:
            metadata = classifier_metadata(
                modality=config.model.modality,
                size=config.model.size,
                options=config.model.options,
                classes=data.classes,
                num_heads=model.num_heads,
                pathway={"num_aux": len(pathway.aux), "layers": pathway.layers, "aux": pathway.aux}
                if pathway.aux
                else None,
                config=to_dict(config),
                task=task_metadata(task),
                metrics=summary["final"],
            )
            save_checkpoint(s.run.model_file, model.state_dict(), metadata)
            s.run.write_summary(summary)
            if config.verbose:
                s.log(f"model saved to {s.run.model_file}")
    return summary
