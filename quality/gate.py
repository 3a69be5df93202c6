"""The pass/fail gate on a report: one verdict per threshold. The CLI and the CI quality tests both use it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quality.report import QualityReport

__all__ = ["GateResult", "Threshold", "Verdict", "evaluate_gate", "evaluate_pooled", "thresholds_from"]


@dataclass(frozen=True)
class Threshold:
    metric: str
    stat: str
    minimum: float

    @property
    def name(self) -> str:
        return f"{self.metric}.{self.stat}"


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    value: float
    passed: bool

    def line(self) -> str:
        if self.value != self.value:  # NaN: the metric was not measured
            return f"FAIL {self.threshold.name} not measured (needs >= {self.threshold.minimum:.3f})"
        word = "PASS" if self.passed else "FAIL"
        op = ">=" if self.passed else "<"
        return f"{word} {self.threshold.name} {self.value:.3f} {op} {self.threshold.minimum:.3f}"


@dataclass(frozen=True)
class GateResult:
    verdicts: tuple[Verdict, ...]
    aligned: bool

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def lines(self) -> list[str]:
        out = [v.line() for v in self.verdicts]
        if not self.aligned:
            out.append("NOTE the pair was not fully aligned; see the report's alignment warnings")
        return out


def thresholds_from(*, min_vmaf: float | None = None, min_harmonic_mean: float | None = None,
                    min_p5: float | None = None, min_min: float | None = None, min_psnr: float | None = None,
                    min_ssim: float | None = None) -> list[Threshold]:
    """Build thresholds from the CLI's names: ``min_vmaf`` is the pooled mean, the others their stat."""
    spec = [("vmaf", "mean", min_vmaf), ("vmaf", "harmonic_mean", min_harmonic_mean), ("vmaf", "p5", min_p5),
            ("vmaf", "min", min_min), ("psnr_avg", "mean", min_psnr), ("ssim", "mean", min_ssim)]
    return [Threshold(metric, stat, value) for metric, stat, value in spec if value is not None]


def evaluate_pooled(pooled: Mapping[str, Mapping[str, float | int]], thresholds: Sequence[Threshold], *,
                    aligned: bool = True) -> GateResult:
    """The one rule: each threshold against its pooled value (at or above passes); a metric not measured fails."""
    verdicts = []
    for t in thresholds:
        value = pooled.get(t.metric, {}).get(t.stat)
        if value is None:
            verdicts.append(Verdict(t, float("nan"), False))
        else:
            verdicts.append(Verdict(t, float(value), float(value) >= t.minimum))
    return GateResult(tuple(verdicts), aligned)


def evaluate_gate(report: QualityReport, thresholds: Sequence[Threshold]) -> GateResult:
    """Compare each threshold with the report's pooled value; a metric that was not measured fails."""
    return evaluate_pooled(report.pooled, thresholds, aligned=report.fully_aligned)
