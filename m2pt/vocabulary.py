"""The words of the workbench, in one place: modalities, settings, arm roles, parameter roles.

Every module that names one of these imports it from here, so a name means one thing:

- a *modality* is the kind of input a tokenizer reads;
- a *setting* is how the target starts (``start``: from scratch or from a pretrained checkpoint
  of its own modality) and what trains (``mode``: ``tune`` trains everything, ``fix`` freezes the
  blocks); the four combinations are named in :data:`SETTINGS`;
- an *arm* of a comparison has a :class:`ArmRole`;
- a parameter of a model has a :class:`ParameterRole`, declared by the module that owns it.
"""

from dataclasses import dataclass
from enum import Enum

MODALITIES = ("image", "audio", "video", "point")
STARTS = ("from_scratch", "pretrained")
MODES = ("tune", "fix")
LAMBDA_INITS = (0.0, 1e-2, 1e-4, 1e-6)  # the paper's λ initialisations (0 by default)


@dataclass(frozen=True)
class Setting:
    """How the target starts and what trains."""

    start: str = "from_scratch"
    mode: str = "tune"

    def overrides(self) -> dict[str, str]:
        """The ``finetune.*`` overrides of this setting (a pretrained start also needs ``finetune.init``)."""
        return {"finetune.start": self.start, "finetune.mode": self.mode}


SETTINGS: dict[str, Setting] = {
    f"{start}_{mode}": Setting(start, mode) for start in STARTS for mode in MODES
}  # from_scratch_tune, from_scratch_fix, pretrained_tune, pretrained_fix


class ArmRole(str, Enum):
    """What an arm of a comparison stands for."""

    BASELINE = "baseline"  # no pathway: what every other arm is compared with
    PATHWAY = "pathway"  # a pathway to an auxiliary whose effect is the question
    CONTROL = "control"  # extra weights without knowledge (random, norm-matched, shuffled)
    POSITIVE_REFERENCE = "positive_reference"  # an auxiliary known to carry useful knowledge
    # An auxiliary with λ held (pathway.lambda_trainable: false, e.g. at 1), not learnt: what the
    # pathway can hold of it. It tests the auxiliary, not the instrument, so it calibrates nothing.
    REACH = "reach"


class ParameterRole(str, Enum):
    """What a parameter is for: the optimizer's groups and the fix mode ask this, never its name."""

    TOKENIZER = "tokenizer"  # patch/point embedding, position embeddings, class token
    BODY = "body"  # transformer blocks, final norm, anything not declared otherwise
    HEAD = "head"  # the task head
    LAMBDA = "lambda"  # the pathway's scalars λ
    AUX = "aux"  # the pathway's auxiliary weights W'
