"""``evaluate``: top-1 accuracy and loss of a saved classifier on a dataset split.

``source`` is a run folder (its ``model.safetensors``) or a classifier file (``merged.safetensors``
too). The data is what the model was trained on, unless ``data.*`` overrides say otherwise;
``eval_split`` picks the split. Writes ``evaluate_<split>.json`` beside the source.
"""

from pathlib import Path
from typing import Any

from m2pt.train.classifier import classifier_from_file, evaluate_classifier
from m2pt.train.config import Config, ConfigError, apply_overrides, from_dict
from m2pt.train.data import build_data, check_modality, eval_loader
from m2pt.train.device import choose_device
from m2pt.train.distributed import World
from m2pt.train.run_dir import RunDir
from m2pt.train.stages import register_stage


@register_stage("evaluate", "top-1 accuracy and loss of a saved classifier on a dataset split")
def evaluate_stage(config: Config, overrides: list[str] = (), resume: bool = False) -> dict[str, Any]:
    if not config.source:
        raise ConfigError("evaluate needs source=<run folder or classifier .safetensors>")
    model, metadata = classifier_from_file(config.source)
    data_config = apply_overrides(
        from_dict(Config, metadata["config"]), [o for o in overrides if o.startswith("data.")]
    ).data
    check_modality(data_config, metadata["modality"])
    split = config.eval_split
    data = build_data(data_config, splits=("train", split))
    device = choose_device(config.device, World())
    result = evaluate_classifier(model.to(device), eval_loader(data.val, data_config, device), device)
    result |= {"split": split, "examples": len(data.val), "source": str(config.source)}
    folder = Path(config.source) if Path(config.source).is_dir() else Path(config.source).parent
    RunDir(folder).write_json(f"evaluate_{split}.json", result)
    print(
        f"{config.source}: {split} top-1 {result['acc']:.2%}, loss {result['loss']:.4f} ({result['examples']} examples)"
    )
    return result
