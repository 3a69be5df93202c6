"""The canary and the region health gate, live over HTTP against a real Prometheus (Debian's package, on loopback)
scraping real ``python -m worker run`` processes on the local Azurite stack.

Two slots per fleet consume one jobs queue, as blue and green do on AKS, and Prometheus labels each worker's target
as a ServiceMonitor would (``service="<prefix>-<slot>"``, ``namespace="media"``):

* fleet ``transcoder``: both slots healthy: the canary promotes green, the region gate passes;
* fleet ``faulty``: green's ffmpeg crashes on every encode (a broken release, injected through ``FFMPEG_BINARY``);
  its attempts go back to the queue and blue finishes the jobs, so only the error rate over attempts shows it: the
  canary rolls back and the gate stops;
* a target nothing answers on (``transcoder-ghost``) and a selector nothing matches fail the gate, with the reason.

Every query the gates make (``scripts/deploy/deploylib.py`` SIGNALS) and every series the alert rules name is also
checked against what the real workers export and what this Prometheus stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient, ContentSettings

from localdev.azurite import Azurite, free_port
from localdev.prometheus import Prometheus, ScrapeTarget
from localdev.stack import LocalStack, StackNames
from quality.samples import make_clip
from tests.pipeline.conftest import ROOT, SCRIPTS

pytestmark = [pytest.mark.azurite, pytest.mark.ffmpeg]

RULES = ROOT / "helm" / "transcoder" / "files" / "prometheus-rules.yaml"
JOBS_PER_FLEET = 6
PROFILE = ("name: gates\ngop_seconds: 1\nsegment_seconds: 1\ncpu_preset: ultrafast\n"
           "rungs:\n  - {height: 72, bitrate_k: 100}\n")
WORKER_ENV = {"WORKER_ENCODER": "auto", "WORKER_QUALITY_POLICY": "off", "WORKER_BACKOFF_BASE_S": "0",
              "WORKER_POLL_INTERVAL_S": "0.1", "WORKER_POLL_MAX_INTERVAL_S": "0.3", "WORKER_MIN_FREE_BYTES": "0",
              "WORKER_MAX_DEQUEUE": "20", "WORKER_CONCURRENCY": "1"}
CLUSTER = {"release": {"info": {"status": "deployed"}},
           "pods": {"items": [{"metadata": {"name": "worker-0"},
                               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                                          "containerStatuses": [{"name": "worker", "restartCount": 0,
                                                                 "state": {"running": {}}}]}}]}}


@dataclass
class Live:
    prometheus: Prometheus
    ports: dict[str, int]  # service -> the worker's HTTP port
    outcomes: dict[str, dict[str, int]]  # fleet -> job state -> count, from the job records
    cluster_file: Path
    workdir: Path


def _crashing_ffmpeg(folder: Path, real: str) -> str:
    script = folder / "ffmpeg-crashing"
    script.write_text("#!/bin/sh\n# a broken release: every encode (a filter graph) crashes; probes still work\n"
                      'for a in "$@"; do\n  if [ "$a" = "-filter_complex" ]; then\n'
                      '    echo "injected fault: the encoder crashed" >&2; exit 1\n  fi\ndone\n'
                      f'exec "{real}" "$@"\n')
    script.chmod(0o755)
    return str(script)


def _upload(stack: LocalStack, clip: bytes, numbers: range) -> None:
    uploads = BlobServiceClient.from_connection_string(stack.connection_string).get_container_client(
        stack.names.uploads)
    for n in numbers:
        uploads.get_blob_client(f"gates/clip-{n:03d}.mp4").upload_blob(
            clip, overwrite=True, content_settings=ContentSettings(content_type="video/mp4"))


def _attempts(port: int) -> float:
    """Attempts at jobs a worker made, from its own /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        lines = r.read().decode().splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("transcoder_jobs_total{")
               and re.search(r'outcome="(succeeded|failed|poisoned|retried)"', line))


def _states(stack: LocalStack) -> dict[str, int]:
    table = TableClient.from_connection_string(stack.connection_string, stack.names.table)
    counts: dict[str, int] = {}
    for e in table.query_entities("PartitionKey eq 'job'", select=["state"]):
        counts[str(e["state"])] = counts.get(str(e["state"]), 0) + 1
    return counts


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite, ffmpeg: str) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("gates")
    profile = root / "profile.yaml"
    profile.write_text(PROFILE)
    clip = make_clip(root / "clip.mp4", size="128x72", duration=1).read_bytes()
    fleets = ("transcoder", "faulty")
    ports = {f"{fleet}-{slot}": free_port() for fleet in fleets for slot in ("blue", "green")}
    ports["transcoder-ghost"] = free_port()  # configured, never answers: up == 0
    targets = [ScrapeTarget(f"127.0.0.1:{port}", {"service": service, "namespace": "media"})
               for service, port in ports.items()]
    prometheus = Prometheus(root / "prometheus", targets, rule_files=[RULES] if RULES.exists() else [])
    cluster_file = root / "cluster.json"
    cluster_file.write_text(json.dumps(CLUSTER))
    stacks: dict[str, LocalStack] = {}
    outcomes: dict[str, dict[str, int]] = {}
    saved_env = dict(os.environ)  # the Function host takes its app settings into the environment, as a host does
    try:
        prometheus.start()
        # One fleet after the other: the Function app, like a Functions host, serves one set of settings at a time.
        for fleet in fleets:
            names = StackNames(uploads=f"{fleet}-uploads", outputs=f"{fleet}-outputs", queue=f"{fleet}-jobs",
                               table=f"{fleet}jobs", receipts=f"{fleet}receipts")
            stack = stacks[fleet] = LocalStack(root / fleet, names=names, azurite=azurite)
            stack.start_storage()
            delivery = stack.start_events(workers=2)
            # green first, until it has made two attempts (so the canary has traffic to judge), then blue
            deadline = time.monotonic() + 180
            for slot in ("green", "blue"):
                service = f"{fleet}-{slot}"
                env = dict(WORKER_ENV, WORKER_PROFILE=str(profile), WORKER_HTTP_PORT=str(ports[service]),
                           WORKER_HTTP_HOST="127.0.0.1")
                if fleet == "faulty" and slot == "green":
                    env["FFMPEG_BINARY"] = _crashing_ffmpeg(root, ffmpeg)
                stack.start_worker(root / f"{service}.log", **env)
                # scraped once before it takes a job: increase() cannot count what happened before a series'
                # first sample (on AKS a pod is scraped long before its first job ends)
                while not prometheus.query(f'up{{service="{service}"}} == 1'):
                    assert time.monotonic() < deadline, f"{service} never scraped"
                    time.sleep(0.2)
                if slot == "green":
                    _upload(stack, clip, range(JOBS_PER_FLEET // 2))
                    while time.monotonic() < deadline:
                        with contextlib.suppress(OSError):
                            if _attempts(ports[service]) >= 2:
                                break
                        time.sleep(0.2)
            _upload(stack, clip, range(JOBS_PER_FLEET // 2, JOBS_PER_FLEET))
            while time.monotonic() < deadline:
                outcomes[fleet] = _states(stack)
                if sum(n for s, n in outcomes[fleet].items() if s in ("succeeded", "failed", "poisoned")) \
                        == JOBS_PER_FLEET:
                    break
                time.sleep(0.5)
            else:
                logs = {p.name: p.read_text()[-1500:] for p in root.glob("*.log")}
                pytest.fail(f"{fleet}: the jobs did not end within 180 s: {outcomes[fleet]}\n{logs}")
            delivery.stop()
            stack.delivery = None
        time.sleep(3)  # the last counters scraped (every second)
        yield Live(prometheus, ports, outcomes, cluster_file, root)
    finally:
        for stack in stacks.values():
            stack.stop_workers(timeout=30)
            if stack.delivery is not None:
                stack.delivery.stop()
        prometheus.stop()
        os.environ.clear()
        os.environ.update(saved_env)


def _script(name: str, *args: str) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, cwd=ROOT,
                            timeout=120, env={"PATH": "/usr/bin:/bin"})
    verdict = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, verdict, result.stderr


def canary(live: Live, prefix: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    return _script("canary.py", "--prometheus-url", live.prometheus.url, "--prometheus-auth", "none",
                   "--release-prefix", prefix, "--new-slot", "green", "--old-slot", "blue", "--window", "10m",
                   "--min-jobs", "1", "--no-require-gpu", "--record-dir", str(live.workdir / f"canary-{prefix}"),
                   *extra)


def gate(live: Live, release: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    return _script("health_gate.py", "--region", "local", "--release", release, "--prometheus-url",
                   live.prometheus.url, "--prometheus-auth", "none", "--cluster-file", str(live.cluster_file),
                   "--window", "10m", "--no-require-gpu", *extra)


def _exported(live: Live) -> set[str]:
    """The series names a real worker's /metrics has after its jobs."""
    with urllib.request.urlopen(f"http://127.0.0.1:{live.ports['transcoder-green']}/metrics", timeout=5) as r:
        exposition = r.read().decode()
    exported = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines() if line and line[0] != "#"}
    # a labelled counter has no sample before its first event (transcoder_poisoned_total): its family is declared
    declared = {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")}
    return exported | {name for name in declared if name.endswith("_total")}


def checks(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in verdict["checks"]}


def test_the_fleets_ran_as_set_up(live: Live) -> None:
    assert live.outcomes["transcoder"] == {"succeeded": JOBS_PER_FLEET}
    # green crashed every attempt it took; blue finished every job in the end
    assert live.outcomes["faulty"] == {"succeeded": JOBS_PER_FLEET}
    crashed = live.prometheus.query('sum(transcoder_jobs_total{service="faulty-green",outcome="retried"})')
    assert crashed and float(crashed[0]["value"][1]) >= 1, "green took no job: the fault was never exercised"
    succeeded = live.prometheus.query('sum(transcoder_jobs_total{service="faulty-green",outcome="succeeded"})')
    assert float(succeeded[0]["value"][1]) == 0


def test_a_healthy_release_is_promoted(live: Live) -> None:
    code, verdict, log = canary(live, "transcoder")
    assert code == 0, log
    assert verdict["decision"] == "promote" and verdict["failed"] == []
    by_name = checks(verdict)
    assert all(by_name[n]["passed"] for n in ("scrape", "baseline_scrape", "traffic", "error_rate", "queue_latency"))
    attempts = (verdict["canary"]["jobs"] or 0) + (verdict["baseline"]["jobs"] or 0)
    # increase() extrapolates a little at the window's edges; the two slots together made every attempt
    assert attempts == pytest.approx(JOBS_PER_FLEET, abs=1.5), verdict
    assert verdict["canary"]["error_rate"] == 0.0 and verdict["canary"]["targets"] == 1.0
    assert 0 <= verdict["canary"]["scrape_age_seconds"] < 10
    assert (live.workdir / "canary-transcoder" / "current.json").exists()
    # no NVIDIA driver here: every job green finished fell back to libx264, and the first one, which created the
    # counter's series at 1, is counted too
    done = live.prometheus.query('sum(transcoder_jobs_total{service="transcoder-green",outcome="succeeded"})')
    assert float(done[0]["value"][1]) >= 2
    assert verdict["canary"]["fallbacks"] == pytest.approx(float(done[0]["value"][1]), abs=0.5)
    assert by_name["gpu_fallbacks"]["passed"]  # the baseline falls back just as often


def test_a_release_that_fails_its_jobs_is_rolled_back(live: Live) -> None:
    code, verdict, log = canary(live, "faulty")
    assert code == 1, log
    assert verdict["decision"] == "rollback" and "error_rate" in verdict["failed"]
    assert verdict["canary"]["error_rate"] == pytest.approx(1.0)  # every attempt of green failed
    assert verdict["baseline"]["error_rate"] == pytest.approx(0.0)
    # the health gate of a region running that release stops the rollout too
    code, verdict, log = gate(live, "faulty-green")
    assert code == 1 and verdict["failed"] == ["error_rate"], log
    assert "local: FAIL error_rate: 1.0000 over" in log


def test_a_healthy_region_passes_the_gate(live: Live) -> None:
    code, verdict, log = gate(live, "transcoder-green")
    assert code == 0, log
    assert [c["name"] for c in verdict["checks"]] == [
        "release", "pods", "scrape", "freshness", "traffic", "error_rate", "poisoned", "gpu_fallbacks"]
    assert "local: PASS scrape: 1.00 of 1 target(s) answer" in log


def test_an_unscraped_target_fails_the_gate(live: Live) -> None:
    code, verdict, log = gate(live, "transcoder-ghost")
    assert code == 1
    assert verdict["failed"][:1] == ["scrape"] and "traffic" in verdict["failed"]
    assert "local: FAIL scrape: 0.00 of 1 target(s) answer" in log


def test_no_targets_fail_the_gate_and_the_canary_unless_waived(live: Live) -> None:
    code, verdict, log = gate(live, "transcoder-nothing")
    assert code == 1
    assert verdict["failed"] == ["scrape", "freshness", "traffic", "error_rate", "poisoned"], log
    assert "FAIL scrape: no scrape targets match" in log
    waive = [f"--waive={name}=region not yet serving" for name in verdict["failed"]]
    code, verdict, log = gate(live, "transcoder-nothing", *waive)
    assert code == 0 and set(verdict["waived"]) == {"scrape", "freshness", "traffic", "error_rate", "poisoned"}, log
    code, verdict, log = canary(live, "nothing")
    assert code == 1 and verdict["failed"][:3] == ["scrape", "baseline_scrape", "traffic"], log


def test_the_gates_query_series_the_workers_export(live: Live) -> None:
    sys.path.insert(0, str(SCRIPTS))
    import deploylib

    exported = _exported(live)
    queried = {name for expr in deploylib.SIGNALS.values() for name in re.findall(r"\b(transcoder_[a-z_]+)", expr)}
    gpu = {n for n in queried if n.startswith("transcoder_gpu_")}  # NVML series: no GPU here
    assert queried - gpu <= exported, sorted(queried - gpu - exported)
    # and every query that needs no GPU returns data for the healthy slot on this Prometheus
    sel = 'service="transcoder-green",namespace="media"'
    empty = [name for name in deploylib.SIGNALS if not name.startswith(("gpu_", "encoder_"))
             and not live.prometheus.query(deploylib.promql(name, sel, "10m"))]
    assert empty == []


def test_the_alert_rules_load_and_name_exported_series(live: Live) -> None:
    assert RULES.exists(), f"{RULES} is missing"
    groups = live.prometheus.api("rules")["groups"]
    loaded = {rule["name"] for g in groups for rule in g["rules"]}
    written = {rule["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for rule in g["rules"]
               if "alert" in rule}
    assert written and loaded >= written
    unhealthy = [r for g in groups for r in g["rules"] if r.get("health") != "ok"]
    assert unhealthy == [], unhealthy
    named = set(re.findall(r"\b(transcoder_[a-z_]+)", RULES.read_text()))
    assert named and named - {n for n in named if n.startswith("transcoder_gpu_")} <= _exported(live), named
    # the failure-rate alert holds (pending for its `for:`) on the broken slot only
    deadline = time.monotonic() + 20
    while True:
        alerts = [a for a in live.prometheus.api("alerts")["alerts"] if a["labels"]["alertname"] ==
                  "TranscoderJobFailureRateHigh"]
        if alerts or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {(a["labels"]["service"], a["state"]) for a in alerts} == {("faulty-green", "pending")}
