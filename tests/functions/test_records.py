"""The job record: created, duplicate, requeue and rejected rows, on the in-memory table and on Azurite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from azure.data.tables import EdmType, EntityProperty, TableClient

from functions_app.jobs import build_job, job_id_for
from functions_app.records import create_queued, mark_enqueued, record_rejected

from .fakes import NOW, FakeTable

QUEUED_FIELDS = {"PartitionKey", "RowKey", "state", "source_container", "source_name", "source_etag", "source_size",
                 "content_type", "output_container", "output_prefix", "submitted_at", "updated_at", "enqueued_at",
                 "attempts", "progress", "stage"}
REJECTED_FIELDS = {"PartitionKey", "RowKey", "state", "reason_code", "error", "source_container", "source_name",
                   "source_etag", "source_size", "content_type", "submitted_at", "updated_at"}


def make_job(size: int = 123, name: str = "a/b.mp4", etag: str = '"0x8DC1"', content_type: str | None = "video/mp4",
             **kw: Any) -> dict[str, Any]:
    return build_job(container="uploads", name=name, url=f"https://acct.blob.core.windows.net/uploads/{name}",
                     etag=etag, size=size, content_type=content_type, submitted_at=kw.pop("at", NOW), **kw)


def size_of(value: Any) -> int:
    """Int64 properties come back from the SDK as ``EntityProperty(value, EdmType.INT64)``."""
    return value.value if isinstance(value, EntityProperty) else int(value)


# --- in memory ----------------------------------------------------------------------------------------------------

def test_created_entity_fields(fake_table: FakeTable) -> None:
    job = make_job(size=5 * 1024**3)
    assert create_queued(fake_table, job, now=NOW) == "created"
    row = fake_table.rows[("job", job["job_id"])]
    assert set(row) == QUEUED_FIELDS
    assert row["source_size"] == EntityProperty(5 * 1024**3, EdmType.INT64)
    assert row["state"] == row["stage"] == "queued"
    assert (row["attempts"], row["progress"]) == (0, 0.0) and isinstance(row["progress"], float)
    assert row["submitted_at"] == row["updated_at"] == "2026-11-21T10:00:00.000000Z"
    assert row["output_prefix"] == job["job_id"] + "/"
    assert row["enqueued_at"] == ""  # no send confirmed yet


def test_second_create_is_unsent_until_the_send_is_marked_then_duplicate(fake_table: FakeTable) -> None:
    job = make_job()
    assert create_queued(fake_table, job, now=NOW) == "created"
    assert create_queued(fake_table, job, now=NOW + timedelta(seconds=2)) == "unsent"  # the send never confirmed
    mark_enqueued(fake_table, job["job_id"], now=NOW + timedelta(seconds=3))
    assert fake_table.rows[("job", job["job_id"])]["enqueued_at"] == "2026-11-21T10:00:03.000000Z"
    assert create_queued(fake_table, job, now=NOW + timedelta(seconds=899)) == "duplicate"


def test_old_queued_record_is_requeued_once(fake_table: FakeTable) -> None:
    job = make_job()
    create_queued(fake_table, job, now=NOW)
    mark_enqueued(fake_table, job["job_id"], now=NOW)
    later = NOW + timedelta(seconds=901)
    assert create_queued(fake_table, job, now=later, requeue_after_s=900) == "requeue"
    assert fake_table.rows[("job", job["job_id"])]["updated_at"] == "2026-11-21T10:15:01.000000Z"
    assert fake_table.rows[("job", job["job_id"])]["submitted_at"] == "2026-11-21T10:00:00.000000Z"
    # the touch restarts the clock: the next redelivery soon after is a plain duplicate
    assert create_queued(fake_table, job, now=later + timedelta(seconds=1)) == "duplicate"


def test_claimed_record_is_never_requeued(fake_table: FakeTable) -> None:
    job = make_job()
    create_queued(fake_table, job, now=NOW)
    fake_table.rows[("job", job["job_id"])]["state"] = "running"
    assert create_queued(fake_table, job, now=NOW + timedelta(days=1)) == "duplicate"


def test_requeue_loses_to_a_concurrent_change(fake_table: FakeTable, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker claiming the record between our read and our touch makes the ETag stale: nothing is sent."""
    job = make_job()
    create_queued(fake_table, job, now=NOW)
    mark_enqueued(fake_table, job["job_id"], now=NOW)
    real_get = fake_table.get_entity

    def get_then_claim(pk: str, rk: str, **kw: Any) -> Any:
        entity = real_get(pk, rk)
        fake_table.upsert_entity({"PartitionKey": pk, "RowKey": rk, "state": "running"})
        return entity

    monkeypatch.setattr(fake_table, "get_entity", get_then_claim)
    assert create_queued(fake_table, job, now=NOW + timedelta(hours=1)) == "duplicate"


def test_rejected_row_is_upserted(fake_table: FakeTable) -> None:
    job_id = job_id_for("uploads", "bad.exe", '"0x1"')
    for attempt in range(2):  # a redelivered event overwrites the same row
        record_rejected(fake_table, job_id=job_id, container="uploads", name="bad.exe", etag='"0x1"',
                        size=3 * 1024**3, content_type=None, reason_code="bad-extension", error=f"nope {attempt}",
                        submitted_at=NOW, now=NOW + timedelta(seconds=attempt))
    assert list(fake_table.rows) == [("rejected", job_id)]
    row = fake_table.rows[("rejected", job_id)]
    assert set(row) == REJECTED_FIELDS
    assert row["state"] == "rejected" and row["reason_code"] == "bad-extension" and row["error"] == "nope 1"
    assert row["content_type"] == "" and row["source_size"] == EntityProperty(3 * 1024**3, EdmType.INT64)
    assert row["updated_at"] == "2026-11-21T10:00:01.000000Z"



# --- Azurite ------------------------------------------------------------------------------------------------------


@pytest.mark.azurite
def test_azurite_created_then_duplicate(azurite_table: TableClient) -> None:
    job = make_job()
    assert create_queued(azurite_table, job, now=NOW) == "created"
    assert create_queued(azurite_table, job, now=NOW + timedelta(seconds=5)) == "unsent"
    mark_enqueued(azurite_table, job["job_id"], now=NOW)
    assert create_queued(azurite_table, job, now=NOW + timedelta(seconds=10)) == "duplicate"
    row = azurite_table.get_entity("job", job["job_id"])
    assert set(row) == QUEUED_FIELDS
    assert row["state"] == "queued" and row["attempts"] == 0 and row["progress"] == 0.0
    assert isinstance(row["progress"], float)


@pytest.mark.azurite
def test_azurite_requeue_after_the_window(azurite_table: TableClient) -> None:
    job = make_job()
    assert create_queued(azurite_table, job, now=NOW) == "created"
    mark_enqueued(azurite_table, job["job_id"], now=NOW)
    assert create_queued(azurite_table, job, now=NOW + timedelta(seconds=60), requeue_after_s=30) == "requeue"
    assert azurite_table.get_entity("job", job["job_id"])["updated_at"] == "2026-11-21T10:01:00.000000Z"
    assert create_queued(azurite_table, job, now=NOW + timedelta(seconds=61), requeue_after_s=30) == "duplicate"


@pytest.mark.azurite
def test_azurite_stale_etag_is_not_requeued(azurite_table: TableClient, monkeypatch: pytest.MonkeyPatch) -> None:
    job = make_job()
    create_queued(azurite_table, job, now=NOW)
    mark_enqueued(azurite_table, job["job_id"], now=NOW)
    real_get = azurite_table.get_entity

    def get_then_claim(pk: str, rk: str, **kw: Any) -> Any:
        entity = real_get(pk, rk)
        azurite_table.upsert_entity({"PartitionKey": pk, "RowKey": rk, "state": "running"})
        return entity

    monkeypatch.setattr(azurite_table, "get_entity", get_then_claim)
    assert create_queued(azurite_table, job, now=NOW + timedelta(hours=1)) == "duplicate"


@pytest.mark.azurite
def test_azurite_rejected_upsert(azurite_table: TableClient) -> None:
    job_id = job_id_for("uploads", "clip\x85.mp4", '"0x1"')
    for error in ("first", "second"):
        record_rejected(azurite_table, job_id=job_id, container="uploads", name="clip\x85.mp4", etag='"0x1"',
                        size=0, content_type="image/png", reason_code="bad-name", error=error, submitted_at=NOW)
    rows = list(azurite_table.query_entities("PartitionKey eq 'rejected'"))
    assert len(rows) == 1
    assert set(rows[0]) == REJECTED_FIELDS
    assert rows[0]["error"] == "second" and rows[0]["source_name"] == "clip\x85.mp4"


@pytest.mark.azurite
@pytest.mark.parametrize("size", [0, 2**31 - 1, 2**31, 5 * 1024**4, 2**63 - 1])
def test_azurite_int64_sizes_round_trip(azurite_table: TableClient, size: int) -> None:
    job = make_job(size=size, etag=f'"0x{size:X}"')
    assert create_queued(azurite_table, job, now=NOW) == "created"
    assert size_of(azurite_table.get_entity("job", job["job_id"])["source_size"]) == size
