"""Pure parts of the service: backoff, progress throttling, job slots, settings validation."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from pydantic import ValidationError

from worker.gpu import GpuInfo, GpuScan
from worker.queue import backoff_delay
from worker.records import ProgressThrottle
from worker.service import job_slots
from worker.settings import ServiceSettings

CONN = "UseDevelopmentStorage=true"


def test_backoff_doubles_per_delivery_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for attempt, raw in [(1, 10), (2, 20), (3, 40), (4, 80), (10, 100)]:
        delays = [backoff_delay(attempt, 10, 100, rng) for _ in range(200)]
        assert raw / 2 <= min(delays) and max(delays) <= raw
        assert max(delays) - min(delays) > raw / 4  # jittered, not constant


def test_progress_throttle_passes_steps_stage_changes_and_intervals() -> None:
    now = [0.0]
    t = ProgressThrottle(step=5, interval=30, clock=lambda: now[0])
    passed = [p for p in (0, 1, 2, 4.9, 5, 6, 9.9, 10, 50) if t.due("encode", p)]
    assert passed == [0, 5, 10, 50]
    assert t.due("quality", 50)  # a new stage always passes
    now[0] = 29
    assert not t.due("quality", 51)
    now[0] = 60
    assert t.due("quality", 51)  # the interval passed


def _gpu(name: str, nvenc: bool = True) -> GpuInfo:
    return GpuInfo(0, name, None, None, None, None, None, None, None, None, None, nvenc)


@pytest.mark.parametrize(("concurrency", "rungs", "scan", "slots"), [
    (4, 5, None, 4),  # no GPU scan: the setting
    (4, 5, GpuScan((_gpu("NVIDIA GeForce RTX 4090"),), None), 1),  # 8 sessions / 5 per job
    (4, 2, GpuScan((_gpu("NVIDIA GeForce RTX 4090"),), None), 4),  # 8 / 2 = 4
    (8, 3, GpuScan((_gpu("NVIDIA GeForce RTX 4090"), _gpu("NVIDIA GeForce RTX 4080")), None), 4),  # 2+2
    (4, 9, GpuScan((_gpu("NVIDIA GeForce RTX 4090"),), None), 1),  # never below one
    (4, 5, GpuScan((_gpu("NVIDIA L4"),), None), 4),  # data-centre: no session cap
    (3, 5, GpuScan((_gpu("NVIDIA H100 80GB HBM3", nvenc=False),), None), 3),  # no NVENC: CPU encodes
])
def test_job_slots_count_encoder_sessions(concurrency: int, rungs: int, scan: GpuScan | None, slots: int) -> None:
    assert job_slots(concurrency, rungs, scan) == slots


def test_storage_must_be_exactly_one_of_connection_string_or_account_url() -> None:
    with pytest.raises(ValidationError, match="exactly one of WORKER_STORAGE_CONNECTION_STRING"):
        ServiceSettings()
    with pytest.raises(ValidationError, match="exactly one of"):
        ServiceSettings(storage_connection_string=CONN, storage_account_url="https://a.blob.core.windows.net")
    s = ServiceSettings(storage_account_url="https://acct.blob.core.windows.net")
    assert s.endpoint("queue") == "https://acct.queue.core.windows.net"
    assert s.endpoint("table") == "https://acct.table.core.windows.net"
    assert s.poison_queue == "transcode-jobs-poison" and s.renew_every_s == 30


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_STORAGE_CONNECTION_STRING", CONN)
    monkeypatch.setenv("WORKER_JOBS_QUEUE", "render-jobs")
    monkeypatch.setenv("WORKER_MAX_DEQUEUE", "7")
    s = ServiceSettings()
    assert (s.jobs_queue, s.poison_queue, s.max_dequeue) == ("render-jobs", "render-jobs-poison", 7)
    assert "UseDevelopment" not in repr(s)  # the connection string is a secret: not in logs or reprs


@pytest.mark.parametrize(("env", "message"), [
    ({"WORKER_JOBS_QUEUE": "Bad_Queue"}, "WORKER_JOBS_QUEUE"),
    ({"WORKER_MAX_DEQUEUE": "0"}, "WORKER_MAX_DEQUEUE"),
    ({"WORKER_VISIBILITY_TIMEOUT_S": "soon"}, "WORKER_VISIBILITY_TIMEOUT_S"),
    ({"WORKER_OUTPUTS_CONTAINER": "a--b"}, "WORKER_OUTPUTS_CONTAINER"),
])
def test_run_refuses_bad_settings_naming_the_variable(env: dict[str, str], message: str) -> None:
    full = {"PATH": "/usr/bin:/bin", "WORKER_STORAGE_CONNECTION_STRING": CONN, **env}
    proc = subprocess.run([sys.executable, "-m", "worker", "run"], env=full, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr and "invalid settings" in proc.stderr


def test_run_without_storage_says_which_variables_to_set() -> None:
    proc = subprocess.run([sys.executable, "-m", "worker", "run"], env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "WORKER_STORAGE_CONNECTION_STRING or WORKER_STORAGE_ACCOUNT_URL" in proc.stderr


def test_gpu_metrics_come_from_nvml_and_are_absent_without_a_gpu() -> None:
    from worker.metrics import Metrics

    gpu = GpuInfo(0, "NVIDIA L4", "GPU-1", "550.54", 24 * 2**30, 3 * 2**30, 87, 64, 12, 3, 100, True)
    text = Metrics(lambda: GpuScan((gpu,), None)).render().decode()
    assert 'transcoder_gpu_utilization_ratio{gpu="0",name="NVIDIA L4"} 0.87' in text
    assert 'transcoder_gpu_encoder_utilization_ratio{gpu="0",name="NVIDIA L4"} 0.64' in text
    assert 'transcoder_gpu_decoder_utilization_ratio{gpu="0",name="NVIDIA L4"} 0.12' in text
    assert 'transcoder_gpu_memory_used_bytes{gpu="0",name="NVIDIA L4"} 3.221225472e+09' in text
    assert 'transcoder_gpu_encoder_sessions{gpu="0",name="NVIDIA L4"} 3.0' in text
    unsupported = GpuInfo(0, "NVIDIA H100", None, None, None, None, 5, None, None, None, None, False)
    text = Metrics(lambda: GpuScan((unsupported,), None)).render().decode()
    assert "transcoder_gpu_utilization_ratio" in text and "transcoder_gpu_encoder_utilization_ratio" not in text
    text = Metrics(lambda: GpuScan((), "NVML unavailable")).render().decode()
    assert "transcoder_gpu_" not in text and 'transcoder_jobs_total{outcome="succeeded"} 0.0' in text


def test_uploads_and_outputs_must_be_different_containers() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        ServiceSettings(storage_connection_string=CONN, uploads_container="media", outputs_container="media")


def test_a_dead_workers_job_is_picked_up_within_two_minutes_by_default() -> None:
    """The message reappears a visibility timeout after the last renewal, and the record can be claimed once its
    heartbeat is two renewals old: both must come well inside two minutes (it was 300 s)."""
    s = ServiceSettings(storage_connection_string=CONN)
    fresh_s = 2 * s.renew_every_s
    assert fresh_s < s.visibility_timeout_s
    assert s.visibility_timeout_s + s.poll_max_interval_s <= 120
    # and the lease keeper gives up one renewal interval before the message can be seen by another worker
    assert s.visibility_timeout_s - s.renew_every_s >= 10  # room for one bounded renewal (10 s)


class RecordingQueueClient:
    """The two calls the main loop makes, recording their keyword arguments."""

    queue_name = "jobs"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def receive_messages(self, **kwargs):
        self.calls.append(("receive_messages", kwargs))
        return []

    def get_queue_properties(self, **kwargs):
        self.calls.append(("get_queue_properties", kwargs))
        return type("Props", (), {"approximate_message_count": 3})()


def test_the_loops_own_storage_calls_are_bounded_inside_the_liveness_window() -> None:
    """With the clients' defaults (120 s read timeout, 3 retries) one call could outlast the 60 s liveness window
    and a storage slowdown restarted every pod."""
    from worker.queue import JobQueue

    client = RecordingQueueClient()
    queue = JobQueue(client, client)  # type: ignore[arg-type]
    assert queue.receive(90) is None and queue.depth() == 3
    for name, kwargs in client.calls:
        worst = (kwargs["connection_timeout"] + kwargs["read_timeout"]) * (1 + kwargs["retry_total"])
        assert worst <= 20, (name, kwargs)  # two such calls per loop turn stay inside 60 s
