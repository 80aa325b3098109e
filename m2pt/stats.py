"""Statistics over seeds: means with confidence intervals, paired differences and their tests.

Arms of a comparison share seeds (the same target initialisation and data order per seed),
so the honest test of an effect is the per-seed difference between arms, summarised with a
Student-t interval and a paired t-test; means of each arm alone mix the effect with seed-to-seed
variation. Beyond intervals:

- power: the minimum detectable effect of the paired t-test at the seeds used, and the seeds a
  wanted one needs (:func:`minimum_detectable_effect`, :func:`seeds_needed`);
- many comparisons: adjusted p-values (:data:`CORRECTIONS`: Holm, Benjamini-Hochberg);
- a ratio of two paired means with Fieller's interval (:func:`ratio_of_paired_means`).
"""

import math
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from scipy import optimize, stats

K = TypeVar("K", bound=Hashable)


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


def paired_p_value(arm: Mapping[int, float], reference: Mapping[int, float]) -> float:
    """Two-sided paired t-test p-value of ``arm[s] - reference[s]`` over shared seeds (scipy's
    ``ttest_rel``); NaN for fewer than two seeds, 1 when every difference is zero."""
    seeds = sorted(set(arm) & set(reference))
    if len(seeds) < 2:
        return math.nan
    a, b = [arm[s] for s in seeds], [reference[s] for s in seeds]
    if all(x == y for x, y in zip(a, b)):
        return 1.0
    with warnings.catch_warnings():  # near-identical differences: scipy warns, the p-value is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_rel(a, b).pvalue)


# --- power of the paired t-test -------------------------------------------------------------------


def paired_t_power(effect: float, std: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` with ``n`` pairs whose differences have
    mean ``effect`` and standard deviation ``std``: P(|T| > t_crit) for T non-central t with n - 1
    degrees of freedom and non-centrality effect·√n / std."""
    if n < 2:
        return math.nan
    df, critical = n - 1, stats.t.ppf(1 - alpha / 2, n - 1)
    if std == 0:
        return 1.0 if effect != 0 else alpha
    noncentrality = abs(effect) * math.sqrt(n) / std
    upper = float(stats.nct.sf(critical, df, noncentrality))
    lower = float(stats.nct.cdf(-critical, df, noncentrality))
    # scipy's lower tail is NaN for some large non-centralities, where it is below Φ(-noncentrality) < 1e-13
    # (T < -t_crit needs Z < -noncentrality): count it as 0 there
    return upper + (lower if math.isfinite(lower) else 0.0)


def minimum_detectable_effect(std: float, n: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest mean paired difference that a two-sided paired t-test at level ``alpha`` detects
    with probability ``power`` over ``n`` seeds, when the differences' standard deviation is ``std``
    (the observed one, in practice: with few seeds that estimate is itself uncertain). NaN for n < 2."""
    if n < 2 or not math.isfinite(std):
        return math.nan
    if std == 0:
        return 0.0
    high = std
    while paired_t_power(high, std, n, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda d: paired_t_power(d, std, n, alpha) - power, 0.0, high, xtol=1e-12 * high))


def seeds_needed(effect: float, std: float, power: float = 0.8, alpha: float = 0.05, most: int = 100_000) -> int | None:
    """The fewest seeds at which a paired t-test detects a mean difference ``effect`` with probability
    ``power`` (differences of standard deviation ``std``); None when more than ``most`` would be needed."""
    if not math.isfinite(std):
        return None
    if paired_t_power(effect, std, most, alpha) < power:
        return None
    low, high = 2, most  # power grows with n: bisect for the first n that reaches it
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if paired_t_power(effect, std, middle, alpha) < power else (low, middle)
    return low


# --- many comparisons -----------------------------------------------------------------------------


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: control of the family-wise error rate (any false finding)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (scipy): control of the false discovery rate."""
    return [float(p) for p in stats.false_discovery_control(list(p_values), method="bh")] if p_values else []


CORRECTIONS: dict[str, Callable[[Sequence[float]], list[float]]] = {
    "holm": holm,
    "benjamini-hochberg": benjamini_hochberg,
}
CORRECTION_NAMES = {"holm": "Holm", "benjamini-hochberg": "Benjamini-Hochberg"}
CORRECTION_CONTROLS = {"holm": "the family-wise error rate", "benjamini-hochberg": "the false discovery rate"}


@dataclass(frozen=True)
class Adjusted:
    """A p-value adjusted by ``method`` for the ``tests`` tests of its family."""

    p: float
    method: str
    tests: int

    def format(self) -> str:
        return f"{CORRECTION_NAMES[self.method]}-adjusted over {self.tests} tests: {format_p(self.p)}"


def adjust_p_values(p_values: Mapping[K, float], method: str = "holm") -> dict[K, Adjusted]:
    """The p-values of a family of tests adjusted by ``method`` (a key of :data:`CORRECTIONS`); a NaN
    p-value (fewer than two seeds) stays NaN and does not count as a test."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown multiple-comparison correction {method!r}; choose from {sorted(CORRECTIONS)}")
    tested = {key: p for key, p in p_values.items() if not math.isnan(p)}
    adjusted = dict(zip(tested, CORRECTIONS[method](list(tested.values()))))
    return {key: Adjusted(adjusted.get(key, math.nan), method, len(tested)) for key in p_values}


def format_p(p: float) -> str:
    if math.isnan(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


# --- a ratio of paired means ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """``mean(numerator) / mean(denominator)`` over ``n`` paired seeds with a Fieller interval: the set
    of ratios R for which ``mean(numerator - R·denominator)`` is not rejected by a t-test. ``low`` and
    ``high`` are NaN when that set is unbounded (the denominator is not distinguishable from zero);
    ``estimate`` is NaN when the denominator's mean is zero."""

    estimate: float
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def format(self, digits: int = 2) -> str:
        if math.isnan(self.estimate):
            return "undefined (the denominator's mean is zero)"
        if not self.bounded:
            return f"{self.estimate:.{digits}f} [unbounded]"
        return f"{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def ratio_of_paired_means(
    numerator: Mapping[int, float], denominator: Mapping[int, float], confidence: float = 0.95
) -> Ratio:
    """Fieller's interval for the ratio of the means of two quantities measured on the same seeds.

    Exact when the per-seed pairs are bivariate normal, and unlike the delta method it does not
    assume the denominator's mean is far from zero: it says so instead (an unbounded interval)."""
    seeds = sorted(set(numerator) & set(denominator))
    if len(seeds) < 2:
        raise ValueError(f"a ratio interval needs at least two shared seeds, got {len(seeds)}")
    n = len(seeds)
    a = [numerator[s] for s in seeds]
    b = [denominator[s] for s in seeds]
    ma, mb = sum(a) / n, sum(b) / n
    if mb == 0:
        return Ratio(math.nan, n, math.nan, math.nan, confidence)
    saa = sum((x - ma) ** 2 for x in a) / (n - 1) / n  # variances and covariance of the means
    sbb = sum((y - mb) ** 2 for y in b) / (n - 1) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (n - 1) / n
    t2 = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) ** 2
    # (ma - R mb)^2 <= t2 (saa - 2 R sab + R^2 sbb)  <=>  qa R^2 + qb R + qc <= 0
    qa, qb, qc = mb**2 - t2 * sbb, -2 * (ma * mb - t2 * sab), ma**2 - t2 * saa
    discriminant = qb**2 - 4 * qa * qc
    if qa <= 0 or discriminant < 0:
        return Ratio(ma / mb, n, math.nan, math.nan, confidence)
    root = math.sqrt(discriminant)
    return Ratio(ma / mb, n, float((-qb - root) / (2 * qa)), float((-qb + root) / (2 * qa)), confidence)
