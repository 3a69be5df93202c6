"""The region health gate on recorded states (tests/pipeline/data/health): a healthy region lets the rollout go on,
an unhealthy one stops it (exit 1), and the workflow's matrix stops with it."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.conftest import DATA, commands, run_script

HEALTH = DATA / "health"


def gate(name: str, *extra: str) -> tuple[int, dict[str, object], str]:
    result = run_script("health_gate.py", "--state-file", str(HEALTH / name), *extra)
    verdict = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, verdict, result.stderr


@pytest.mark.parametrize("name", ["eastus-healthy.json", "westeurope-scaled-to-zero.json"])
def test_a_healthy_region_passes(name: str) -> None:
    code, verdict, log = gate(name, "--dry-run")
    assert code == 0, log
    assert verdict["decision"] == "pass" and verdict["failed"] == []
    assert [c["name"] for c in verdict["checks"]] == [  # type: ignore[union-attr]
        "release", "pods", "error_rate", "poisoned", "gpu_fallbacks", "scrape"]


def test_a_terminating_pod_is_not_held_against_the_region() -> None:
    _, _, log = gate("eastus-healthy.json")
    assert "eastus: PASS pods: 2 pod(s) healthy" in log


@pytest.mark.parametrize(("name", "region", "failed", "why"), [
    ("westeurope-crashloop.json", "westeurope", ["pods"],
     "transcoder-blue-7d9f-klmno/worker CrashLoopBackOff; transcoder-blue-7d9f-klmno/worker restarted 5 times; "
     "transcoder-blue-7d9f-klmno running but not ready"),
    ("westeurope-image-pull.json", "westeurope", ["pods"], "transcoder-blue-8e2b-pqrst/worker ImagePullBackOff"),
    ("southeastasia-errors.json", "southeastasia", ["error_rate", "poisoned"], "0.2000 over 40 jobs (limit 0.05)"),
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
    assert len(queries) == 5
    assert queries[3] == ('sum(increase(transcoder_encoder_fallbacks_total{service="transcoder-blue",namespace="media",'
                          'cluster="aks-transcoder-prod-westeurope"}[10m]))')
    assert json.loads(result.stdout.splitlines()[-1]) == {"region": "westeurope", "decision": "dry-run"}


def test_bad_input_exits_2() -> None:
    assert gate("nowhere.json")[0] == 2
    result = run_script("health_gate.py", "--release", "transcoder-blue")
    assert result.returncode == 2 and "--release needs --prometheus-url" in result.stderr
