"""Real ``python -m worker run`` processes killed, signalled and cut off from storage in the middle of a job."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from localdev.azurite import Azurite
from localdev.stack import LocalStack
from tests.worker.service_helpers import (
    InProcessWorker,
    output_names,
    poisoned,
    queue,
    queue_depth,
    read_output_json,
    record,
    send_job,
    service_settings,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.azurite, pytest.mark.ffmpeg]

ROOT = Path(__file__).resolve().parents[2]


def _encoding(stack: LocalStack, job_id: str) -> bool:
    r = record(stack, job_id)
    return bool(r and r["state"] == "running" and r.get("stage") == "encode")


def _succeeded(stack: LocalStack, job_id: str) -> dict | None:
    r = record(stack, job_id)
    return r if r and r["state"] == "succeeded" else None


def _one_complete_package(stack: LocalStack, job_id: str) -> dict:
    names = output_names(stack)
    assert all(n.startswith(f"{job_id}/") for n in names)
    manifest = read_output_json(stack, f"{job_id}/manifest.json")
    assert manifest["job"]["files"] == len(names)  # nothing stale from the killed attempt, nothing missing
    base = f"{job_id}/{manifest['attempt']}/"
    assert all(name == f"{job_id}/manifest.json" or name.startswith(base) for name in names)  # one attempt's files
    for n, r in enumerate(manifest["renditions"]):
        assert sum(1 for name in names if name.startswith(f"{base}seg_{n}_")) == r["segments"]
    return manifest


def test_worker_killed_mid_encode_leaves_a_job_another_worker_completes(stack, long_source,
                                                                       slow_profile_file) -> None:
    env = worker_env(stack, slow_profile_file, WORKER_VISIBILITY_TIMEOUT_S="6", WORKER_RENEW_INTERVAL_S="1",
                     WORKER_PROGRESS_INTERVAL_S="0.5", WORKER_PROGRESS_STEP="1")
    job_id = send_job(stack, long_source, "killed.mp4")
    first = stack.start_worker(**env)
    wait_for(lambda: _encoding(stack, job_id), 60, "the first worker to start encoding")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed = record(stack, job_id)
    assert killed and killed["state"] == "running" and killed["attempts"] == 1
    assert output_names(stack) == []  # nothing published by the killed attempt
    second = stack.start_worker(**env)
    rec = wait_for(lambda: _succeeded(stack, job_id), 180, "the second worker to finish the job", interval=0.5)
    assert rec["attempts"] == 2 and rec["worker"] != killed["worker"]
    manifest = _one_complete_package(stack, job_id)
    assert manifest["job"]["attempt"] == 2
    wait_for(lambda: queue_depth(stack) == 0, 10, "the message to be deleted")
    assert poisoned(stack) == []
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0


def test_a_stalled_renewal_stops_the_attempt_and_only_the_next_one_publishes(stack, long_source,
                                                                              slow_profile_file) -> None:
    """One renewal hangs past the visibility timeout (a slow storage front end): the message becomes visible, a
    second worker claims the job. The first attempt used to finish anyway and publish over the second's files
    under the same names; now it gives the lease up at its deadline, stops, and publishes nothing."""
    settings = service_settings(stack, slow_profile_file, visibility_timeout_s=6, renew_interval_s=1,
                                progress_interval_s=0.5, progress_step=1)
    job_id = send_job(stack, long_source, "stalled.mp4")
    first = InProcessWorker(settings)
    real_update = first.worker.queue._queue.update_message
    stall = threading.Event()

    def update_message(*args, **kwargs):
        if stall.is_set():
            time.sleep(60)  # the renewal hangs (the read timeout is not reached in time)
        return real_update(*args, **kwargs)

    first.worker.queue._queue.update_message = update_message
    with first:
        wait_for(lambda: _encoding(stack, job_id), 60, "the first worker to start encoding")
        stall.set()
        first.worker.queue.receive = lambda *args, **kwargs: None  # its storage is stalled for receiving too
        wait_for(lambda: first.worker.outcomes, 30, "the first attempt to give up its lease")
        assert first.worker.outcomes == ["lost"]
        assert output_names(stack) == []  # it published nothing
        with InProcessWorker(service_settings(stack, slow_profile_file, visibility_timeout_s=6,
                                              renew_interval_s=1)) as second:
            rec = wait_for(lambda: _succeeded(stack, job_id), 180, "the second worker to finish", interval=0.5)
        assert second.worker.outcomes == ["succeeded"]
    assert rec["attempts"] == 2 and rec["worker"] == second.worker.records.worker_id
    manifest = _one_complete_package(stack, job_id)
    assert manifest["job"]["worker"] == second.worker.records.worker_id and manifest["job"]["attempt"] == 2
    assert poisoned(stack) == []


@pytest.mark.parametrize("stage", ["mid-upload", "before-manifest", "after-manifest"])
def test_a_worker_killed_while_publishing_loses_nothing_and_publishes_once(stack, sources, profile_file,
                                                                          stage: str) -> None:
    """SIGKILL at three points of publishing (tests/worker/killing_worker.py): the next worker finishes the job
    with exactly one attempt's files under the manifest, and the record says succeeded."""
    env = worker_env(stack, profile_file, WORKER_VISIBILITY_TIMEOUT_S="6", WORKER_RENEW_INTERVAL_S="1")
    job_id = send_job(stack, sources.av, f"killed-{stage}.mp4")
    log = (stack.root / f"killing-{stage}.log").open("wb")
    killer = subprocess.Popen([sys.executable, "-m", "tests.worker.killing_worker", stage],
                              env=stack.worker_env(**env), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    assert killer.wait(120) == -signal.SIGKILL
    manifest_written = f"{job_id}/manifest.json" in output_names(stack)
    assert manifest_written == (stage == "after-manifest")
    assert record(stack, job_id)["state"] == "running"  # nothing recorded by the killed worker
    second = stack.start_worker(**env)
    rec = wait_for(lambda: _succeeded(stack, job_id), 120, "the next worker to finish the job", interval=0.5)
    manifest = _one_complete_package(stack, job_id)
    if stage == "after-manifest":  # the killed attempt's package stands; the next worker only completes it
        assert rec["attempts"] == 1 and manifest["job"]["attempt"] == 1
    else:
        assert rec["attempts"] == 2 and manifest["job"]["attempt"] == 2
    wait_for(lambda: queue_depth(stack) == 0, 20, "the message to be deleted")
    assert poisoned(stack) == []
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0


def test_sigterm_lets_the_running_job_finish_within_the_drain(stack, long_source, slow_profile_file) -> None:
    job_id = send_job(stack, long_source, "drained.mp4")
    proc = stack.start_worker(**worker_env(stack, slow_profile_file, WORKER_DRAIN_SECONDS="300"))
    wait_for(lambda: _encoding(stack, job_id), 60, "encoding")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(180) == 0
    rec = _succeeded(stack, job_id)
    assert rec and rec["attempts"] == 1
    _one_complete_package(stack, job_id)
    assert queue_depth(stack) == 0


def test_sigterm_past_the_drain_stops_ffmpeg_and_releases_the_message_at_once(stack, long_source,
                                                                             slow_profile_file) -> None:
    job_id = send_job(stack, long_source, "released.mp4")
    proc = stack.start_worker(**worker_env(stack, slow_profile_file, WORKER_DRAIN_SECONDS="1",
                                           WORKER_VISIBILITY_TIMEOUT_S="600"))
    wait_for(lambda: _encoding(stack, job_id), 60, "encoding")
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert proc.wait(60) == 5  # RET_DRAIN_EXPIRED
    assert time.monotonic() - started < 30
    rec = record(stack, job_id)
    assert rec and rec["state"] == "queued" and rec["stage"] == "released" and "Interrupted" in rec["error"]
    # visible again at once, not after the 600 s visibility timeout
    (msg,) = queue(stack).receive_messages(max_messages=1, visibility_timeout=1)
    assert msg.dequeue_count == 1  # a shutdown release is no failure: a fresh copy, no delivery spent
    assert output_names(stack) == []
    leftover = subprocess.run(["pgrep", "-f", str(stack.root / "scratch")], capture_output=True, text=True).stdout
    assert leftover == ""  # ffmpeg was stopped, not orphaned


def test_second_signal_exits_at_once(stack, long_source, slow_profile_file) -> None:
    job_id = send_job(stack, long_source, "forced.mp4")
    proc = stack.start_worker(**worker_env(stack, slow_profile_file, WORKER_DRAIN_SECONDS="300"))
    wait_for(lambda: _encoding(stack, job_id), 60, "encoding")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 130
    assert _succeeded(stack, job_id) is None  # not finished; its message reappears after the visibility timeout


def test_azurite_stopped_and_restarted_during_a_job_loses_nothing(tmp_path, long_source, slow_profile_file) -> None:
    own = LocalStack(tmp_path / "stack", azurite=Azurite(tmp_path / "azurite"))
    own.start_storage()
    try:
        job_id = send_job(own, long_source, "outage.mp4")
        own.start_worker(**worker_env(own, slow_profile_file, WORKER_VISIBILITY_TIMEOUT_S="10",
                                      WORKER_RENEW_INTERVAL_S="2"))
        wait_for(lambda: _encoding(own, job_id), 60, "encoding")
        assert own.azurite is not None
        own.azurite.stop()
        time.sleep(4)  # renewals and progress updates fail meanwhile
        own.azurite.start()
        rec = wait_for(lambda: _succeeded(own, job_id), 240, "the job to succeed after the outage", interval=0.5)
        assert rec["state"] == "succeeded"
        _one_complete_package(own, job_id)
        wait_for(lambda: queue_depth(own) == 0, 30, "the message to be deleted")
        assert poisoned(own) == []
    finally:
        own.stop()
