"""Tasks beyond classification, registered by name: each gives its model (head), loss, metrics and evaluation.

    from m2pt.tasks import get_task
    task = get_task("semantic_segmentation")
    model = task.build_model("image", "tiny", num_classes=11, img_size=56)
    loss, logged = task.loss(model, (images, masks))
    print(task.evaluate(model, loader, "cpu")[task.primary_metric])

Every task's model is an m2pt ViT with its head at ``model.head``: ``model.blocks`` and the
encoder's state-dict keys are those of :func:`m2pt.build_model`, so ``reparameterize``,
``merge``, ``load_pretrained`` and fix mode (everything but ``head.`` frozen) work unchanged.
"""

from m2pt.tasks.balanced_sampler import class_balanced_sampler, class_balanced_weights
from m2pt.tasks.base import TASKS, Meter, Task, get_task, register_task, to_device
from m2pt.tasks.classification import Classification
from m2pt.tasks.feature_propagation import propagate_features
from m2pt.tasks.multilabel import Multilabel
from m2pt.tasks.part_metrics import part_segmentation_mious, shape_ious
from m2pt.tasks.part_segmentation import PartSegmentation
from m2pt.tasks.pixel_decoder import PixelDecoder
from m2pt.tasks.point_segmentation_head import PointSegmentationHead
from m2pt.tasks.semantic_segmentation import SemanticSegmentation

__all__ = [
    "TASKS",
    "Classification",
    "Meter",
    "Multilabel",
    "PartSegmentation",
    "PixelDecoder",
    "PointSegmentationHead",
    "SemanticSegmentation",
    "Task",
    "class_balanced_sampler",
    "class_balanced_weights",
    "get_task",
    "part_segmentation_mious",
    "propagate_features",
    "register_task",
    "shape_ious",
    "to_device",
]
