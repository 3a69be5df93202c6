"""Canary analysis on recorded Prometheus results (tests/pipeline/data/canary): a healthy new slot is promoted; a
worse error rate, CPU fallbacks, a collapsed or vanished GPU, regressed queue latency, too little traffic, and
missing or stale data roll it back. (tests/pipeline/test_live_gates.py runs it against a real Prometheus.)"""

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
        "scrape", "baseline_scrape", "traffic", "error_rate", "gpu_utilization", "encoder_utilization",
        "gpu_fallbacks", "queue_latency"]
    assert verdict["canary"] == {"jobs": 40.0, "error_rate": 0.025, "gpu_utilization": 0.58,
                                 "encoder_utilization": 0.69, "queue_latency_p95_seconds": 255.0, "fallbacks": 0.0,
                                 "up": 1.0, "targets": 2.0, "scrape_age_seconds": 11.0}
    assert "PASS error_rate: 0.0250 against limit 0.0325 (baseline 0.0125)" in log


@pytest.mark.parametrize(("name", "failed", "why"), [
    ("error-rate.json", ["error_rate"], "FAIL error_rate: 0.1500 against limit 0.0325"),
    ("gpu-collapsed.json", ["gpu_utilization", "encoder_utilization"],
     "FAIL gpu_utilization: 0.040 against at least 0.310 (0.5 x baseline 0.620)"),
    ("gpu-missing.json", ["gpu_utilization", "encoder_utilization", "gpu_fallbacks"],
     "FAIL gpu_utilization: no series on the new slot (baseline 0.62): the worker sees no GPU"),
    ("latency-regressed.json", ["queue_latency"], "FAIL queue_latency: p95 610.0s against limit 360.0s"),
    ("too-few-jobs.json", ["traffic"], "FAIL traffic: 6 attempts at jobs on the new slot (at least 20 to judge)"),
    ("fallbacks.json", ["gpu_fallbacks"],
     "FAIL gpu_fallbacks: 3 CPU fallbacks in 40 attempts (0.075) against limit 0.000 (baseline 0.000)"),
    ("stale.json", ["scrape"], "FAIL scrape: new slot: newest scrape 640s old (limit 180s): stale"),
    ("not-collected.json",
     ["scrape", "traffic", "error_rate", "gpu_utilization", "encoder_utilization", "gpu_fallbacks", "queue_latency"],
     "FAIL scrape: new slot: no scrape targets match (metrics collection off, scaled to zero, or the selector "
     "matches nothing)"),
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
    assert code == 1 and verdict["failed"] == ["gpu_utilization", "gpu_fallbacks"]
    code, verdict, _ = analyse("gpu-missing.json", "--no-require-gpu", baseline=False)
    assert code == 0


def test_a_named_baseline_without_data_fails_closed() -> None:
    result = run_script("canary.py", "--metrics-file", str(CANARY / "healthy.json"), "--baseline-file",
                        str(CANARY / "not-collected.json"))
    verdict = json.loads(result.stdout)
    assert result.returncode == 1 and verdict["failed"] == ["baseline_scrape"], result.stderr


def test_a_waiver_passes_a_failed_check_and_says_why() -> None:
    code, verdict, log = analyse("stale.json", "--waive", "scrape=ingestion lag during the regional incident")
    assert code == 0 and verdict["waived"] == {"scrape": "ingestion lag during the regional incident"}
    assert "PASS scrape: WAIVED (ingestion lag during the regional incident): new slot: newest scrape 640s" in log
    code, _, log = analyse("stale.json", "--waive", "scrape=")
    assert code == 2 and "a waiver needs a reason" in log
    code, _, log = analyse("healthy.json", "--waive", "scrap=typo")
    assert code == 2 and "waivers for unknown checks ['scrap']" in log


def test_the_live_queries_in_dry_run() -> None:
    result = run_script("canary.py", "--dry-run", "--prometheus-url", "https://prom.example.invalid", "--new-slot",
                        "green", "--old-slot", "blue", "--selector", 'cluster="aks-staging"', "--window", "20m")
    assert result.returncode == 0, result.stderr
    lines = commands(result.stdout)
    assert lines[0] == ("az account get-access-token --resource https://prometheus.monitor.azure.com "
                        "--query accessToken -o tsv")
    queries = [line.split(" query=", 1)[1] for line in lines[1:]]
    assert len(queries) == 18
    green = 'service="transcoder-green",namespace="media",cluster="aks-staging"'
    assert queries[1] == (f'sum(increase(transcoder_jobs_total{{{green},outcome=~"failed|poisoned|retried"}}[20m])) / '
                          f'sum(increase(transcoder_jobs_total{{{green},outcome=~"succeeded|failed|poisoned|retried"}}'
                          f'[20m]))')
    assert queries[2] == f"avg(avg_over_time(transcoder_gpu_utilization_ratio{{{green}}}[20m]))"
    assert queries[4] == ("histogram_quantile(0.95, sum by (le) (rate(transcoder_job_duration_seconds_bucket"
                          f'{{{green},outcome="succeeded"}}[20m])))')
    fallbacks = f"transcoder_encoder_fallbacks_total{{{green}}}"
    assert queries[5] == (f"sum(({fallbacks} unless {fallbacks} offset 20m) or increase({fallbacks}[20m])) or "
                          f"(0 * sum(up{{{green}}}))")
    assert queries[8] == f"time() - max(timestamp(up{{{green}}}))"
    assert all('service="transcoder-blue"' in q for q in queries[9:])
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
