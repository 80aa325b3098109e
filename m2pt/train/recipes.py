"""Training recipes through timm: mixup and CutMix (``timm.data.Mixup``) on batches of grid inputs.

The image augmentations (RandAugment, random erasing, the MAE fine-tuning transform) are
``timm.data.create_transform``'s, applied by the image reader (``data.options.transform``); the
weight average is ``timm.utils.ModelEmaV3``, kept by the engine (``optim.ema_decay``).
"""

from dataclasses import dataclass

from timm.data import Mixup
from torch import Tensor

from m2pt.train.config import ConfigError, OptimConfig

MIXABLE = {"image": 4, "audio": 4, "video": 5}  # modality -> dimensions of its batches [B, C, (T,) H, W]


@dataclass
class BatchMixer:
    """Mixup / CutMix of a batch with soft targets, as timm's ``Mixup`` does for images.

    Video batches ``[B, C, T, H, W]`` are mixed as ``[B, C*T, H, W]``: a CutMix box is cut through
    every frame alike (timm's own indexing would cut along time and height of a 5-D batch)."""

    mixup: Mixup

    def __call__(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``x [B, ...]``, integer ``y [B]`` -> mixed ``x`` (same shape), soft targets ``[B, classes]``."""
        flat = x.flatten(1, 2) if x.ndim == 5 else x
        mixed, target = self.mixup(flat.clone(), y)
        return mixed.view_as(x), target


def batch_mixer(optim: OptimConfig, num_classes: int, modality: str, per_process_batch: int) -> BatchMixer | None:
    """The mixer of ``optim`` (None when ``optim.mixup`` and ``optim.cutmix`` are both 0)."""
    if not optim.mixup and not optim.cutmix:
        return None
    if modality not in MIXABLE:
        raise ConfigError(
            f"optim.mixup / optim.cutmix mix grid inputs ({', '.join(MIXABLE)}), not {modality} data: set them to 0"
        )
    if per_process_batch % 2:
        raise ConfigError(
            f"optim.mixup / optim.cutmix pair each example with another: the batch of each process "
            f"({per_process_batch}) must be even (data.batch_size)"
        )
    mixup = Mixup(
        mixup_alpha=optim.mixup,
        cutmix_alpha=optim.cutmix,
        prob=optim.mixup_prob,
        switch_prob=optim.mixup_switch_prob,
        mode=optim.mixup_mode,
        label_smoothing=optim.label_smoothing,
        num_classes=num_classes,
    )
    return BatchMixer(mixup)
