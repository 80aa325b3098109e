"""Arms of the standard analyses, each a comparison with the baseline included (YAML entries of
:mod:`workflows.arms`); run them with :func:`workflows.presets.run_arms`.

- :func:`layer_arms`: which linear layers are re-parameterized: qkv, proj, fc1, fc2 alone, and all.
- :func:`lambda_arms`: λ's initial value (0, 1e-2, 1e-4, 1e-6), trained or fixed.
- :func:`aux_epoch_arms`: auxiliary encoders saved at successive epochs of one pretraining run.
- :func:`init_epoch_arms`: the target initialised from those encoders (the init gain of each
  pretraining budget, for :mod:`analysis.mae_budget`).
- :func:`control_arms`: the auxiliary against controls the paper lacks (a randomly initialised
  "auxiliary", random weights at the auxiliary's norms, the auxiliary's own weights shuffled):
  the same extra parameters and weight scale without its knowledge. A gain that a control
  matches is not knowledge transfer. Optionally a positive reference.
- :func:`block_order_arms`: identity, reversed and permuted block pairings.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.block_order import block_maps
from m2pt import DEFAULT_LAYERS, read_metadata
from m2pt.run_dir import RunDir
from m2pt.vocabulary import LAMBDA_INITS, ArmRole
from workflows.arms import pathway_arm

Arms = dict[str, dict[str, Any]]
LAYER_CHOICES: dict[str, list[str]] = {
    "qkv": ["attn.qkv"],
    "proj": ["attn.proj"],
    "fc1": ["mlp.fc1"],
    "fc2": ["mlp.fc2"],
    "all": list(DEFAULT_LAYERS),
}
CONTROLS = ("random", "shuffled")  # the default controls of control_arms


def layer_arms(aux: str) -> Arms:
    """Baseline, and the pathway on each layer type alone (``layers_qkv``, ...) and on all (``layers_all``)."""
    return {"baseline": {}} | {
        f"layers_{name}": pathway_arm(aux, layers=layers) for name, layers in LAYER_CHOICES.items()
    }


def lambda_arms(aux: str, inits: Sequence[float] = LAMBDA_INITS, trainable: Sequence[bool] = (True, False)) -> Arms:
    """Baseline, and one arm per initial λ and trainability: ``init0.0001_trained``, ``init0.01_fixed``, ...

    ``init0_fixed`` computes exactly the baseline's function (λ stays 0): a check of the set-up.
    """
    arms: Arms = {"baseline": {}}
    for init in inits:
        for train in trainable:
            name = f"init{init:g}_{'trained' if train else 'fixed'}"
            arms[name] = pathway_arm(aux, lambda_init=init, lambda_trainable=train)
    return arms


def aux_epoch_arms(pretrain_run: str | Path) -> Arms:
    """Baseline, and one arm ``epoch<N>`` per encoder a pretraining run saved (the earlier epochs' and
    the final one), in epoch order: each encoder as the pathway's auxiliary."""
    return {"baseline": {}} | {f"epoch{e}": pathway_arm(str(p)) for e, p in encoders_by_epoch(pretrain_run).items()}


def init_epoch_arms(pretrain_run: str | Path) -> Arms:
    """Baseline (from scratch), and one arm ``epoch<N>`` per encoder a pretraining run saved: the
    target initialised from that encoder (``finetune.start: pretrained``), no pathway."""
    return {"baseline": {}} | {
        f"epoch{e}": {"set": {"finetune.start": "pretrained", "finetune.init": str(p)}}
        for e, p in encoders_by_epoch(pretrain_run).items()
    }


def encoders_by_epoch(pretrain_run: str | Path) -> dict[int, Path]:
    """The encoders a pretraining run saved (``pretrain.save_epochs`` and the final one), by epoch."""
    run = RunDir(pretrain_run, writer=False)
    by_epoch: dict[int, Path] = {}
    for path in run.encoders() if run.path.is_dir() else []:
        by_epoch.setdefault(int(read_metadata(path)["epoch"]), path)
    if not by_epoch:
        raise FileNotFoundError(f"{pretrain_run} holds no encoders: is it a finished pretraining run?")
    return dict(sorted(by_epoch.items()))


def control_arms(aux: str, controls: Sequence[str] = CONTROLS, *, same_modality: str | None = None) -> Arms:
    """Baseline, ``m2pt`` (the auxiliary ``aux``) and each control: ``random``, ``shuffled`` (of ``aux``),
    ``norm_matched`` (random weights at ``aux``'s norms); see :mod:`m2pt.controls`. With ``same_modality``
    (an encoder pretrained on the target modality's own training data) also that positive reference."""
    specs = {"random": "random", "shuffled": f"shuffled:{aux}", "norm_matched": f"norm_matched:{aux}"}
    unknown = set(controls) - set(specs)
    if unknown:
        raise ValueError(f"unknown control(s) {sorted(unknown)}; choose from {sorted(specs)}")
    reference = {"same_modality": pathway_arm(same_modality, role=ArmRole.POSITIVE_REFERENCE)} if same_modality else {}
    return {"baseline": {}, "m2pt": pathway_arm(aux)} | {c: pathway_arm(specs[c]) for c in controls} | reference


def block_order_arms(aux: str, depth: int, seed: int = 0) -> Arms:
    """Baseline, and the pathway with ``aux`` in each order of :func:`analysis.block_order.block_maps`."""
    return {"baseline": {}} | {order: pathway_arm(aux, block_map=m) for order, m in block_maps(depth, seed).items()}
