"""``pretrain``: masked-autoencoder pretraining of an encoder on one modality (labels unused).

Writes ``encoder.safetensors`` (and an encoder for each of ``pretrain.save_epochs``): an m2pt
checkpoint that ``load_checkpoint``, ``reparameterize`` and ``load_pretrained`` read, with the
model's settings in its metadata.
"""

from pathlib import Path
from typing import Any

import torch

from m2pt.checkpoint import save_checkpoint
from m2pt.models import build_model
from m2pt.models.masked_autoencoder import MaskedAutoencoder
from m2pt.train.config import PretrainRun, to_dict
from m2pt.train.data import build_data, check_modality, eval_loader, train_loader
from m2pt.train.engine import TrainingSpec, fit
from m2pt.train.optim import parameter_groups
from m2pt.train.session import Session, session
from m2pt.train.stages import register_stage


@register_stage("pretrain", "masked-autoencoder pretraining of an encoder on one modality (no labels)", PretrainRun)
def pretrain(config: PretrainRun, resume: bool = False) -> dict[str, Any]:
    check_modality(config.data, config.model.modality)
    data = build_data(config.data)
    torch.manual_seed(config.seed)
    encoder = build_model(config.model.modality, config.model.size, **config.model.options)
    settings = {k: v for k, v in to_dict(config.pretrain).items() if k != "save_epochs"}
    autoencoder = MaskedAutoencoder(encoder, **settings)
    with session(config, resume=resume) as s:
        loader, sampler = train_loader(data.train, config.data, s.world, config.seed, s.device)
        val = eval_loader(data.val, config.data, s.device)

        @torch.no_grad()
        def evaluate(model: MaskedAutoencoder) -> dict[str, float]:
            losses = [model(x.to(s.device))[0].item() for x, _ in val]
            return {"val_loss": sum(losses) / len(losses)}

        def save_intermediate(model: MaskedAutoencoder, epoch: int) -> None:
            if epoch in config.pretrain.save_epochs:
                save_encoder(s, model.encoder, s.run.encoder_at(epoch), epoch)

        spec = TrainingSpec(
            autoencoder,
            loss=lambda model, batch: (model(batch[0])[0], {}),
            param_groups=lambda m: parameter_groups(m, config.optim),
            evaluate=evaluate,
            monitor="val_loss",
            monitor_mode="min",
            on_epoch_end=save_intermediate,
        )
        summary = fit(spec, config.training(), s.run, s.world, s.device, loader, sampler, resume=resume)
        if s.world.is_main:
            path = save_encoder(s, encoder, s.run.encoder, config.epochs)
            s.run.write_summary(summary | {"encoder": str(path)})
            if config.verbose:
                s.log(f"encoder saved to {path}")
    return summary


def save_encoder(s: Session, encoder, path: Path, epoch: int) -> Path:
    metadata = {
        "kind": "encoder",
        "modality": encoder.modality,
        "size": encoder.size,
        "settings": s.config.model.options,
        "num_heads": encoder.num_heads,
        "epoch": epoch,
        "dataset": s.config.data.dataset,
        "config": to_dict(s.config),
    }
    return save_checkpoint(path, encoder.state_dict(), metadata)
