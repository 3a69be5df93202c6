"""The dashboard API's job routes against a real Azurite: the list and its cursor, the detail with its manifest and
SAS links (fetched with plain urllib), the poison queue as the worker writes it, and the retry of a poisoned job
into a message the worker's own parser accepts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContentSettings

from functions_app.views import JOB_STATES, job_summary

from .api_support import ApiEnv, fetch

pytestmark = pytest.mark.azurite

DATA = Path(__file__).resolve().parent.parent / "data"
SUMMARY_KEYS = {"id", "state", "stage", "progress", "source_name", "source_container", "submitted_at", "updated_at",
                "finished_at", "attempts", "encoder", "fallback_reason", "error", "durations"}


def finish(api: ApiEnv, job_id: str, state: str = "succeeded") -> None:
    """Claimed, then ended, with the fields the worker writes."""
    api.worker_update(job_id, state="running", stage="encoding", worker="w1", attempts=1, progress=40.0)
    if state == "succeeded":
        api.worker_update(job_id, state="succeeded", stage="done", progress=100.0, error="",
                          manifest_url="http://x/manifest.json", encoder="libx264",
                          fallback_reason="cpu-requested: encoder policy is cpu", renditions=2,
                          timings={"download": 0.5, "transcode": 3.25, "upload": 0.75, "probe": 0.01},
                          finished_at="2026-11-21T10:05:00.000000Z")
    elif state == "failed":
        api.worker_update(job_id, state="failed", stage="failed", error="UnsupportedMedia: no video stream",
                          error_type="UnsupportedMedia", finished_at="2026-11-21T10:02:00.000000Z")
    elif state == "poisoned":
        api.worker_update(job_id, state="poisoned", stage="poisoned", error="delivered 6 times (limit 5)",
                          finished_at="2026-11-21T10:03:00.000000Z")


# --- list ----------------------------------------------------------------------------------------------------------

def walk(api: ApiEnv, limit: int, state: str | None = None) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    for _ in range(100):
        params = {"limit": str(limit), **({"state": state} if state else {}), **({"cursor": cursor} if cursor else {})}
        status, body, _ = api.http("GET", "/api/jobs", headers=api.auth(), params=params)
        assert status == 200, body
        pages.append(body["items"])
        cursor = body["next"]
        if cursor is None:
            return pages
        assert isinstance(cursor, str) and cursor
    raise AssertionError("the cursor never ended")


def test_list_filters_by_state_and_pages_through_everything_once(api: ApiEnv) -> None:
    succeeded = {api.make_job(f"s/{i}.mp4", minutes=i) for i in range(15)}
    failed = {api.make_job(f"f/{i}.mp4", minutes=i) for i in range(8)}
    queued = {api.make_job(f"q/{i}.mp4") for i in range(3)}
    for job_id in succeeded:
        finish(api, job_id)
    for job_id in failed:
        finish(api, job_id, "failed")

    pages = walk(api, 4, "succeeded")
    seen = [item["id"] for page in pages for item in page]
    assert len(seen) == len(set(seen)) == 15 and set(seen) == succeeded
    assert all(len(page) == 4 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 4  # short pages are filled
    assert seen == sorted(seen)  # the table's order: by job id
    assert all(item["state"] == "succeeded" and item["progress"] == 1.0 for page in pages for item in page)

    pages = walk(api, 5)
    everything = [item["id"] for page in pages for item in page]
    assert len(everything) == len(set(everything)) == 26
    assert set(everything) == succeeded | failed | queued

    [only] = walk(api, 200, "failed")
    assert {item["id"] for item in only} == failed
    assert walk(api, 10, "poisoned") == [[]]


def test_summary_maps_the_records_real_fields(api: ApiEnv) -> None:
    done = api.make_job("clips/done.mp4")
    finish(api, done)
    waiting = api.make_job("clips/waiting.mp4")
    status, body, response = api.http("GET", "/api/jobs", headers=api.auth())
    assert status == 200 and response.mimetype == "application/json"
    by_id = {item["id"]: item for item in body["items"]}
    assert set(by_id[done]) == SUMMARY_KEYS
    assert by_id[done] == {
        "id": done, "state": "succeeded", "stage": "done", "progress": 1.0, "source_name": "clips/done.mp4",
        "source_container": api.settings.ingest.uploads_container, "submitted_at": "2026-11-21T10:00:00.000000Z",
        "updated_at": by_id[done]["updated_at"], "finished_at": "2026-11-21T10:05:00.000000Z", "attempts": 1,
        "encoder": "libx264", "fallback_reason": "cpu-requested: encoder policy is cpu", "error": None,
        "durations": {"download": 0.5, "transcode": 3.25, "upload": 0.75}}
    assert by_id[waiting] | {"updated_at": None} == {
        "id": waiting, "state": "queued", "stage": "queued", "progress": 0.0, "source_name": "clips/waiting.mp4",
        "source_container": api.settings.ingest.uploads_container, "submitted_at": "2026-11-21T10:00:00.000000Z",
        "updated_at": None, "finished_at": None, "attempts": 0, "encoder": None, "fallback_reason": None,
        "error": None, "durations": {"download": None, "transcode": None, "upload": None}}


def test_summary_of_a_sparse_record_is_all_nulls() -> None:
    summary = job_summary({"RowKey": "0" * 32})
    assert summary["id"] == "0" * 32 and set(summary) == SUMMARY_KEYS
    assert all(v is None for k, v in summary.items() if k not in ("id", "durations"))
    assert set(JOB_STATES) == {"queued", "running", "succeeded", "failed", "poisoned"}


# --- detail --------------------------------------------------------------------------------------------------------

def publish(api: ApiEnv, job_id: str, attempt: str = "a1-0123abcd") -> tuple[dict[str, Any], dict[str, bytes]]:
    """A package as the worker publishes it: files under ``<job_id>/<attempt>/``, ``manifest.json`` last."""
    from worker.service import attempt_manifest

    manifest = attempt_manifest(json.loads((DATA / "manifest_v1.json").read_text()), attempt)
    manifest["renditions"][1]["vmaf"]["series"] = None  # a rendition without a series gets no quality link
    files = {f"{attempt}/master.m3u8": b"#EXTM3U\n", f"{attempt}/manifest.mpd": b"<MPD/>",
             f"{attempt}/poster.jpg": b"\xff\xd8\xff" + uuid.uuid4().bytes,
             f"{attempt}/quality/240p.json": json.dumps({"rendition": "240p", "frames": [97.1, 98.2]}).encode()}
    container = api.blobs.get_container_client(api.settings.ingest.outputs_container)
    for name, data in files.items():
        container.upload_blob(f"{job_id}/{name}", data)
    container.upload_blob(f"{job_id}/manifest.json", json.dumps(manifest).encode(),
                          content_settings=ContentSettings(content_type="application/json"))
    return manifest, files


def test_detail_has_the_record_the_manifest_and_working_links(api: ApiEnv) -> None:
    job_id = api.make_job("shows/ep1.mp4")
    finish(api, job_id)
    manifest, files = publish(api, job_id)
    status, body, _ = api.http("GET", f"/api/jobs/{job_id}", headers=api.auth())
    assert status == 200, body
    job = body["job"]
    assert set(job) == SUMMARY_KEYS | {"record"} and job["id"] == job_id and job["state"] == "succeeded"
    record = job["record"]
    assert record["worker"] == "w1" and record["renditions"] == 2 and record["source_size"] == 512
    assert record["output_prefix"] == f"{job_id}/" and "PartitionKey" not in record and "state" not in record
    assert body["manifest"] == manifest

    links = body["links"]
    assert set(links) == {"manifest", "hls", "dash", "poster", "quality"}
    assert set(links["quality"]) == {"240p"}
    expected = {"manifest": json.dumps(manifest).encode(), "hls": files["a1-0123abcd/master.m3u8"],
                "dash": files["a1-0123abcd/manifest.mpd"], "poster": files["a1-0123abcd/poster.jpg"]}
    for key, data in expected.items():
        assert "sig=" in links[key] and "se=" in links[key]
        assert fetch(links[key]) == (200, data), key
    assert fetch(links["quality"]["240p"]) == (200, files["a1-0123abcd/quality/240p.json"])
    status, _ = fetch(links["hls"].replace("master.m3u8", "manifest.mpd"))  # a link reads its own blob only
    assert status == 403


def test_detail_before_the_manifest_exists(api: ApiEnv) -> None:
    job_id = api.make_job("shows/ep2.mp4")
    status, body, _ = api.http("GET", f"/api/jobs/{job_id}", headers=api.auth())
    assert status == 200
    assert body["manifest"] is None
    assert body["links"] == {"manifest": None, "hls": None, "dash": None, "poster": None, "quality": {}}


def test_detail_links_under_a_playback_base_url(api: ApiEnv) -> None:
    from dataclasses import replace

    from functions_app.links import LinkSigner

    job_id = api.make_job("shows/ep3.mp4")
    finish(api, job_id)
    publish(api, job_id)
    api.clients = replace(api.clients, signer=LinkSigner(api.clients.blobs,
                                                         playback_base_url="https://cdn.example.net/media/"))
    response = api.handle("api_job", headers=api.auth(), route={"id": job_id})
    assert response.status == 200
    assert response.body["links"]["hls"] == f"https://cdn.example.net/media/{job_id}/a1-0123abcd/master.m3u8"
    assert response.body["links"]["quality"]["240p"].endswith("/a1-0123abcd/quality/240p.json")


def test_unknown_and_rejected_ids_are_404_with_a_reason(api: ApiEnv) -> None:
    from functions_app.records import record_rejected
    from tests.functions.fakes import NOW

    status, body, _ = api.http("GET", f"/api/jobs/{'f' * 32}", headers=api.auth())
    assert status == 404 and "no job" in body["error"]
    record_rejected(api.table, job_id="e" * 32, container="up", name="a.png", etag='"1"', size=3,
                    content_type="image/png", reason_code="bad-extension", error="the extension '.png' is wrong",
                    submitted_at=NOW)
    status, body, _ = api.http("GET", f"/api/jobs/{'e' * 32}", headers=api.auth())
    assert status == 404 and "rejected" in body["error"] and ".png" in body["error"]


# --- poison --------------------------------------------------------------------------------------------------------

def test_poison_lists_the_workers_envelopes(api: ApiEnv) -> None:
    from worker.queue import JobQueue

    queue = JobQueue(api.queue, api.poison)
    api.queue.send_message("not base64 at all")
    api.queue.send_message("eyJ2ZXJzaW9uIjogMX0=")
    first = queue.receive(30)
    second = queue.receive(30)
    assert first is not None and second is not None
    queue.poison(first, "InvalidJob: message is not base64", None)
    queue.poison(second, "delivered 6 times (limit 5)", "a" * 32)
    api.poison.send_message("garbage that is no envelope")

    status, body, _ = api.http("GET", "/api/poison", headers=api.auth())
    assert status == 200
    items = body["items"]
    assert [set(i) for i in items] == [{"message_id", "job_id", "reason", "inserted_on", "dequeue_count"}] * 3
    assert [(i["job_id"], i["reason"], i["dequeue_count"]) for i in items[:2]] == [
        (None, "InvalidJob: message is not base64", 1), ("a" * 32, "delivered 6 times (limit 5)", 1)]
    assert items[2]["job_id"] is None and "unreadable" in items[2]["reason"]
    assert all(i["message_id"] and i["inserted_on"] for i in items)


# --- retry ---------------------------------------------------------------------------------------------------------

def test_retry_of_a_poisoned_job_sends_a_message_the_worker_accepts(api: ApiEnv) -> None:
    from worker.job import check_scope, parse_job

    name = "retry/clip 1.mp4"
    etag = api.upload_source(name)
    job_id = api.make_job(name, etag=etag, size=512)
    finish(api, job_id, "poisoned")
    api.worker_update(job_id, attempts=5)

    status, body, _ = api.http("POST", f"/api/jobs/{job_id}/retry", headers=api.auth())
    assert (status, body) == (202, {"job_id": job_id, "state": "queued"})
    [message] = api.queue.receive_messages(max_messages=32)
    job = parse_job(message.content)
    check_scope(job, uploads_container=api.settings.ingest.uploads_container,
                outputs_container=api.settings.ingest.outputs_container)
    assert job.job_id == job_id and job.source.name == name and job.source.etag == etag and job.source.size == 512
    record = api.table.get_entity("job", job_id)
    assert record["state"] == "queued" and record["attempts"] == 5 and record["error"] == ""
    assert record["last_error"] == "delivered 6 times (limit 5)" and record["retried_at"]

    status, body, _ = api.http("POST", f"/api/jobs/{job_id}/retry", headers=api.auth())
    assert status == 409 and "queued" in body["error"]  # no longer poisoned
    assert api.queue.peek_messages(max_messages=32) == []  # the message was received above; nothing new sent


def test_retry_is_409_for_a_succeeded_job_and_404_for_an_unknown_one(api: ApiEnv) -> None:
    job_id = api.make_job("done.mp4")
    finish(api, job_id)
    status, body, _ = api.http("POST", f"/api/jobs/{job_id}/retry", headers=api.auth())
    assert status == 409 and "succeeded" in body["error"] and "poisoned" in body["error"]
    status, body, _ = api.http("POST", f"/api/jobs/{'0' * 32}/retry", headers=api.auth())
    assert status == 404 and body["error"]
    assert api.queue.peek_messages() == []


def test_retry_is_409_when_the_source_is_gone_or_replaced(api: ApiEnv) -> None:
    gone = api.make_job("gone.mp4")
    finish(api, gone, "poisoned")
    status, body, _ = api.http("POST", f"/api/jobs/{gone}/retry", headers=api.auth())
    assert status == 409 and "no longer exists" in body["error"]
    etag = api.upload_source("replaced.mp4")
    replaced = api.make_job("replaced.mp4", etag=etag)
    finish(api, replaced, "poisoned")
    api.upload_source("replaced.mp4", b"another video")
    status, body, _ = api.http("POST", f"/api/jobs/{replaced}/retry", headers=api.auth())
    assert status == 409 and "overwritten" in body["error"]
    assert api.queue.peek_messages() == []
    assert api.table.get_entity("job", replaced)["state"] == "poisoned"
