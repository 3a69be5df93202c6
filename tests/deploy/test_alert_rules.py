"""The alert rules (helm/transcoder/files/prometheus-rules.yaml) under the real promtool, and every series that they
and the gates' queries (scripts/deploy/deploylib.py SIGNALS) name against what the real worker exports."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, HERE, ROOT, promtool, run
from tests.deploy.promql_names import exposition_names, metric_names

RULES = CHART / "files" / "prometheus-rules.yaml"
RULE_TESTS = HERE / "data" / "prometheus-rules.test.yaml"
# alert -> (severity, for)
ALERTS = {
    "TranscoderJobFailureRateHigh": ("critical", "15m"),
    "TranscoderMessagesPoisoned": ("warning", None),
    "TranscoderEncoderFallback": ("warning", None),
    "TranscoderQueueBacklog": ("warning", "30m"),
    "TranscoderWorkerStuckDraining": ("warning", "30m"),
    "TranscoderTargetDown": ("warning", "5m"),
    "TranscoderMetricsAbsent": ("warning", "15m"),
}


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """The sample names of the real worker's /metrics, with one GPU and one job of every outcome observed."""
    from worker.gpu import GpuInfo, GpuScan
    from worker.metrics import Metrics

    gpu = GpuInfo(0, "Tesla T4", "GPU-0", "550.54", 16 << 30, 1 << 30, 40, 30, 10, 2, 100, True)
    metrics = Metrics(gpu_scan=lambda: GpuScan((gpu,), None))
    for outcome in ("succeeded", "failed", "retried", "poisoned", "skipped", "released"):
        metrics.jobs.labels(outcome).inc()
        metrics.duration.labels(outcome).observe(3)
    metrics.stage.labels("encoding").observe(2)
    metrics.retries.inc()
    metrics.poisoned.labels("too-many-deliveries").inc()
    metrics.fallbacks.labels("no-nvenc").inc()
    metrics.queue_depth.set(4)
    metrics.inprogress.set(1)
    metrics.draining.set(0)
    names = exposition_names(metrics.render().decode())
    assert {"transcoder_jobs_total", "transcoder_gpu_utilization_ratio",
            "transcoder_job_duration_seconds_bucket"} <= names, sorted(names)
    return names


def test_the_rules_file_holds_the_alerts_with_severity_and_annotations() -> None:
    found = {rule["alert"]: (rule["labels"]["severity"], rule.get("for")) for rule in rules()}
    assert found == ALERTS
    for rule in rules():
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
        assert all(len(text) > 20 for text in rule["annotations"].values()), rule["alert"]


def test_promtool_check_rules_passes() -> None:
    result = run([promtool(), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_check_rules_refuses_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(RULES.read_text().replace("increase(transcoder_poisoned_total[15m])",
                                                "increase(transcoder_poisoned_total[15m]", 1))
    result = run([promtool(), "check", "rules", str(broken)])
    assert result.returncode == 1 and "FAILED" in result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    """Failure rate, poisoned messages, backlog, stuck drain, target down and absent series fire on the unhealthy
    slot's synthetic series, at the right time, and not on the healthy slot's."""
    result = run([promtool(), "test", "rules", str(RULE_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(("original", "weaker", "alert"), [
    ("> 0.05", "> 0.10", "TranscoderJobFailureRateHigh"),  # green's 9.1 % no longer fires
    # green's retries no longer count as errors: 4.5 %
    ('outcome=~"failed|poisoned|retried"', 'outcome=~"failed|poisoned"', "TranscoderJobFailureRateHigh"),
    ("(transcoder_poisoned_total unless transcoder_poisoned_total offset 15m)\n            or\n", "",
     "TranscoderMessagesPoisoned"),  # the first poisoning of a reason goes unseen
    ("transcoder_draining == 1", "transcoder_draining == 2", "TranscoderWorkerStuckDraining"),
])
def test_promtool_unit_tests_catch_a_weaker_rule(tmp_path: Path, original: str, weaker: str, alert: str) -> None:
    text = RULES.read_text()
    assert original in text
    (tmp_path / "rules.yaml").write_text(text.replace(original, weaker, 1))
    tests = yaml.safe_load(RULE_TESTS.read_text())
    tests["rule_files"] = ["rules.yaml"]
    (tmp_path / "rules.test.yaml").write_text(yaml.safe_dump(tests))
    result = run([promtool(), "test", "rules", str(tmp_path / "rules.test.yaml")])
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "FAILED" in output, output
    assert f"alertname: {alert}," in output


def test_the_extractor_finds_series_not_labels_strings_or_functions() -> None:
    expr = ('sum by (service, transcoder_label) (rate(transcoder_jobs_total{outcome=~"failed",x="transcoder_no"}'
            '[15m] offset 5m)) / on (service) group_left (up) max(transcoder_job_slots) > 0 and absent(up)'
            ' or transcoder_draining unless histogram_quantile(0.9, transcoder_job_duration_seconds_bucket[5m:1m])')
    assert metric_names(expr) == {"transcoder_jobs_total", "transcoder_job_slots", "up", "transcoder_draining",
                                  "transcoder_job_duration_seconds_bucket"}
    assert metric_names("rate(transcoder_job_total[5m])") == {"transcoder_job_total"}


def test_the_rules_name_only_series_the_worker_exports(exported: set[str]) -> None:
    named: set[str] = set()
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names, f"{rule['alert']}: no series found in {rule['expr']}"
        named |= names
    assert named == {"transcoder_jobs_total", "transcoder_poisoned_total", "transcoder_encoder_fallbacks_total",
                     "transcoder_queue_depth", "transcoder_job_slots", "transcoder_jobs_inprogress",
                     "transcoder_draining", "up"}
    # `up` is the scraper's own series for every target
    assert sorted(named - {"up"} - exported) == []
    assert "transcoder_job_total" not in exported, "the comparison must be able to fail"


def deploylib() -> Any:
    """scripts/deploy/deploylib.py, imported as the deploy scripts import it (a top-level module)."""
    scripts = str(ROOT / "scripts" / "deploy")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module("deploylib")


def test_the_gate_signals_name_only_series_the_worker_exports(exported: set[str]) -> None:
    lib = deploylib()
    named: set[str] = set()
    for signal in lib.SIGNALS:
        expr = lib.promql(signal, 'service="transcoder-green",namespace="media"', "15m")
        names = metric_names(expr)
        assert names, f"{signal}: no series found in {expr}"
        unknown = {n for n in names if n.startswith("transcoder_")} - exported
        assert not unknown, f"{signal} queries series the worker does not export: {sorted(unknown)}"
        named |= names
    assert {"transcoder_jobs_total", "up"} <= named
