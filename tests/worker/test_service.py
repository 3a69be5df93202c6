"""The worker service against a real Azurite and the real ffmpeg: jobs in, packages out, nothing lost."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from azure.storage.blob import BlobServiceClient

from tests.worker.service_helpers import (
    InProcessWorker,
    b64,
    job_message,
    output_names,
    poisoned,
    queue,
    queue_depth,
    read_output_json,
    record,
    send_job,
    send_raw,
    service_settings,
    table,
    upload,
    wait_for,
)
from worker.errors import EncodeCrashed, ScratchFull
from worker.records import utc_now

pytestmark = [pytest.mark.azurite, pytest.mark.ffmpeg]


def test_job_becomes_a_published_package(stack, sources, profile_file) -> None:
    job_id = send_job(stack, sources.av, "clips/Vidéo été.mp4")
    settings = service_settings(stack, profile_file, quality_policy="flag", vmaf_subsample=5)
    with InProcessWorker(settings) as w:
        rec = wait_for(lambda: (r := record(stack, job_id)) and r["state"] == "succeeded" and r, 120, "success")
    assert w.worker.outcomes == ["succeeded"]
    names = output_names(stack, f"{job_id}/")
    manifest = read_output_json(stack, f"{job_id}/manifest.json")
    attempt = manifest["attempt"]
    assert attempt.startswith("a1-") and manifest["hls"] == f"{attempt}/master.m3u8"
    assert f"{job_id}/manifest.json" in names and f"{job_id}/{attempt}/master.m3u8" in names
    assert all(n == f"{job_id}/manifest.json" or n.startswith(f"{job_id}/{attempt}/") for n in names)
    assert manifest["job"]["job_id"] == job_id and manifest["job"]["attempt"] == 1
    assert manifest["job"]["files"] == len(names)
    assert [r["height"] for r in manifest["renditions"]] == [240, 120]
    assert all(r["vmaf"]["mean"] > 20 for r in manifest["renditions"])
    assert manifest["encoder"] == "libx264" and manifest["fallback_reason"].startswith("cpu-requested")
    # every rendition's playlist, init segment and media segments were uploaded
    for n, r in enumerate(manifest["renditions"]):
        assert {f"{job_id}/{r['path']}", f"{job_id}/{r['init']}"} <= set(names)
        assert sum(1 for name in names if name.startswith(f"{job_id}/{attempt}/seg_{n}_")) == r["segments"]
    assert rec["attempts"] == 1 and rec["progress"] == 100.0 and rec["encoder"] == "libx264"
    assert rec["manifest_url"].endswith(f"{job_id}/manifest.json")
    assert json.loads(rec["timings"])["upload"] > 0
    assert queue_depth(stack) == 0 and poisoned(stack) == []
    # the published manifest names neither the upload (blob name, URL) nor the worker's scratch paths
    text = json.dumps(manifest, ensure_ascii=False)
    for private in ("Vidéo été", "clips/", stack.names.uploads + "/", str(settings.scratch_dir), "/tmp/"):
        assert private not in text, private
    assert manifest["job"]["source"]["size"] == sources.av.stat().st_size and "path" not in manifest["source"]


@pytest.mark.parametrize(("body", "reason"), [
    ("this is not base64!", "not base64"),
    (b64("{not json"), "not JSON"),
    (b64('{"version": 2, "job_id": "x"}'), "unsupported job message version 2"),
    (b64('{"version": 1, "job_id": "0123456789abcdef0123456789abcdef"}'), "source: Field required"),
    (b64("[1, 2]"), "not an object"),
    (b64('{"version": 1, "pad": "' + "x" * 40_000 + '"}'), "message too large"),
    (b64("[" * 20_000), "RecursionError"),  # once raised past parse_job and came back every visibility timeout
    (b64('{"version": ' + "9" * 5000 + "}"), "ValueError"),
], ids=["not-base64", "not-json", "version", "missing-fields", "array", "oversized", "deep-nesting", "huge-int"])
def test_malformed_message_goes_to_poison_with_reason(stack, profile_file, body: str, reason: str) -> None:
    send_raw(stack, body)
    with InProcessWorker(service_settings(stack, profile_file, max_jobs=1)) as w:
        assert w.join(30) == 0
    (envelope,) = poisoned(stack)
    assert reason in envelope["reason"]
    assert envelope["original"].startswith(body[:100]) and envelope["dequeue_count"] == 1
    assert queue_depth(stack) == 0
    assert w.worker.metrics.poisoned.labels("invalid-message")._value.get() == 1


def test_an_unclassified_error_on_the_last_delivery_poisons_the_message(stack, sources, profile_file) -> None:
    job_id = send_job(stack, sources.av, "odd.mp4")
    worker = InProcessWorker(service_settings(stack, profile_file, max_dequeue=2, visibility_timeout_s=5))

    def broken_claim(*args, **kwargs):
        raise ValueError("a bug nobody classified")

    worker.worker.records.claim = broken_claim  # type: ignore[method-assign]
    with worker:
        wait_for(lambda: poisoned(stack), 30, "the poison queue")
    (envelope,) = poisoned(stack)
    assert envelope["job_id"] == job_id and envelope["dequeue_count"] == 2
    assert "unexpected ValueError on delivery 2 of 2: a bug nobody classified" in envelope["reason"]
    assert queue_depth(stack) == 0
    assert worker.worker.outcomes == ["retried", "poisoned"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"output": {"container": "UPLOADS", "prefix": "customer-a/"}}, "output.container is"),
    ({"output": {"container": "azure-webjobs-secrets", "prefix": "../x/"}}, "output.container is"),
    ({"output": {"container": "OUTPUTS", "prefix": "customer-a/"}}, "output.prefix is 'customer-a/'"),
    ({"source": {"container": "other-tenant"}}, "source.container is 'other-tenant'"),
    ({"source": {"etag": "*"}}, "source.etag"),
], ids=["into-uploads", "into-secrets", "foreign-prefix", "foreign-source", "any-etag"])
def test_a_message_outside_the_workers_scope_is_poisoned_and_touches_nothing(stack, sources, profile_file,
                                                                             change, reason) -> None:
    """Once accepted, such a message ran and its stale-file sweep deleted every blob under the prefix."""
    blob = upload(stack, sources.av, "scoped.mp4")
    victim = upload(stack, b"someone else's file", "customer-a/keep.bin")
    outputs = BlobServiceClient.from_connection_string(stack.connection_string).get_container_client(
        stack.names.outputs)
    outputs.upload_blob("customer-a/keep.bin", b"another package", overwrite=True)
    job = json.loads(job_message(stack, blob))
    names = {"UPLOADS": stack.names.uploads, "OUTPUTS": stack.names.outputs}
    for part, fields in change.items():
        job[part].update({k: names.get(v, v) for k, v in fields.items()})
    send_raw(stack, b64(json.dumps(job)))
    with InProcessWorker(service_settings(stack, profile_file, max_jobs=1)) as w:
        assert w.join(30) == 0
    (envelope,) = poisoned(stack)
    assert reason in envelope["reason"]
    assert w.worker.outcomes == ["poisoned"]
    assert outputs.get_blob_client("customer-a/keep.bin").download_blob().readall() == b"another package"
    uploads = BlobServiceClient.from_connection_string(stack.connection_string).get_container_client(
        stack.names.uploads)
    assert uploads.get_blob_client(victim["name"]).exists()
    assert output_names(stack, blob["job_id"]) == []


def test_scratch_space_counts_the_volume_limit_and_the_running_jobs(stack, profile_file) -> None:
    """statvfs shows the node's disk, not the emptyDir's limit, and running jobs have not written all they will."""
    worker = InProcessWorker(service_settings(stack, profile_file, scratch_limit="3Mi", min_free_bytes=0)).worker

    def job(n: int) -> SimpleNamespace:
        return SimpleNamespace(job_id=f"{n:032x}", source=SimpleNamespace(size=600_000))

    first = worker._scratch(job(1))  # 1.8 MB of 3.1 MB
    with pytest.raises(ScratchFull, match=r"WORKER_SCRATCH_LIMIT 3Mi\) leaves 1.3 MB with 1.8 MB reserved by "
                                          r"running jobs; this job needs 1.8 MB"):
        worker._scratch(job(2))
    worker._unreserve(job(1).job_id)
    second = worker._scratch(job(2))
    assert first.parent == second.parent == stack.root / "scratch"


class LiveOwner:
    """Another worker running the job: its record says running, and its heartbeat stays fresh."""

    def __init__(self, stack, job_id: str) -> None:
        self.table, self.job_id, self.stop = table(stack), job_id, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(0.5):
            self.table.upsert_entity({"PartitionKey": "job", "RowKey": self.job_id, "heartbeat_at": utc_now()})

    def __enter__(self) -> LiveOwner:
        self.table.upsert_entity({"PartitionKey": "job", "RowKey": self.job_id, "state": "running",
                                  "worker": "other-host-1", "heartbeat_at": utc_now(), "attempts": 1})
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_copies_of_a_live_job_never_spend_its_delivery_budget(stack, sources, profile_file) -> None:
    """A busy copy used to be released with its dequeue count growing: after max_dequeue looks it was poisoned and
    the live job's record flipped to poisoned."""
    blob = upload(stack, sources.av, "long-running.mp4")
    with LiveOwner(stack, blob["job_id"]):
        send_raw(stack, b64(job_message(stack, blob)))
        settings = service_settings(stack, profile_file, max_dequeue=2, visibility_timeout_s=5)
        with InProcessWorker(settings) as w:
            wait_for(lambda: len(w.worker.outcomes) >= 4, 60, "four looks at the busy copy")
    assert poisoned(stack) == [] and set(w.worker.outcomes) == {"skipped"}
    rec = record(stack, blob["job_id"])
    assert rec and rec["state"] == "running" and rec["worker"] == "other-host-1"
    assert queue_depth(stack) == 1  # one copy left, waiting out its visibility delay
    [copy] = wait_for(lambda: queue(stack, encode=False).peek_messages(), 10, "the copy to become visible")
    assert copy.dequeue_count == 0  # a fresh copy each time: no delivery spent


def test_a_spent_copy_is_dropped_without_touching_the_live_record(stack, sources, profile_file) -> None:
    blob = upload(stack, sources.av, "spent-copy.mp4")
    with LiveOwner(stack, blob["job_id"]):
        send_raw(stack, b64(job_message(stack, blob)))
        raw = queue(stack, encode=False)
        for _ in range(3):  # three deliveries that died without a word (a crash loop elsewhere)
            [message] = raw.receive_messages(visibility_timeout=1)
            raw.update_message(message, visibility_timeout=0)
        with InProcessWorker(service_settings(stack, profile_file, max_dequeue=2, max_jobs=1)) as w:
            assert w.join(30) == 0
    assert w.worker.outcomes == ["skipped"] and poisoned(stack) == [] and queue_depth(stack) == 0
    rec = record(stack, blob["job_id"])
    assert rec and rec["state"] == "running" and rec["worker"] == "other-host-1"


def test_an_oversized_source_is_refused_before_it_is_downloaded(stack, sources, profile_file) -> None:
    job_id = send_job(stack, sources.av, "huge.mp4")
    worker = InProcessWorker(service_settings(stack, profile_file, max_jobs=1, max_file_bytes=1000))

    def download(*args, **kwargs):
        raise AssertionError("downloaded before the size limit was checked")

    worker.worker.store.download = download  # type: ignore[method-assign]
    with worker:
        assert worker.join(30) == 0
    assert worker.worker.outcomes == ["failed"]
    rec = record(stack, job_id)
    assert rec and rec["error_type"] == "SourceRejected" and "WORKER_MAX_FILE_BYTES" in rec["error"]


def test_unbase64_json_names_the_encoding_policy(stack, profile_file) -> None:
    send_raw(stack, '{"version": 1}')
    with InProcessWorker(service_settings(stack, profile_file, max_jobs=1)) as w:
        w.join(30)
    (envelope,) = poisoned(stack)
    assert "TextBase64EncodePolicy" in envelope["reason"]


def test_media_the_engine_rejects_is_poisoned_at_once(stack, profile_file) -> None:
    job_id = send_job(stack, b"this is a text file, not a video" * 100, "notes.mp4")
    with InProcessWorker(service_settings(stack, profile_file, max_jobs=1, max_dequeue=5)) as w:
        w.join(60)
    assert w.worker.outcomes == ["failed"]
    (envelope,) = poisoned(stack)
    assert envelope["job_id"] == job_id and envelope["reason"].startswith("InvalidSource")
    rec = record(stack, job_id)
    assert rec and rec["state"] == "failed" and rec["attempts"] == 1 and rec["error_type"] == "InvalidSource"
    assert queue_depth(stack) == 0 and output_names(stack) == []


def test_message_that_keeps_failing_goes_to_poison_after_the_limit(stack, sources, profile_file) -> None:
    calls = []

    def crashing(*args, **kwargs):  # an engine whose ffmpeg dies every time
        calls.append(1)
        raise EncodeCrashed("ffmpeg was killed by signal 9")

    job_id = send_job(stack, sources.av, "flaky.mp4")
    settings = service_settings(stack, profile_file, max_dequeue=3, backoff_base_s=0)
    with InProcessWorker(settings, transcoder=crashing) as w:
        wait_for(lambda: poisoned(stack), 60, "the poison queue")
    assert len(calls) == 3
    (envelope,) = poisoned(stack)
    assert envelope["job_id"] == job_id and "failed on delivery 3 of 3" in envelope["reason"]
    assert "EncodeCrashed" in envelope["reason"]
    rec = record(stack, job_id)
    assert rec and rec["state"] == "poisoned" and rec["attempts"] == 3
    assert w.worker.metrics.retries._value.get() == 2
    assert queue_depth(stack) == 0


def test_redelivered_job_with_a_manifest_completes_without_encoding(stack, sources, profile_file) -> None:
    blob = upload(stack, sources.av, "twice.mp4")
    job_id = blob["job_id"]
    queue(stack).send_message(job_message(stack, blob))
    settings = service_settings(stack, profile_file, max_jobs=1)
    with InProcessWorker(settings) as w:
        assert w.join(120) == 0
    before = output_names(stack)
    # the same job again, as after a delete that was lost
    queue(stack).send_message(job_message(stack, blob))

    def must_not_run(*args, **kwargs):
        raise AssertionError("encoded again")

    with InProcessWorker(service_settings(stack, profile_file, max_jobs=1), transcoder=must_not_run) as w2:
        assert w2.join(30) == 0
    assert w2.worker.outcomes == ["skipped"]
    assert output_names(stack) == before and queue_depth(stack) == 0
    assert record(stack, job_id)["attempts"] == 1


def test_health_readiness_and_metrics(stack, sources, profile_file) -> None:
    from localdev.azurite import free_port

    port = free_port()
    settings = service_settings(stack, profile_file, http_port=port)
    from worker.app import start_health

    w = InProcessWorker(settings)
    server = start_health(w.worker)
    try:
        with w:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _status(base + "/readyz") == 200, 10, "readiness")
            assert _status(base + "/healthz") == 200
            job_id = send_job(stack, sources.av, "metrics.mp4")
            wait_for(lambda: (r := record(stack, job_id)) and r["state"] == "succeeded", 120, "success")
            wait_for(lambda: w.worker.outcomes, 10, "the outcome")
            text = urllib.request.urlopen(base + "/metrics").read().decode()
            assert 'transcoder_jobs_total{outcome="succeeded"} 1.0' in text
            assert "transcoder_job_duration_seconds_bucket" in text and "transcoder_queue_depth" in text
            assert "transcoder_gpu_utilization_ratio" not in text  # no GPU here: absent, not an error
            w.worker.drain()
            wait_for(lambda: _status(base + "/readyz") == 503, 10, "not ready while draining")
    finally:
        assert server is not None
        server.stop()


def _status(url: str) -> int:
    try:
        return int(urllib.request.urlopen(url, timeout=2).status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


# -- through the Function: upload, blob-created event, enqueue_transcode, queue, worker ----------------------------

def test_upload_to_outputs_end_to_end_through_the_function(stack, sources, profile_file) -> None:
    from functions_app.jobs import job_id_for

    delivery = stack.start_events(interval=0.1)
    blob = upload(stack, sources.av, "incoming/My Holiday Vidéo.mp4")
    with InProcessWorker(service_settings(stack, profile_file)):
        rec = wait_for(lambda: _done(stack, blob["job_id"]), 120, "the job to succeed")
    assert blob["job_id"] == job_id_for(stack.names.uploads, blob["name"], blob["etag"])
    assert rec["source_name"] == "incoming/My Holiday Vidéo.mp4" and rec["attempts"] == 1
    manifest = read_output_json(stack, f"{blob['job_id']}/manifest.json")
    assert manifest["job"]["source"]["etag"] == blob["etag"]
    assert delivery.stats.delivered == 1 and queue_depth(stack) == 0 and poisoned(stack) == []


def test_duplicated_event_makes_one_job(stack, sources, profile_file) -> None:
    from localdev.functions_host import FunctionHost

    blob = upload(stack, sources.av, "dup.mp4")
    host = FunctionHost(stack.connection_string, stack.function_settings())
    first = host.deliver(stack.names.uploads, blob["name"])
    second = host.deliver(stack.names.uploads, blob["name"])  # Event Grid delivers at least once
    assert first is not None and second is None
    assert queue_depth(stack) == 1
    rows = list(table(stack).query_entities("PartitionKey eq 'job'"))
    assert [r["RowKey"] for r in rows] == [blob["job_id"]]
    with InProcessWorker(service_settings(stack, profile_file, max_jobs=1)) as w:
        assert w.join(120) == 0
    assert w.worker.outcomes == ["succeeded"]
    # a re-upload of the same name is a new version and a new job
    again = upload(stack, sources.silent, "dup.mp4")
    assert host.deliver(stack.names.uploads, again["name"]) is not None and again["job_id"] != blob["job_id"]


def test_upload_with_a_bad_name_is_rejected_and_recorded(stack) -> None:
    delivery = stack.start_events(interval=0.1)
    good = upload(stack, b"\x00" * 64, "fine.mp4")
    bad = upload(stack, b"MZ" * 32, "setup.exe", content_type="application/octet-stream")
    assert delivery.wait_idle(20)
    row = record(stack, bad["job_id"], "rejected")
    assert row and row["state"] == "rejected" and row["reason_code"] == "bad-extension"
    assert ".exe" in row["error"] and row["source_name"] == "setup.exe"
    assert record(stack, bad["job_id"]) is None
    assert record(stack, good["job_id"])["state"] == "queued"
    assert queue_depth(stack) == 1


def _done(stack, job_id: str):
    r = record(stack, job_id)
    return r if r and r["state"] == "succeeded" else None


def test_status_shows_one_job_and_the_recent_ones(stack, sources, profile_file) -> None:
    import subprocess
    import sys

    job_id = send_job(stack, sources.av, "status.mp4")
    with InProcessWorker(service_settings(stack, profile_file, max_jobs=1)) as w:
        w.join(120)
    env = {"PATH": "/usr/bin:/bin", "WORKER_STORAGE_CONNECTION_STRING": stack.connection_string,
           "WORKER_JOBS_TABLE": stack.names.table}
    one = subprocess.run([sys.executable, "-m", "worker", "status", job_id], env=env, capture_output=True,
                         text=True, timeout=60)
    assert one.returncode == 0, one.stderr
    assert "state: succeeded" in one.stdout and "source_name: status.mp4" in one.stdout
    listing = subprocess.run([sys.executable, "-m", "worker", "status", "--json"], env=env, capture_output=True,
                             text=True, timeout=60)
    rows = json.loads(listing.stdout)
    assert [(r["RowKey"], r["state"], r["progress"]) for r in rows] == [(job_id, "succeeded", 100.0)]
    missing = subprocess.run([sys.executable, "-m", "worker", "status", "0" * 32], env=env, capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 1 and "no job 000" in missing.stderr


def test_healthcheck_command_follows_the_endpoint(stack, profile_file) -> None:
    import subprocess
    import sys

    from localdev.azurite import free_port
    from worker.app import start_health

    port = free_port()
    w = InProcessWorker(service_settings(stack, profile_file, http_port=port))
    server = start_health(w.worker)
    assert server is not None
    check = [sys.executable, "-m", "worker", "healthcheck", "--port", str(port)]
    try:
        with w:
            assert subprocess.run(check, capture_output=True, timeout=30).returncode == 0
    finally:
        server.stop()
    assert subprocess.run(check, capture_output=True, timeout=30).returncode == 1


def test_download_and_upload_stop_when_told(stack, sources, tmp_path) -> None:
    """They ignored the stop signal: a drain past its time waited on a whole transfer."""
    from worker.clients import make_clients
    from worker.errors import EncodeInterrupted
    from worker.storage import BlobStore

    settings = service_settings(stack, tmp_path / "p.yaml")
    store = BlobStore(make_clients(settings).blobs, download_concurrency=2)
    blob = upload(stack, sources.av, "stoppable.mp4")
    stop = threading.Event()
    stop.set()
    dest = tmp_path / "source"
    with pytest.raises(EncodeInterrupted, match="download stopped"):
        store.download(stack.names.uploads, blob["name"], dest, stop=stop)
    assert not dest.exists() and not (tmp_path / "source.part").exists()
    assert store.download(stack.names.uploads, blob["name"], dest) == blob["size"]  # no stop: the whole blob
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.m4s").write_bytes(b"x" * 10)
    with pytest.raises(EncodeInterrupted, match="upload stopped"):
        store.upload_package(package, stack.names.outputs, "job/a1/", stop=stop)
    assert output_names(stack, "job/") == []
