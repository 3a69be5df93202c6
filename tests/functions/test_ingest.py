"""handle_upload: one outcome per event, one log line per outcome, the table row where an operator looks."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from functions_app.ingest import IngestResult, handle_upload
from functions_app.jobs import job_id_for
from functions_app.settings import IngestSettings

from .fakes import NOW, FakeQueue, FakeTable, ServiceUnavailable

URL = "https://acct.blob.core.windows.net/uploads/"


def upload(table: FakeTable, settings: IngestSettings, name: str = "show/ep1.mp4", etag: str = '"0x8DC1"',
           size: int = 10_000, content_type: str | None = "video/mp4", queue: FakeQueue | None = None,
           **kw: Any) -> IngestResult:
    return handle_upload(container="uploads", name=name, url=URL + name, etag=etag, size=size,
                         content_type=content_type, settings=settings, table=table,
                         send=(queue or FakeQueue()).send_message, now=kw.get("now", NOW))


def test_enqueued(fake_table: FakeTable, settings: IngestSettings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="functions_app")
    result = upload(fake_table, settings)
    job_id = job_id_for("uploads", "show/ep1.mp4", '"0x8DC1"')
    assert (result.outcome, result.job_id, result.reason, result.code) == ("enqueued", job_id, None, None)
    assert result.message is not None
    job = json.loads(result.message)
    assert job["job_id"] == job_id and job["output"] == {"container": "outputs", "prefix": f"{job_id}/"}
    assert fake_table.rows[("job", job_id)]["state"] == "queued"
    assert [(r.levelno, r.name) for r in caplog.records] == [(logging.INFO, "functions_app.ingest")]
    assert f"enqueued job={job_id}" in caplog.text and "'show/ep1.mp4'" in caplog.text


def test_outputs_container_comes_from_settings(fake_table: FakeTable) -> None:
    settings = IngestSettings(outputs_container="renditions", connection_string="x")
    result = upload(fake_table, settings)
    assert result.message is not None and json.loads(result.message)["output"]["container"] == "renditions"


def test_repeated_event_is_duplicate(fake_table: FakeTable, settings: IngestSettings,
                                     caplog: pytest.LogCaptureFixture) -> None:
    first = upload(fake_table, settings)
    caplog.set_level(logging.INFO, logger="functions_app")
    again = upload(fake_table, settings, now=NOW + timedelta(seconds=30))
    assert (again.outcome, again.job_id, again.message) == ("duplicate", first.job_id, None)
    assert again.reason and "already has a job whose message was sent" in again.reason
    assert len(caplog.records) == 1 and f"duplicate event job={first.job_id}" in caplog.text


def test_reupload_is_a_new_job(fake_table: FakeTable, settings: IngestSettings) -> None:
    first = upload(fake_table, settings)
    second = upload(fake_table, settings, etag='"0x8DC2"')
    assert second.outcome == "enqueued" and second.job_id != first.job_id


def test_requeued_after_the_window(fake_table: FakeTable, caplog: pytest.LogCaptureFixture) -> None:
    settings = IngestSettings(requeue_after_s=600, connection_string="x")
    first = upload(fake_table, settings)
    caplog.set_level(logging.INFO, logger="functions_app")
    again = upload(fake_table, settings, now=NOW + timedelta(seconds=601))
    assert again.outcome == "requeued" and again.job_id == first.job_id and again.message is not None
    assert json.loads(again.message)["job_id"] == first.job_id
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert f"requeued job={first.job_id}" in caplog.text and "600 s" in caplog.text


@pytest.mark.parametrize(("kw", "code"), [
    ({"name": "../escape.mp4"}, "bad-name"),
    ({"name": "setup.exe"}, "bad-extension"),
    ({"size": 0}, "empty"),
    ({"size": 50 * 1024**3 + 1}, "too-large"),
    ({"content_type": "image/png"}, "bad-content-type"),
])
def test_rejected_row_and_error_log(fake_table: FakeTable, settings: IngestSettings,
                                    caplog: pytest.LogCaptureFixture, kw: dict[str, Any], code: str) -> None:
    caplog.set_level(logging.INFO, logger="functions_app")
    result = upload(fake_table, settings, **kw)
    assert (result.outcome, result.message, result.code) == ("rejected", None, code)
    row = fake_table.rows[("rejected", result.job_id)]
    assert row["reason_code"] == code and row["error"] == result.reason and row["state"] == "rejected"
    assert ("job", result.job_id) not in fake_table.rows
    [record] = caplog.records
    assert record.levelno == logging.ERROR and f"job={result.job_id}" in record.getMessage()
    assert f"code={code}" in record.getMessage() and str(result.reason) in record.getMessage()


def test_rejected_log_line_escapes_control_characters(fake_table: FakeTable, settings: IngestSettings,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="functions_app")
    result = upload(fake_table, settings, name="evil\nINFO forged line.mp4")
    assert result.code == "bad-name"
    assert "\n" not in caplog.records[0].getMessage()


def test_max_upload_bytes_setting_applies(fake_table: FakeTable) -> None:
    settings = IngestSettings(max_upload_bytes=1000, connection_string="x")
    assert upload(fake_table, settings, size=1000).outcome == "enqueued"
    assert upload(fake_table, settings, name="b.mp4", size=1001).code == "too-large"


def test_table_errors_propagate_so_the_host_retries(settings: IngestSettings) -> None:
    class Broken(FakeTable):
        def create_entity(self, entity: Any, **kwargs: Any) -> Any:
            raise ConnectionError("table unreachable")

    with pytest.raises(ConnectionError):
        upload(Broken(), settings)


@pytest.mark.parametrize(("step", "messages"), [
    ("create_entity", 1),  # the record is not written: the retry starts afresh
    ("send_message", 1),  # the record is written, the send fails: the retry finds it unsent and sends
    ("mark_enqueued", 2),  # sent, not marked: the retry sends again (the worker deduplicates the second)
    ("none", 1),
], ids=["record-fails", "send-fails", "mark-fails", "no-failure"])
def test_a_failure_at_any_step_is_retried_until_the_message_is_sent(fake_table: FakeTable, settings: IngestSettings,
                                                                    step: str, messages: int) -> None:
    """The old order (record, then a binding flushed after return) lost the job when the flush failed: the retry
    seconds later found a fresh queued record and sent nothing for REQUEUE_AFTER_S."""
    queue = FakeQueue()
    if step == "send_message":
        queue.fail_next = 1
    elif step != "none":
        fake_table.failures["update_entity" if step == "mark_enqueued" else step] = 1
    outcomes = []
    for attempt in range(5):  # the host's retries (maxDequeueCount), seconds apart
        try:
            outcomes.append(upload(fake_table, settings, queue=queue,
                                   now=NOW + timedelta(seconds=2 * attempt)).outcome)
            break
        except ServiceUnavailable:
            outcomes.append("failed")
    assert len(queue.sent) == messages and len({json.loads(m)["job_id"] for m in queue.sent}) == 1
    job_id = json.loads(queue.sent[0])["job_id"]
    assert fake_table.rows[("job", job_id)]["enqueued_at"]  # a record without a confirmed send never stays
    expected = {"create_entity": ["failed", "enqueued"], "send_message": ["failed", "resent"],
                "mark_enqueued": ["failed", "resent"], "none": ["enqueued"]}[step]
    assert outcomes == expected
    assert upload(fake_table, settings, queue=queue, now=NOW + timedelta(seconds=60)).outcome == "duplicate"
    assert len(queue.sent) == messages
