from quality.gate import Threshold, evaluate_gate, thresholds_from
from quality.report import QualityReport


def _report(vmaf_mean: float, p5: float, warnings: list[str] | None = None) -> QualityReport:
    return QualityReport(
        distorted={"path": "d.mp4", "width": 2, "height": 2}, reference={"path": "r.mp4", "width": 2, "height": 2},
        settings={"model": "vmaf_v0.6.1", "subsample": 1}, versions={},
        alignment={"status": "aligned", "frames_compared": 2, "warnings": warnings or []},
        pooled={"vmaf": {"mean": vmaf_mean, "harmonic_mean": vmaf_mean - 1, "min": p5 - 1, "max": 99.0,
                         "p1": p5 - 0.5, "p5": p5, "std": 1.0, "count": 2}},
        frames=[{"frame": 0, "vmaf": vmaf_mean}, {"frame": 1, "vmaf": vmaf_mean}],
    )


def test_thresholds_from_names() -> None:
    ts = thresholds_from(min_vmaf=90, min_p5=80)
    assert [(t.metric, t.stat, t.minimum) for t in ts] == [("vmaf", "mean", 90), ("vmaf", "p5", 80)]


def test_gate_one_verdict_per_threshold() -> None:
    result = evaluate_gate(_report(93.0, 85.0), thresholds_from(min_vmaf=90, min_p5=88, min_harmonic_mean=91))
    assert [v.passed for v in result.verdicts] == [True, True, False]
    assert not result.passed and result.exit_code == 1
    assert result.lines() == [
        "PASS vmaf.mean 93.000 >= 90.000",
        "PASS vmaf.harmonic_mean 92.000 >= 91.000",
        "FAIL vmaf.p5 85.000 < 88.000",
    ]


def test_gate_passes_on_the_boundary_and_fails_on_missing_metric() -> None:
    assert evaluate_gate(_report(90.0, 80.0), thresholds_from(min_vmaf=90)).passed
    result = evaluate_gate(_report(95.0, 90.0), [Threshold("ssim", "mean", 0.9)])
    assert not result.passed
    assert result.lines() == ["FAIL ssim.mean not measured (needs >= 0.900)"]


def test_gate_notes_a_misaligned_pair() -> None:
    result = evaluate_gate(_report(95.0, 90.0, ["frame counts differ"]), thresholds_from(min_vmaf=90))
    assert result.passed and not result.aligned
    assert result.lines()[-1].startswith("NOTE")
