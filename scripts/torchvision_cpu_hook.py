"""Lets a CUDA-built torchvision import under a CPU-only torch.

Installed into the virtual environment's site-packages by ``scripts/cpu_wheel_compat.py``
(with a ``.pth`` line that imports it) only when torch is a CPU build and torchvision's
compiled ops cannot load. torchvision then runs without its compiled ops (nms, roi_align,
image codecs), but its ``_meta_registrations`` still registers fake kernels for
``torchvision::nms`` and ``torchvision::qnms``, which fails when those ops were never
defined. Just before that module is imported, this hook defines the two op schemas.
Python transforms and models, which is all timm needs, then work. Nothing happens at
interpreter start beyond adding the finder.
"""

import importlib.abc
import sys

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_libraries = []  # keeps the defining library alive for the life of the process


class _DefineTorchvisionSchemas(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision._meta_registrations":
            sys.meta_path.remove(self)
            _define_missing_schemas()
        return None  # the regular finders import the module


def _define_missing_schemas() -> None:
    import torch
    import torchvision.extension

    if torchvision.extension._has_ops():
        return
    library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _SCHEMAS:
        library.define(schema)
    _libraries.append(library)


if not any(isinstance(f, _DefineTorchvisionSchemas) for f in sys.meta_path):
    sys.meta_path.insert(0, _DefineTorchvisionSchemas())
