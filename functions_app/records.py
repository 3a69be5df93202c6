"""The job record: one Azure Table entity per upload, shared with the worker (which updates the same entities).

Accepted upload, PartitionKey ``"job"``, RowKey = job id::

    state="queued" stage="queued" attempts=0 (Int32) progress=0.0 (Double)
    source_container source_name source_etag source_size (Int64) content_type ("" when none)
    output_container output_prefix submitted_at updated_at (ISO-8601 strings, as in the message)

Rejected upload, PartitionKey ``"rejected"``, RowKey = job id::

    state="rejected" reason_code error source_* content_type submitted_at updated_at

The record is created with ``enqueued_at`` empty, the function then sends the message itself, and only after the
queue accepted it is ``enqueued_at`` set. A failure anywhere in between fails the invocation; the host's retry finds
the record still unsent and sends again (``unsent``). So there is no window in which a record exists and its message
is silently missing; the cost is an occasional second message, which the worker deduplicates (it claims a record
with an ETag match). A record sent long ago and still ``queued`` after ``requeue_after_s`` is sent again too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, UpdateMode

from .jobs import format_timestamp

__all__ = ["JOB_PARTITION", "REJECTED_PARTITION", "CreateOutcome", "JobTable", "create_queued", "mark_enqueued",
           "record_rejected"]

JOB_PARTITION = "job"
REJECTED_PARTITION = "rejected"

CreateOutcome = Literal["created", "unsent", "duplicate", "requeue"]
"""``created``: a new record, send the message. ``unsent``: the record exists but no send was ever confirmed (an
earlier invocation failed after writing it), send it now. ``duplicate``: the job is known, sent and alive, send
nothing. ``requeue``: sent, but queued longer than ``requeue_after_s`` with nobody claiming it, send again."""


class JobTable(Protocol):
    """The part of ``azure.data.tables.TableClient`` used here."""

    def create_entity(self, entity: Mapping[str, Any], **kwargs: Any) -> Mapping[str, Any]: ...

    def get_entity(self, partition_key: str, row_key: str, **kwargs: Any) -> Any: ...

    def upsert_entity(self, entity: Mapping[str, Any], mode: UpdateMode = ..., **kwargs: Any) -> Mapping[str, Any]:
        ...

    def update_entity(self, entity: Mapping[str, Any], mode: UpdateMode = ..., **kwargs: Any) -> Mapping[str, Any]:
        ...


def _int64(value: int) -> EntityProperty:
    return EntityProperty(value, EdmType.INT64)


def _parse_timestamp(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _storable(text: str) -> str:
    """``text`` as it can be stored: a lone surrogate (never valid UTF-8) becomes its ``\\udXXX`` escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _queued_entity(job: Mapping[str, Any], updated_at: str) -> dict[str, Any]:
    source, output = job["source"], job["output"]
    return {
        "PartitionKey": JOB_PARTITION,
        "RowKey": job["job_id"],
        "state": "queued",
        "source_container": source["container"],
        "source_name": source["name"],
        "source_etag": source["etag"],
        "source_size": _int64(source["size"]),
        "content_type": source["content_type"] or "",
        "output_container": output["container"],
        "output_prefix": output["prefix"],
        "submitted_at": job["submitted_at"],
        "updated_at": updated_at,
        "enqueued_at": "",
        "attempts": 0,
        "progress": 0.0,
        "stage": "queued",
    }


def create_queued(table: JobTable, job: Mapping[str, Any], *, now: datetime | None = None,
                  requeue_after_s: float = 900) -> CreateOutcome:
    """Create the queued record for ``job`` (a ``build_job`` dict) and say whether its message must be sent.

    On a requeue the record's ``updated_at`` is moved to ``now`` with an ETag match, so concurrent duplicates (and a
    worker claiming the job meanwhile) make at most one extra message; the loser gets ``"duplicate"``.
    """
    now = now or datetime.now(UTC)
    stamp = format_timestamp(now)
    try:
        table.create_entity(_queued_entity(job, stamp))
        return "created"
    except ResourceExistsError:
        pass
    try:
        existing = table.get_entity(JOB_PARTITION, job["job_id"])
    except ResourceNotFoundError:  # deleted between the two calls: an operator cleaned it up; leave it alone
        return "duplicate"
    if existing.get("state") != "queued":
        return "duplicate"
    if not existing.get("enqueued_at"):
        return "unsent"
    last = _parse_timestamp(existing.get("updated_at")) or _parse_timestamp(existing.get("submitted_at"))
    if last is not None and (now - last).total_seconds() < requeue_after_s:
        return "duplicate"
    etag = getattr(existing, "metadata", {}).get("etag")
    touch = {"PartitionKey": JOB_PARTITION, "RowKey": job["job_id"], "updated_at": stamp}
    try:
        table.update_entity(touch, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified)
    except (ResourceModifiedError, ResourceNotFoundError):
        return "duplicate"
    return "requeue"


def mark_enqueued(table: JobTable, job_id: str, *, now: datetime | None = None) -> None:
    """Record that the queue accepted the job's message (a merge: the worker may already be updating the row)."""
    stamp = format_timestamp(now or datetime.now(UTC))
    table.update_entity({"PartitionKey": JOB_PARTITION, "RowKey": job_id, "enqueued_at": stamp},
                        mode=UpdateMode.MERGE)


def record_rejected(table: JobTable, *, job_id: str, container: str, name: str, etag: str, size: int,
                    content_type: str | None, reason_code: str, error: str, submitted_at: datetime,
                    now: datetime | None = None) -> None:
    """Write (or overwrite: a redelivered event lands on the same row) the record of a refused upload."""
    table.upsert_entity({
        "PartitionKey": REJECTED_PARTITION,
        "RowKey": job_id,
        "state": "rejected",
        "reason_code": reason_code,
        "error": _storable(error),
        "source_container": container,
        "source_name": _storable(name),
        "source_etag": etag,
        "source_size": _int64(size),
        "content_type": content_type or "",
        "submitted_at": format_timestamp(submitted_at),
        "updated_at": format_timestamp(now or submitted_at),
    }, mode=UpdateMode.REPLACE)
