"""Unpickling whole pickled models (only when the user trusts the file), with timm 0.x's module paths mapped.

The paper's released auxiliaries and the official point/video checkpoints are pickled timm models made
under timm 0.4.x, whose layers lived at ``timm.models.layers.*``; timm 1.x moved them to
``timm.layers.*``. :func:`load_trusted_pickle` maps those paths and only resolves classes of the
modules in :data:`TRUSTED_MODULES` (add your own package there if you pickle its models); anything
else, or a class that no longer exists, is a :class:`PickleRefused` naming it, never a raw
``ModuleNotFoundError``.
"""

import _compat_pickle
import importlib
import pickle
import types
from pathlib import Path
from typing import Any

import torch

# Top-level packages whose classes a trusted checkpoint may rebuild.
TRUSTED_MODULES = {"torch", "timm", "m2pt", "numpy", "collections", "argparse", "functools", "copyreg", "_codecs"}
# Builtins that plain data needs (no eval, exec, getattr, __import__, open, ...).
SAFE_BUILTINS = {"set", "frozenset", "slice", "range", "complex", "bytearray", "bytes", "dict", "list", "tuple",
                 "int", "float", "str", "bool", "object"}  # fmt: skip
# Module path prefixes renamed since the checkpoints were made: old prefix -> new prefix.
MOVED_MODULES = {"timm.models.layers": "timm.layers"}


class PickleRefused(pickle.UnpicklingError):
    """A pickled class that is not trusted or no longer exists under any known path."""


def current_module(module: str) -> str:
    """``module`` under today's path (``timm.models.layers.mlp`` -> ``timm.layers.mlp``; Python 2 names
    such as ``__builtin__``, which protocol 2 pickles, as Python 3 names them)."""
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    for old, new in MOVED_MODULES.items():
        if module == old or module.startswith(old + "."):
            return new + module[len(old) :]
    return module


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only trusted classes, under their current module paths."""

    source = "the checkpoint"

    def find_class(self, module: str, name: str) -> Any:
        wanted = f"{module}.{name}"
        module = current_module(module)
        root = module.split(".", 1)[0]
        if root == "builtins" and name not in SAFE_BUILTINS or root not in TRUSTED_MODULES | {"builtins"}:
            raise PickleRefused(
                f"{self.source} pickles {wanted}, outside the trusted packages ({', '.join(sorted(TRUSTED_MODULES))}). "
                "Load it with the code that made it and save its state_dict() instead, or add the package to "
                "m2pt.checkpoint_pickle.TRUSTED_MODULES if you trust it"
            )
        found = _resolve(module, name)
        if found is None and module.startswith("timm.layers"):
            found = _resolve("timm.layers", name)  # moved between timm's layer files
        if found is None:
            raise PickleRefused(
                f"{self.source} pickles {wanted}, which the installed timm {_timm_version()} and torch "
                f"{torch.__version__} do not have (made with other versions?). Load it where it was made and "
                "save its state_dict() instead"
            )
        return found


def load_trusted_pickle(path: Path) -> Any:
    """``torch.load(path, weights_only=False)`` through :class:`RestrictedUnpickler`."""
    unpickler = type("Unpickler", (RestrictedUnpickler,), {"source": str(path)})
    module = types.SimpleNamespace(
        __name__="m2pt_restricted_pickle",
        Unpickler=unpickler,
        load=lambda file, **kwargs: unpickler(file, **kwargs).load(),
    )
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=module)


def _resolve(module: str, name: str) -> Any:
    try:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found


def _timm_version() -> str:
    try:
        return importlib.import_module("timm").__version__
    except ImportError:
        return "(not installed)"
