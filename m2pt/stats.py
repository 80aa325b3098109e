"""Statistics over seeds: means with confidence intervals, and paired differences.

Arms of a comparison share seeds (the same target initialisation and data order per seed),
so the honest test of an effect is the per-seed difference between arms, summarised with a
Student-t interval; means of each arm alone mix the effect with seed-to-seed variation.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` values with their sample standard deviation and a two-sided t-interval."""

    mean: float
    std: float
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)

    def format(self, scale: float = 1.0, digits: int = 2) -> str:
        m, lo, hi = (v * scale for v in (self.mean, self.low, self.high))
        if self.n < 2:
            return f"{m:.{digits}f} (n=1)"
        return f"{m:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std, "n": self.n, "low": self.low, "high": self.high}


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Mean, sample std and the ``confidence`` t-interval of the mean (NaN bounds for n < 2)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = sum(values) / n
    if n < 2:
        return Summary(mean, math.nan, 1, math.nan, math.nan, confidence)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Summary(mean, std, n, mean - half, mean + half, confidence)


def paired_difference(arm: Mapping[int, float], reference: Mapping[int, float], confidence: float = 0.95) -> Summary:
    """Summary of ``arm[s] - reference[s]`` over the seeds both have."""
    seeds = sorted(set(arm) & set(reference))
    if not seeds:
        raise ValueError("the two arms share no seed: nothing to pair")
    return summarize([arm[s] - reference[s] for s in seeds], confidence)


def relative_improvement(value: float, reference: float) -> float:
    """``(value - reference) / reference`` in percent: how the paper reports gains."""
    return 100.0 * (value - reference) / reference
