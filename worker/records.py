"""Job records in an Azure Table: one entity per job (PartitionKey ``job``, RowKey the job id).

The Function creates the record (``queued``); the worker claims it with an ETag match (so two deliveries of one job
cannot both run it), reports progress at a bounded rate, and ends it ``succeeded``, ``failed`` (a permanent error),
``poisoned`` (delivered too many times) or back to ``queued`` (released for a retry). Rejected uploads live in the
partition ``rejected``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient, UpdateMode

from worker.errors import StorageUnavailable
from worker.job import TranscodeJob

__all__ = ["JOB_PARTITION", "REJECTED_PARTITION", "Claim", "JobRecords", "ProgressThrottle", "record_age_s",
           "utc_now"]

logger = logging.getLogger(__name__)

JOB_PARTITION = "job"
REJECTED_PARTITION = "rejected"
State = Literal["queued", "running", "succeeded", "failed", "poisoned"]
Claim = Literal["claimed", "done", "busy"]
"""``claimed``: this worker runs the job. ``done``: it already succeeded. ``busy``: another live worker runs it."""


def _stamp(moment: datetime) -> str:
    """The records' timestamp form (the Function's too): fixed width, so they compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> str:
    return _stamp(datetime.now(UTC))


def record_age_s(stamp: Any) -> float:
    """Seconds since an ISO-8601 stamp of a record (infinite when missing or unreadable)."""
    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    return (datetime.now(UTC) - when).total_seconds()


def _plain(entity: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in dict(entity).items():
        out[k] = v.value if isinstance(v, EntityProperty) else v
    return out


class JobRecords:
    def __init__(self, table: TableClient, worker_id: str) -> None:
        self._table = table
        self.worker_id = worker_id

    def ensure(self) -> None:
        try:
            self._table.create_table()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise StorageUnavailable(f"cannot create table {self._table.table_name}: {exc}") from exc

    def get(self, job_id: str, partition: str = JOB_PARTITION) -> dict[str, Any] | None:
        try:
            return _plain(self._table.get_entity(partition, job_id))
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StorageUnavailable(f"cannot read job record {job_id}: {exc}") from exc

    def held_elsewhere(self, record: Mapping[str, Any], fresh_s: float) -> bool:
        """The record is running on another worker whose heartbeat is younger than ``fresh_s``: a live owner."""
        return (record.get("state") == "running" and record.get("worker") != self.worker_id
                and record_age_s(record.get("heartbeat_at")) < fresh_s)

    def claim(self, job: TranscodeJob, *, dequeue_count: int, fresh_s: float) -> Claim:
        """Mark the job running by this worker, unless it already succeeded or another live worker holds it."""
        for _ in range(5):
            try:
                entity = self._table.get_entity(JOB_PARTITION, job.job_id)
            except ResourceNotFoundError:
                entity = None  # a message sent without the Function (re-drive, tests): make the record now
            except AzureError as exc:
                raise StorageUnavailable(f"cannot read job record {job.job_id}: {exc}") from exc
            now = utc_now()
            fields = {"state": "running", "stage": "starting", "worker": self.worker_id, "started_at": now,
                      "heartbeat_at": now, "updated_at": now, "dequeue_count": dequeue_count, "progress": 0.0,
                      "error": ""}
            try:
                if entity is None:
                    self._table.create_entity({**self._new(job), **fields, "attempts": 1})
                    return "claimed"
                if entity.get("state") == "succeeded":
                    return "done"
                if self.held_elsewhere(entity, fresh_s):
                    return "busy"
                attempts = int(entity.get("attempts") or 0) + 1
                self._table.update_entity({"PartitionKey": JOB_PARTITION, "RowKey": job.job_id, **fields,
                                           "attempts": attempts}, mode=UpdateMode.MERGE,
                                          etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified)
                return "claimed"
            except (ResourceExistsError, ResourceModifiedError):
                continue  # raced with the Function or another worker: read again
            except AzureError as exc:
                raise StorageUnavailable(f"cannot claim job record {job.job_id}: {exc}") from exc
        return "busy"

    def update(self, job_id: str, **fields: Any) -> None:
        """Merge fields into the record (last writer wins; only the claiming worker writes a running job)."""
        entity: dict[str, Any] = {"PartitionKey": JOB_PARTITION, "RowKey": job_id, "updated_at": utc_now()}
        for k, v in fields.items():
            if isinstance(v, dict | list):
                v = json.dumps(v, separators=(",", ":"))
            elif isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**31:
                v = EntityProperty(v, EdmType.INT64)
            entity[k] = "" if v is None else v
        try:
            self._table.upsert_entity(entity, mode=UpdateMode.MERGE)
        except AzureError as exc:
            raise StorageUnavailable(f"cannot update job record {job_id}: {exc}") from exc

    def recent(self, limit: int = 20, state: str | None = None) -> list[dict[str, Any]]:
        query = f"PartitionKey eq '{JOB_PARTITION}'" + (f" and state eq '{state}'" if state else "")
        try:
            rows = [_plain(e) for e in self._table.query_entities(query)]
        except AzureError as exc:
            raise StorageUnavailable(f"cannot list job records: {exc}") from exc
        rows.sort(key=lambda r: str(r.get("submitted_at") or r.get("updated_at") or ""), reverse=True)
        return rows[:limit]

    @staticmethod
    def _new(job: TranscodeJob) -> dict[str, Any]:
        return {"PartitionKey": JOB_PARTITION, "RowKey": job.job_id, "source_container": job.source.container,
                "source_name": job.source.name, "source_etag": job.source.etag,
                "source_size": EntityProperty(job.source.size, EdmType.INT64),
                "content_type": job.source.content_type or "", "output_container": job.output.container,
                "output_prefix": job.output.prefix,
                "submitted_at": _stamp(job.submitted_at)}


@dataclass
class ProgressThrottle:
    """Passes a progress figure on when it moved ``step`` percent, ``interval`` seconds passed, or the stage changed."""

    step: float
    interval: float
    clock: Callable[[], float] = time.monotonic
    _last: tuple[str, float, float] | None = None

    def due(self, stage: str, percent: float) -> bool:
        now = self.clock()
        last = self._last
        if last is None or stage != last[0] or percent - last[1] >= self.step or now - last[2] >= self.interval:
            self._last = (stage, percent, now)
            return True
        return False
