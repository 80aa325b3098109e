"""Transfer efficiency: how much of an auxiliary's value as an initialisation its pathway delivers.

For one auxiliary checkpoint and two comparisons over the same seeds, a from-scratch one (the
target trained from random weights, with a pathway arm to the auxiliary) and a pretrained one (the
target initialised from that checkpoint):

- gain through the pathway: ``pathway[s] - baseline[s]`` in the from-scratch comparison;
- gain as an init: ``pretrained baseline[s] - from-scratch baseline[s]``;
- efficiency: the ratio of the two mean gains. 1 means the pathway gets all that initialising
  from the auxiliary gets, 0 nothing; it is only meaningful where the init gain is clearly positive.

Both gains are per seed and share the from-scratch baseline, so they are correlated; the interval is
Fieller's for a ratio of paired means (:func:`m2pt.stats.ratio_of_paired_means`), which accounts for
that correlation and says "unbounded" when the init gain is not distinguishable from zero, where a
delta-method interval would be finite and wrong.
"""

import math
from dataclasses import dataclass

from m2pt.comparison import Comparison
from m2pt.stats import Ratio, Summary, paired_difference, ratio_of_paired_means


@dataclass(frozen=True)
class TransferEfficiency:
    arm: str  # the from-scratch comparison's pathway arm to the auxiliary
    pathway_gain: Summary  # pathway - baseline (from scratch)
    init_gain: Summary  # pretrained baseline - from-scratch baseline
    efficiency: Ratio

    def sentence(self, scale: float = 100.0) -> str:
        if math.isnan(self.efficiency.estimate):
            how = "."
        elif self.efficiency.bounded:
            how = " (ratio of the mean gains, Fieller 95% interval)."
        else:
            how = " (ratio of the mean gains; the Fieller 95% interval is unbounded: the gain as an init is not distinguishable from zero)."
        return (
            f"{self.arm}: gain through the pathway {self.pathway_gain.format(scale)} points, gain as an "
            f"initialisation {self.init_gain.format(scale)} points (paired, {self.efficiency.n} seeds) — transfer "
            f"efficiency {self.efficiency.format()}{how}"
        )


def transfer_efficiency(from_scratch: Comparison, pretrained: Comparison, arm: str) -> TransferEfficiency:
    """The transfer efficiency of ``from_scratch``'s arm ``arm``, whose auxiliary is the checkpoint the
    ``pretrained`` comparison's target starts from, paired over the seeds all three runs share."""
    if arm not in from_scratch.scores:
        raise ValueError(f"the from-scratch comparison has no arm {arm!r} (arms: {sorted(from_scratch.scores)})")
    scratch = from_scratch.scores[from_scratch.reference]
    seeds = set(scratch) & set(from_scratch.scores[arm]) & set(pretrained.scores[pretrained.reference])
    if len(seeds) < 2:
        raise ValueError(
            f"transfer efficiency needs at least two seeds shared by both comparisons, got {sorted(seeds)}"
        )
    pathway = {s: from_scratch.scores[arm][s] - scratch[s] for s in seeds}
    init = {s: pretrained.scores[pretrained.reference][s] - scratch[s] for s in seeds}
    return TransferEfficiency(
        arm,
        paired_difference({s: from_scratch.scores[arm][s] for s in seeds}, scratch),
        paired_difference({s: pretrained.scores[pretrained.reference][s] for s in seeds}, scratch),
        ratio_of_paired_means(pathway, init),
    )
