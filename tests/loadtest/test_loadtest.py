"""The load test itself, reduced, as a subprocess against a real Azurite it starts (raw + ingest in one command),
and a crossed threshold that must fail the run and say which."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.azurite


def _loadtest(out: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadtest", "--out", str(out), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _ordered(stats: dict[str, Any]) -> None:
    assert stats["count"] > 0
    assert 0 < stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]


@pytest.fixture(scope="module")
def reduced(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("loadtest")
    # An 8 s run on a busy 2-core CI machine measures the ingest/raw throughput ratio with +-15 % noise (84 % was
    # seen once in a full suite): the gate here is 70 %; the 90 % requirement is the full run's (docs/loadtest.md).
    proc = _loadtest(out, "--users", "60", "--spawn-rate", "60", "--run-time", "8s", "--wait", "0.5", "1.0",
                     "--min-throughput-ratio", "0.7")
    return proc, out


def test_reduced_run_passes_with_every_upload_one_job(reduced: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, out = reduced
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS: every threshold met" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["passed"] is True and summary["breaches"] == []
    assert list(summary["scenarios"]) == ["raw", "ingest"]
    for name in ("raw", "ingest"):
        sc = summary["scenarios"][name]
        up = sc["uploads"]
        # 60 users, one upload per 0.5-1 s each for 8 s: a few hundred uploads, none failed
        assert up["failures"] == 0 and up["fail_ratio"] == 0 and up["exit_code"] == 0
        assert up["requests"] == sc["throughput"]["ok"] >= 200
        _ordered(sc["throughput"]["latency_ms"])
    raw, ingest = summary["scenarios"]["raw"], summary["scenarios"]["ingest"]
    assert raw["blobs"] == raw["uploads"]["requests"] and raw["missing_blobs"] == 0
    acc = ingest["accounting"]
    n = ingest["uploads"]["requests"]
    assert acc["blobs"] == acc["logged"] == acc["records"] == acc["messages"] == n
    assert (acc["lost"], acc["duplicates"], acc["unexpected"], acc["rejected"]) == (0, 0, 0, 0)
    assert (acc["missing_records"], acc["missing_messages"], acc["unlogged_blobs"]) == (0, 0, 0)
    assert ingest["event_delivery"]["delivered"] == n and ingest["event_delivery"]["dead_lettered"] == 0
    assert ingest["pending_at_end"] == 0 and 0 <= ingest["drain_s"] <= 10
    enqueue = ingest["enqueue_latency_ms"]
    _ordered(enqueue)
    assert enqueue["count"] == n and enqueue["p95"] <= 10_000
    _ordered(ingest["record_latency_ms"])
    assert summary["throughput_ratio"] >= 0.7


def test_reduced_run_writes_the_reports(reduced: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = reduced
    for name in ("raw", "ingest"):
        stats = (out / f"{name}_stats.csv").read_text().splitlines()
        assert stats[0].startswith("Type,Name,Request Count,Failure Count")
        assert any(line.startswith("PUT,put blob,") for line in stats)
        assert len((out / f"{name}_stats_history.csv").read_text().splitlines()) > 2
        assert "<html" in (out / f"{name}.html").read_text().lower()
    assert (out / "loadtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_crossed_threshold_fails_the_run_and_names_it(tmp_path: Path) -> None:
    proc = _loadtest(tmp_path, "--scenarios", "raw", "--users", "10", "--spawn-rate", "10", "--run-time", "3s",
                     "--wait", "0.2", "0.4", "--max-upload-p95-ms", "0.001")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL raw: p95 upload latency" in proc.stdout and "> 0.001 ms" in proc.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["passed"] is False
    assert [b.split(" ms >")[0].rsplit(" ", 1)[0] for b in summary["breaches"]] == ["raw: p95 upload latency"]
    assert summary["scenarios"]["raw"]["uploads"]["exit_code"] == 1  # locust's own quitting listener said so too


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    proc = _loadtest(tmp_path, "--scenarios", "raw,bogus", timeout=60)
    assert proc.returncode == 2 and "unknown scenario(s) ['bogus']" in proc.stderr


@pytest.mark.ffmpeg
def test_e2e_clip_is_transcoded_to_a_manifest(tmp_path: Path) -> None:
    proc = _loadtest(tmp_path, "--scenarios", "e2e", "--e2e-clips", "1", "--e2e-timeout", "180")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    e2e = json.loads((tmp_path / "summary.json").read_text())["scenarios"]["e2e"]
    assert (e2e["clips"], e2e["succeeded"], e2e["manifests"]) == (1, 1, 1)
    assert e2e["uploads"]["failures"] == 0 and e2e["upload_to_done_ms"]["count"] == 1


def test_a_storage_account_by_connection_string(azurite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The path for a real account: nothing is started, the jobs are found in the table and on the queue. Here the
    account is an Azurite of the test's, and the test plays Event Grid plus the deployed Function."""
    import uuid

    from localdev.stack import LocalStack, StackNames

    tag = uuid.uuid4().hex[:8]
    names = StackNames(uploads=f"up-{tag}", outputs=f"out-{tag}", queue=f"jobs-{tag}", table=f"jobs{tag}",
                       receipts=f"receipts{tag}")
    stack = LocalStack(tmp_path / "stack", names=names, azurite=azurite)
    stack.start_storage()
    stack.start_events(interval=0.1)
    try:
        proc = _loadtest(tmp_path / "out", "--connection-string", azurite.connection_string, "--uploads-container",
                         names.uploads, "--raw-container", f"raw-{tag}", "--jobs-queue", names.queue, "--jobs-table",
                         names.table, "--users", "20", "--spawn-rate", "20", "--run-time", "4s", "--wait", "0.5", "1")
    finally:
        assert stack.delivery is not None
        stack.delivery.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["settings"]["target"] == azurite.connection_string.split("BlobEndpoint=")[1].split(";")[0]
    ingest = summary["scenarios"]["ingest"]
    acc, n = ingest["accounting"], ingest["uploads"]["requests"]
    assert n >= 40 and acc["records"] == acc["messages"] == acc["blobs"] == n and acc["lost"] == acc["duplicates"] == 0
    assert "submitted_at" in ingest["enqueue_latency_source"] and ingest["enqueue_latency_ms"]["count"] == n
    assert "event_delivery" not in ingest and not (tmp_path / "out" / "stack").exists()
