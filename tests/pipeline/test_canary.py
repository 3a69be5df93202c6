"""Canary analysis on recorded Prometheus results (tests/pipeline/data/canary): a healthy new slot is promoted; a
worse error rate, a collapsed or vanished GPU, regressed queue latency or too little traffic rolls it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.conftest import DATA, commands, run_script

CANARY = DATA / "canary"


def analyse(name: str, *extra: str, baseline: bool = True) -> tuple[int, dict[str, object], str]:
    args = ["--metrics-file", str(CANARY / name)]
    if baseline:
        args += ["--baseline-file", str(CANARY / "baseline.json")]
    result = run_script("canary.py", *args, *extra)
    verdict = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, verdict, result.stderr


def test_a_healthy_canary_is_promoted() -> None:
    code, verdict, log = analyse("healthy.json", "--dry-run")
    assert code == 0, log
    assert verdict["decision"] == "promote" and verdict["failed"] == []
    assert [c["name"] for c in verdict["checks"]] == [  # type: ignore[union-attr]
        "traffic", "error_rate", "gpu_utilization", "encoder_utilization", "queue_latency"]
    assert verdict["canary"] == {"jobs": 40.0, "error_rate": 0.025, "gpu_utilization": 0.58,
                                 "encoder_utilization": 0.69, "queue_latency_p95_seconds": 255.0}
    assert "PASS error_rate: 0.0250 against limit 0.0325 (baseline 0.0125)" in log


@pytest.mark.parametrize(("name", "failed", "why"), [
    ("error-rate.json", ["error_rate"], "FAIL error_rate: 0.1500 against limit 0.0325"),
    ("gpu-collapsed.json", ["gpu_utilization", "encoder_utilization"],
     "FAIL gpu_utilization: 0.040 against at least 0.310 (0.5 x baseline 0.620)"),
    ("gpu-missing.json", ["gpu_utilization", "encoder_utilization"],
     "FAIL gpu_utilization: no series on the new slot (baseline 0.62): the worker sees no GPU"),
    ("latency-regressed.json", ["queue_latency"], "FAIL queue_latency: p95 610.0s against limit 360.0s"),
    ("too-few-jobs.json", ["traffic"], "FAIL traffic: 6 finished jobs on the new slot (at least 20 to judge)"),
])
def test_a_failing_canary_means_rollback(name: str, failed: list[str], why: str) -> None:
    code, verdict, log = analyse(name, "--dry-run")
    assert code == 1
    assert verdict["decision"] == "rollback" and verdict["failed"] == failed
    assert why in log, log


def test_the_error_rate_limit_tightens_with_a_clean_baseline() -> None:
    # 0.025 passes the absolute 5% but not baseline 1.25% + 0.5 points
    code, verdict, _ = analyse("healthy.json", "--max-error-rate-increase", "0.005")
    assert code == 1 and verdict["failed"] == ["error_rate"]


def test_thresholds_come_from_the_command_line() -> None:
    code, verdict, _ = analyse("latency-regressed.json", "--max-latency-ratio", "2.6")
    assert code == 0, verdict
    code, verdict, _ = analyse("healthy.json", "--min-jobs", "41")
    assert code == 1 and verdict["failed"] == ["traffic"]


def test_without_a_baseline_only_absolute_limits_apply() -> None:
    code, verdict, log = analyse("healthy.json", baseline=False)
    assert code == 0 and verdict["baseline"] is None
    assert "PASS queue_latency: p95 255.0s; no baseline to compare" in log
    code, verdict, _ = analyse("gpu-missing.json", baseline=False)
    assert code == 1 and verdict["failed"] == ["gpu_utilization"]
    code, verdict, _ = analyse("gpu-missing.json", "--no-require-gpu", baseline=False)
    assert code == 0


def test_the_live_queries_in_dry_run() -> None:
    result = run_script("canary.py", "--dry-run", "--prometheus-url", "https://prom.example.invalid", "--new-slot",
                        "green", "--old-slot", "blue", "--selector", 'cluster="aks-staging"', "--window", "20m")
    assert result.returncode == 0, result.stderr
    lines = commands(result.stdout)
    assert lines[0] == ("az account get-access-token --resource https://prometheus.monitor.azure.com "
                        "--query accessToken -o tsv")
    queries = [line.split(" query=", 1)[1] for line in lines[1:]]
    assert len(queries) == 10
    green = 'service="transcoder-green",namespace="media",cluster="aks-staging"'
    assert queries[1] == (f'sum(increase(transcoder_jobs_total{{{green},outcome=~"failed|poisoned"}}[20m])) / '
                          f'clamp_min(sum(increase(transcoder_jobs_total{{{green},outcome=~"succeeded|failed|poisoned"}}'
                          f'[20m])), 1)')
    assert queries[2] == f"avg(avg_over_time(transcoder_gpu_utilization_ratio{{{green}}}[20m]))"
    assert queries[4] == ("histogram_quantile(0.95, sum by (le) (rate(transcoder_job_duration_seconds_bucket"
                          f'{{{green},outcome="succeeded"}}[20m])))')
    assert all('service="transcoder-blue"' in q for q in queries[5:])
    assert json.loads(result.stdout.splitlines()[-1]) == {"decision": "dry-run"}


def test_bad_input_is_neither_promote_nor_rollback() -> None:
    code, _, log = analyse("does-not-exist.json")
    assert code == 2 and "cannot read the metrics" in log
    result = run_script("canary.py", "--metrics-file", str(CANARY / "healthy.json"), "--prometheus-url", "https://x")
    assert result.returncode == 2 and "give either --metrics-file" in result.stderr


def test_a_failed_query_is_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"results": {"jobs": {"status": "error", "errorType": "bad_data",
                                                       "error": "parse error"}}}))
    result = run_script("canary.py", "--metrics-file", str(broken))
    assert result.returncode == 2 and "bad_data: parse error" in result.stderr
