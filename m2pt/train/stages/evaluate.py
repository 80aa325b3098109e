"""``evaluate``: top-1 accuracy and loss of a saved classifier on a dataset split.

``source`` is a run folder (its ``model.safetensors``) or a classifier file (``merged.safetensors``
too). The data is what the model was trained on, unless ``data.*`` overrides say otherwise;
``split`` picks the split. Multi-view evaluation (video clips x crops, point votes: see
:mod:`m2pt.train.evaluation`) follows the run's ``evaluation`` settings, updated by
``evaluation.*`` overrides. A run trained with ``optim.ema_decay`` saved its EMA weights as its
model: they are what is evaluated. Writes ``evaluate_<split>.json`` beside the source.
"""

from typing import Any

from m2pt.run_dir import RunDir
from m2pt.saved import load_classifier, model_file, saved_task
from m2pt.tasks import Classification
from m2pt.train.config import ConfigError, DataConfig, EvaluateConfig, EvaluationOptions, apply_overrides, from_dict
from m2pt.train.data import build_data, check_modality, eval_loader
from m2pt.train.device import choose_device
from m2pt.train.distributed import World
from m2pt.train.evaluation import multi_view
from m2pt.train.stages import register_stage


@register_stage(
    "evaluate", "the metrics of a saved model's task (top-1 and loss for a classifier) on a split", EvaluateConfig
)
def evaluate_stage(config: EvaluateConfig, resume: bool = False) -> dict[str, Any]:
    if not config.source:
        raise ConfigError("evaluate needs source=<run folder or classifier .safetensors>")
    model, metadata = load_classifier(config.source)
    data_config = apply_overrides(from_dict(DataConfig, metadata["config"]["data"]), config.data)
    check_modality(data_config, metadata["modality"])
    split = config.split
    data = build_data(data_config, splits=("train", split))
    device = choose_device(config.device, World())
    task = saved_task(metadata)
    if isinstance(task, Classification):  # one view of each example, or the mean of several
        views = apply_overrides(
            from_dict(EvaluationOptions, metadata["config"].get("evaluation", {})), config.evaluation
        )
        dataset = multi_view(data.val, data_config, split, views, metadata["modality"])
        result = task.evaluate(model.to(device), eval_loader(dataset, data_config, device), device, views.views())
        result["views"] = views.views()
    else:  # its own metrics, one view
        result = task.evaluate(model.to(device), eval_loader(data.val, data_config, device), device)
    result |= {"split": split, "examples": len(data.val), "source": str(config.source)}
    folder = RunDir(model_file(config.source).parent)
    folder.write_json(folder.evaluation_file(split).name, result)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float))
    print(f"{config.source}: {split}: {shown} ({result['examples']} examples)")
    return result
