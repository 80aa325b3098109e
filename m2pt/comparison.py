"""Results of arms run over the same seeds: tables and the effects that matter.

An arm is one configuration (baseline, M2PT, a control, ...) run once per seed; every arm uses
the same seeds, so per-seed differences are paired. :class:`Comparison` reports each arm's
mean and interval, its paired difference from the reference arm (the baseline), the relative
improvement the way the paper reports it, and the effect of an arm beyond the best control.

Its verdicts test each claim with a paired t-test, state the minimum detectable effect at the
seeds used (80% power, 5% two-sided, from the observed paired spread) and the seeds a wanted one
needs, and take a p-value adjusted for the report's family of tests when given one
(:func:`m2pt.stats.adjust_p_values`).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2pt.atomic import atomic_write_text
from m2pt.run_dir import RunDir
from m2pt.stats import (
    Adjusted,
    Summary,
    format_p,
    minimum_detectable_effect,
    paired_difference,
    paired_p_value,
    relative_improvement,
    seeds_needed,
    summarize,
)
from m2pt.vocabulary import ArmRole


@dataclass
class Comparison:
    """``scores[arm][seed]`` of one metric (higher is better), e.g. top-1 accuracy, and each arm's
    role (arms without one are pathways, the reference arm is the baseline)."""

    scores: dict[str, dict[int, float]]
    reference: str = "baseline"
    metric: str = "val_acc"
    roles: dict[str, ArmRole] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reference not in self.scores:
            raise ValueError(f"reference arm {self.reference!r} is not among {sorted(self.scores)}")
        unknown = set(self.roles) - set(self.scores)
        if unknown:
            raise ValueError(f"roles given for arms {sorted(unknown)} that have no scores")
        self.roles = {arm: ArmRole(self.roles.get(arm, ArmRole.PATHWAY)) for arm in self.scores} | {
            self.reference: ArmRole.BASELINE
        }

    def arms_with(self, role: ArmRole) -> list[str]:
        return [arm for arm, r in self.roles.items() if r is role]

    @property
    def controls(self) -> list[str]:
        """Arms that add weights without knowledge."""
        return self.arms_with(ArmRole.CONTROL)

    @property
    def positive_references(self) -> list[str]:
        """Arms whose auxiliary is known to carry useful knowledge."""
        return self.arms_with(ArmRole.POSITIVE_REFERENCE)

    @property
    def reaches(self) -> list[str]:
        """Arms with λ held, not learnt: what the pathway can hold of an auxiliary."""
        return self.arms_with(ArmRole.REACH)

    @property
    def pathways(self) -> list[str]:
        """Arms whose effect is the question."""
        return self.arms_with(ArmRole.PATHWAY)

    def summary(self, arm: str) -> Summary:
        return summarize(list(self.scores[arm].values()))

    def versus(self, arm: str, other: str | None = None) -> Summary:
        """Paired difference ``arm - other`` (default: the reference) over shared seeds."""
        return paired_difference(self.scores[arm], self.scores[other or self.reference])

    def relative(self, arm: str) -> float:
        return relative_improvement(self.summary(arm).mean, self.summary(self.reference).mean)

    def best_control(self) -> str | None:
        present = [c for c in self.controls if c in self.scores]
        return max(present, key=lambda c: self.summary(c).mean) if present else None

    def beyond_controls(self, arm: str) -> Summary | None:
        """Paired difference of ``arm`` from the best control (None without controls)."""
        control = self.best_control()
        return self.versus(arm, control) if control and control != arm else None

    def p_value(self, arm: str, other: str | None = None) -> float:
        """Paired t-test p-value of ``arm - other`` (default: the reference), two-sided."""
        return paired_p_value(self.scores[arm], self.scores[other or self.reference])

    def headline(self, arm: str) -> str:
        """The arm that ``arm``'s main claim is measured against: the best control, else the reference."""
        control = self.best_control()
        return control if control and control != arm and arm not in self.controls else self.reference

    def headline_p_values(self) -> dict[str, float]:
        """The p-value of each pathway's main claim (:meth:`headline`): the family of tests one
        comparison's verdicts make. A positive reference's test is not one of them: it checks the
        instrument on a known answer (:meth:`sensitivity`), so adding one does not dilute the claims."""
        return {arm: self.p_value(arm, self.headline(arm)) for arm in self.pathways}

    def minimum_detectable(self, arm: str, other: str | None = None) -> float:
        """The minimum detectable effect of ``arm - other`` at this comparison's seeds (80% power, 5%
        two-sided paired t-test, from the observed std of the paired differences)."""
        diff = self.versus(arm, other)
        return minimum_detectable_effect(diff.std, diff.n)

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for arm in self.scores:
            mine, row = self.summary(arm), {"arm": arm, "n": len(self.scores[arm])}
            row |= {"mean": mine.mean, "std": mine.std, "low": mine.low, "high": mine.high}
            if arm != self.reference:
                diff = self.versus(arm)
                row |= {
                    "diff": diff.mean,
                    "diff_low": diff.low,
                    "diff_high": diff.high,
                    "diff_p": self.p_value(arm),
                    "diff_mde": self.minimum_detectable(arm),
                    "relative_pct": self.relative(arm),
                }
                beyond = self.beyond_controls(arm) if arm not in self.controls else None
                if beyond is not None:
                    control = self.best_control()
                    row |= {"beyond_control": beyond.mean, "beyond_low": beyond.low, "beyond_high": beyond.high,
                            "beyond_p": self.p_value(arm, control), "beyond_mde": self.minimum_detectable(arm, control)}  # fmt: skip
            rows.append(row)
        return rows

    def markdown(self, scale: float = 100.0) -> str:
        """The table: mean ± std and CI per arm, then paired difference, relative gain, and the
        effect beyond the best control (percentage points when ``scale=100``)."""
        control = self.best_control()
        header = ["arm", f"{self.metric} mean ± std", "95% CI", f"paired Δ vs {self.reference} [95% CI]", "relative"]
        if control:
            header.append(f"Δ vs best control ({control}) [95% CI]")
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for arm in self.scores:
            s = self.summary(arm)
            cells = [arm, f"{s.mean * scale:.2f} ± {s.std * scale:.2f}", f"[{s.low * scale:.2f}, {s.high * scale:.2f}]"]
            if arm == self.reference:
                cells += ["—", "—"]
            else:
                cells += [self.versus(arm).format(scale), f"{self.relative(arm):+.2f}%"]
            if control:
                beyond = self.beyond_controls(arm) if arm not in self.controls and arm != self.reference else None
                cells.append(beyond.format(scale) if beyond else "—")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def verdict(self, arm: str, scale: float = 100.0, adjusted: Adjusted | None = None, wanted: float = 2.0) -> str:
        """Plain sentences on whether ``arm`` beats the reference and the best control. The main claim
        (:meth:`headline`) is decided by its paired t-test, adjusted when ``adjusted`` is given; a null
        one says how large an effect the seeds would have detected and how many seeds would detect
        ``wanted`` (in the units of ``scale``: points)."""
        diff, control = self.versus(arm), self.best_control()
        if self.headline(arm) == self.reference:
            significant, note = self._test(arm, self.reference, adjusted)
            larger, detail = self._power(arm, self.reference, scale, wanted)
            if significant:
                words = "the interval excludes zero."
            elif diff.excludes_zero:
                words = f"the interval excludes zero, but not after the correction: no effect{larger} was found{detail}"
            else:
                words = f"the interval includes zero: no effect{larger} was found{detail}"
            return f"{arm} vs {self.reference}: {diff.format(scale)} points (paired, {diff.n} seeds; {note}) — {words}"
        first = (
            f"{arm} vs {self.reference}: {diff.format(scale)} points (paired, {diff.n} seeds; "
            f"paired t {format_p(self.p_value(arm))}) — "
            + ("the interval excludes zero." if diff.excludes_zero else "the interval includes zero: no clear effect.")
        )
        beyond = self.versus(arm, control)
        significant, note = self._test(arm, control, adjusted)
        larger, detail = self._power(arm, control, scale, wanted)
        found = significant and beyond.mean > 0
        return first + (
            f" Beyond the best control ({control}): {beyond.format(scale)} points ({note}) — "
            + (
                "an effect beyond extra weights was found."
                if found
                else f"no effect beyond extra weights{larger} was found{detail}"
            )
        )

    def sensitivity(self, positive: str | None = None, scale: float = 100.0, adjusted: Adjusted | None = None,
                    wanted: float = 2.0) -> str | None:  # fmt: skip
        """One plain sentence on whether this comparison can detect a helpful auxiliary at all: the
        positive reference arm ``positive`` (default: the first) beyond the best control (its test
        adjusted when ``adjusted`` is given). None without such an arm or without controls."""
        positive = positive or next(iter(self.positive_references), None)
        beyond = self.beyond_controls(positive) if positive else None
        if beyond is None:
            return None
        control = self.best_control()
        significant, note = self._test(positive, control, adjusted)
        larger, detail = self._power(positive, control, scale, wanted)
        return f"Positive reference ({positive}) beyond the best control: {beyond.format(scale)} points ({note}) — " + (
            "this setup detects a helpful auxiliary."
            if significant and beyond.mean > 0
            else f"even an auxiliary of the target's own modality shows no effect beyond extra weights{larger} "
            "here, so this setup cannot tell whether a cross-modal one helps: a null result above is not evidence "
            f"of no effect{detail}"
        )

    def _test(self, arm: str, other: str, adjusted: Adjusted | None) -> tuple[bool, str]:
        """Whether ``arm - other`` is significant at 5% (after the correction, when given), and how it was tested."""
        p = self.p_value(arm, other)
        decisive = adjusted.p if adjusted is not None else p
        note = f"paired t {format_p(p)}" + (f"; {adjusted.format()}" if adjusted is not None else "")
        return bool(decisive < 0.05), note

    def _power(self, arm: str, other: str, scale: float, wanted: float) -> tuple[str, str]:
        """The words of a null verdict: `` larger than <MDE> points`` and the detail (how the minimum
        detectable effect was computed, and the seeds that ``wanted`` points would need)."""
        diff = self.versus(arm, other)
        mde = minimum_detectable_effect(diff.std, diff.n)
        if math.isnan(mde):
            return "", f" (with {diff.n} seed the power cannot be estimated)."
        needed = seeds_needed(wanted / scale, diff.std)
        return f" larger than {mde * scale:.2f} points", (
            f" (the minimum detectable effect: 80% power, 5% two-sided paired t-test, {diff.n} seeds, the observed "
            f"spread); detecting {wanted:g} points would need "
            + (f"{needed} seeds." if needed else "over 100,000 seeds.")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "reference": self.reference,
            "roles": {arm: role.value for arm, role in self.roles.items()},
            "scores": {arm: {str(s): v for s, v in seeds.items()} for arm, seeds in self.scores.items()},
            "rows": self.rows(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Comparison":
        scores = {arm: {int(s): v for s, v in seeds.items()} for arm, seeds in data["scores"].items()}
        return cls(scores, data["reference"], data["metric"], data.get("roles", {}))

    def save(self, folder: str | Path) -> Path:
        """``results.json`` and ``results.md`` in a comparison's folder."""
        folder = RunDir(folder)
        atomic_write_text(folder.results(".json"), json.dumps(self.to_json(), indent=2) + "\n")
        atomic_write_text(folder.results(".md"), self.markdown() + "\n")
        return folder.results(".json")

    @classmethod
    def load(cls, folder: str | Path) -> "Comparison":
        """The comparison saved in ``folder`` (see :meth:`save`)."""
        path = RunDir(folder, writer=False).results(".json")
        if not path.is_file():
            raise FileNotFoundError(f"{folder} holds no comparison ({path.name} missing)")
        return cls.from_json(json.loads(path.read_text()))
