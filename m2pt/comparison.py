"""Results of arms run over the same seeds: tables and the effects that matter.

An arm is one configuration (baseline, M2PT, a control, ...) run once per seed; every arm uses
the same seeds, so per-seed differences are paired. :class:`Comparison` reports each arm's
mean and interval, its paired difference from the reference arm (the baseline), the relative
improvement the way the paper reports it, and the effect of an arm beyond the best control.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2pt.atomic import atomic_write_text
from m2pt.run_dir import RunDir
from m2pt.stats import Summary, paired_difference, relative_improvement, summarize
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
                    "relative_pct": self.relative(arm),
                }
                beyond = self.beyond_controls(arm) if arm not in self.controls else None
                if beyond is not None:
                    row |= {"beyond_control": beyond.mean, "beyond_low": beyond.low, "beyond_high": beyond.high}
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

    def verdict(self, arm: str, scale: float = 100.0) -> str:
        """One plain sentence on whether ``arm`` beats the reference and the best control."""
        diff = self.versus(arm)
        parts = [
            f"{arm} vs {self.reference}: {diff.format(scale)} points (paired, {diff.n} seeds) — "
            + ("the interval excludes zero." if diff.excludes_zero else "the interval includes zero: no clear effect.")
        ]
        beyond = self.beyond_controls(arm)
        if beyond is not None:
            found = beyond.excludes_zero and beyond.mean > 0
            parts.append(
                f"Beyond the best control ({self.best_control()}): {beyond.format(scale)} points — "
                + (
                    "an effect beyond extra weights was found."
                    if found
                    else "no effect beyond extra weights was found."
                )
            )
        return " ".join(parts)

    def sensitivity(self, scale: float = 100.0) -> str | None:
        """One plain sentence on whether this comparison can detect a helpful auxiliary at all: the
        (first) positive reference arm beyond the best control. None without such an arm or without
        controls."""
        positive = next(iter(self.positive_references), None)
        beyond = self.beyond_controls(positive) if positive else None
        if beyond is None:
            return None
        detected = beyond.excludes_zero and beyond.mean > 0
        return f"Positive reference ({positive}) beyond the best control: {beyond.format(scale)} points — " + (
            "this setup detects a helpful auxiliary."
            if detected
            else "even an auxiliary of the target's own modality shows no effect beyond extra weights here, "
            "so this setup cannot tell whether a cross-modal one helps: a null result above is not evidence "
            "of no effect."
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
