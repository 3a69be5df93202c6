"""The region health gate on recorded states (tests/pipeline/data/health): a healthy region lets the rollout go on,
an unhealthy one stops it (exit 1), and so does one without data (no targets, stale scrapes, no jobs) unless a
waiver with a reason is given for it. (tests/pipeline/test_live_gates.py runs it against a real Prometheus.)"""

from __future__ import annotations

import json

import pytest

from tests.pipeline.conftest import DATA, commands, run_script

HEALTH = DATA / "health"


def gate(name: str, *extra: str) -> tuple[int, dict[str, object], str]:
    result = run_script("health_gate.py", "--state-file", str(HEALTH / name), *extra)
    verdict = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, verdict, result.stderr


def test_a_healthy_region_passes() -> None:
    code, verdict, log = gate("eastus-healthy.json", "--dry-run")
    assert code == 0, log
    assert verdict["decision"] == "pass" and verdict["failed"] == [] and verdict["waived"] == {}
    assert [c["name"] for c in verdict["checks"]] == [  # type: ignore[union-attr]
        "release", "pods", "scrape", "freshness", "traffic", "error_rate", "poisoned", "gpu_fallbacks"]
    assert "eastus: PASS error_rate: 0.0000 over 52 attempts (limit 0.05)" in log


def test_a_region_without_data_stops_unless_waived() -> None:
    code, verdict, log = gate("westeurope-scaled-to-zero.json")
    assert code == 1
    assert verdict["failed"] == ["scrape", "freshness", "traffic", "error_rate", "poisoned", "gpu_fallbacks"]
    assert "westeurope: FAIL scrape: no scrape targets match: metrics collection is off" in log
    waivers = json.dumps({"westeurope": {c: "no uploads in this region before launch" for c in verdict["failed"]},
                          "eastus": {"release": "not this region"}})
    code, verdict, log = gate("westeurope-scaled-to-zero.json", "--waivers", waivers)
    assert code == 0, log
    assert verdict["waived"]["traffic"] == "no uploads in this region before launch"
    assert "westeurope: PASS traffic: WAIVED (no uploads in this region before launch): no transcoder_jobs_total" in log
    # a waiver for another region does not apply here
    code, _, _ = gate("westeurope-scaled-to-zero.json", "--waivers", json.dumps({"eastus": {"traffic": "x"}}))
    assert code == 1


@pytest.mark.parametrize(("name", "failed", "why"), [
    ("eastus-stale.json", ["freshness"], "eastus: FAIL freshness: newest scrape 905s old (limit 180s)"),
    ("eastus-unscraped.json", ["scrape"], "eastus: FAIL scrape: 0.50 of 2 target(s) answer"),
])
def test_missing_or_stale_data_stops_the_rollout(name: str, failed: list[str], why: str) -> None:
    code, verdict, log = gate(name)
    assert code == 1 and verdict["failed"] == failed
    assert why in log, log


def test_too_few_jobs_to_judge_stops_the_rollout() -> None:
    code, verdict, log = gate("eastus-healthy.json", "--min-jobs", "53")
    assert code == 1 and verdict["failed"] == ["traffic"]
    assert "52 attempts at jobs in the window (at least 53 to judge)" in log


def test_a_terminating_pod_is_not_held_against_the_region() -> None:
    _, _, log = gate("eastus-healthy.json")
    assert "eastus: PASS pods: 2 pod(s) healthy" in log


@pytest.mark.parametrize(("name", "region", "failed", "why"), [
    ("westeurope-crashloop.json", "westeurope", ["pods"],
     "transcoder-blue-7d9f-klmno/worker CrashLoopBackOff; transcoder-blue-7d9f-klmno/worker restarted 5 times; "
     "transcoder-blue-7d9f-klmno running but not ready"),
    ("westeurope-image-pull.json", "westeurope", ["pods"], "transcoder-blue-8e2b-pqrst/worker ImagePullBackOff"),
    ("southeastasia-errors.json", "southeastasia", ["error_rate", "poisoned"],
     "0.2000 over 40 attempts (limit 0.05)"),
    ("eastus-nvenc-lost.json", "eastus", ["gpu_fallbacks"], "4 jobs encoded on the CPU (limit 0)"),
    ("eastus-release-failed.json", "eastus", ["release"], "helm status 'failed'"),
])
def test_an_unhealthy_region_stops_the_rollout(name: str, region: str, failed: list[str], why: str) -> None:
    code, verdict, log = gate(name, "--dry-run")
    assert code == 1
    assert verdict == {**verdict, "region": region, "decision": "stop", "failed": failed}
    assert why in log, log


def test_limits_come_from_the_command_line() -> None:
    assert gate("eastus-nvenc-lost.json", "--max-fallbacks", "4")[0] == 0
    assert gate("eastus-nvenc-lost.json", "--no-require-gpu")[0] == 0
    assert gate("westeurope-crashloop.json", "--max-restarts", "9")[0] == 1  # still crash-looping
    code, verdict, _ = gate("southeastasia-errors.json", "--max-error-rate", "0.25", "--max-poisoned", "3")
    assert code == 0, verdict


def test_the_live_reads_in_dry_run() -> None:
    result = run_script("health_gate.py", "--dry-run", "--region", "westeurope", "--release", "transcoder-blue",
                        "--prometheus-url", "https://prom.example.invalid", "--selector",
                        'cluster="aks-transcoder-prod-westeurope"', "--bake-seconds", "600", "--window", "10m")
    assert result.returncode == 0, result.stderr
    lines = commands(result.stdout)
    assert lines[:3] == ["sleep 600", "helm status transcoder-blue -n media -o json",
                         "kubectl get pods -n media -l app.kubernetes.io/instance=transcoder-blue -o json"]
    queries = [line.split(" query=", 1)[1] for line in lines if line.startswith("GET ")]
    assert len(queries) == 7
    sel = 'service="transcoder-blue",namespace="media",cluster="aks-transcoder-prod-westeurope"'
    fallbacks = f"transcoder_encoder_fallbacks_total{{{sel}}}"
    assert queries[3] == (f"sum(({fallbacks} unless {fallbacks} offset 10m) or increase({fallbacks}[10m])) or "
                          f"(0 * sum(up{{{sel}}}))")
    assert queries[5:] == [f"count(up{{{sel}}})", f"time() - max(timestamp(up{{{sel}}}))"]
    assert json.loads(result.stdout.splitlines()[-1]) == {"region": "westeurope", "decision": "dry-run"}


def test_bad_input_exits_2() -> None:
    assert gate("nowhere.json")[0] == 2
    result = run_script("health_gate.py", "--release", "transcoder-blue")
    assert result.returncode == 2 and "--release needs --prometheus-url" in result.stderr
