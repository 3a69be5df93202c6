"""After a run: for every blob uploaded, exactly one job record and one job message? And how long did each take?

The truth is the storage: the blobs under the run's prefix in the uploads container. Each must have one record in
the jobs table (partition ``job``, RowKey = ``job_id_for(container, name, etag)``) and one message on the jobs queue.
Messages are received in batches of 32 with a visibility timeout (a peek shows at most 32), so every message is seen
once; they become visible again afterwards, unless ``delete`` is set.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient

from functions_app.jobs import job_id_for

__all__ = ["Accounting", "account", "job_records", "latency_stats", "list_uploaded", "percentile", "queue_jobs",
           "read_uploads", "submitted_epoch"]

logger = logging.getLogger(__name__)


def read_uploads(log_stem: Path) -> list[dict[str, Any]]:
    """Every upload the locust processes logged (``<stem>.<pid>.jsonl``), in completion order."""
    rows: list[dict[str, Any]] = []
    for path in sorted(log_stem.parent.glob(log_stem.name + ".*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: float(r["finished"]))


def list_uploaded(container: ContainerClient, prefix: str) -> dict[str, str]:
    """``name -> etag`` of the blobs under ``prefix``: what the storage holds, whatever the clients saw."""
    return {b.name: str(b.etag) for b in container.list_blobs(name_starts_with=prefix)}


def job_records(table: TableClient, container: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Records of this run's blobs by partition (``job``, ``rejected``): a range query on the source name."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    query = ("(PartitionKey eq 'job' or PartitionKey eq 'rejected') and source_container eq @c "
             "and source_name ge @p and source_name lt @e")
    out: dict[str, list[dict[str, Any]]] = {"job": [], "rejected": []}
    for e in table.query_entities(query, parameters={"c": container, "p": prefix, "e": end},
                                  select=["PartitionKey", "RowKey", "source_name", "source_etag", "submitted_at",
                                          "state"]):
        out.setdefault(str(e["PartitionKey"]), []).append(dict(e))
    return out


@dataclass(frozen=True)
class QueueJobs:
    job_ids: Counter[str]
    other: int  # messages of other containers or runs
    undecodable: int


def queue_jobs(queue: QueueClient, container: str, prefix: str, *, visibility_timeout: int = 600,
               delete: bool = False) -> QueueJobs:
    """Receive every visible message once (32 at a time) and count the job ids of this run's blobs.

    ``queue`` must decode base64 (``TextBase64DecodePolicy``): that is how the Function sends.
    """
    ids: Counter[str] = Counter()
    other = undecodable = 0
    for message in queue.receive_messages(messages_per_page=32, visibility_timeout=visibility_timeout):
        try:
            job = json.loads(message.content)
            source = job["source"]
            mine = source["container"] == container and str(source["name"]).startswith(prefix)
            job_id = str(job["job_id"])
        except (ValueError, KeyError, TypeError):
            undecodable += 1
            continue
        if mine:
            ids[job_id] += 1
            if delete:
                queue.delete_message(message)
        else:
            other += 1
    return QueueJobs(ids, other, undecodable)


@dataclass
class Accounting:
    blobs: int = 0  # in the container under the run's prefix
    logged: int = 0  # uploads the load generator saw complete
    unlogged_blobs: int = 0  # in the container, not in the log (an upload cut short after the service stored it)
    missing_blobs: int = 0  # logged, but not in the container with that ETag
    records: int = 0
    rejected: int = 0
    messages: int = 0
    other_messages: int = 0
    undecodable_messages: int = 0
    missing_records: int = 0
    missing_messages: int = 0
    lost: int = 0  # blobs without a record or without a message
    duplicate_records: int = 0
    duplicate_messages: int = 0
    duplicates: int = 0
    unexpected: int = 0  # records or messages naming a blob version that is not in the container
    lost_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def account(container: str, blobs: Mapping[str, str], uploads: Iterable[Mapping[str, Any]],
            records: Mapping[str, list[dict[str, Any]]], messages: QueueJobs | None) -> Accounting:
    """Compare the storage's blobs with the job records and messages (``messages=None``: the queue is not checked)."""
    expected = {job_id_for(container, name, etag): name for name, etag in blobs.items()}
    logged = {str(u["name"]): str(u["etag"]) for u in uploads}
    acc = Accounting(blobs=len(blobs), logged=len(logged))
    acc.unlogged_blobs = sum(1 for name in blobs if name not in logged)
    acc.missing_blobs = sum(1 for name, etag in logged.items() if blobs.get(name, "").strip('"') != etag.strip('"'))
    jobs = records.get("job", [])
    acc.records, acc.rejected = len(jobs), len(records.get("rejected", []))
    record_ids = Counter(str(r["RowKey"]) for r in jobs)
    per_name = Counter(str(r["source_name"]) for r in jobs)
    acc.duplicate_records = sum(n - 1 for n in per_name.values() if n > 1)
    missing = {j for j in expected if j not in record_ids}
    acc.missing_records = len(missing)
    acc.unexpected = sum(1 for j in record_ids if j not in expected)
    if messages is not None:
        acc.messages = sum(messages.job_ids.values())
        acc.other_messages, acc.undecodable_messages = messages.other, messages.undecodable
        acc.duplicate_messages = sum(n - 1 for n in messages.job_ids.values() if n > 1)
        no_message = {j for j in expected if j not in messages.job_ids}
        acc.missing_messages = len(no_message)
        acc.unexpected += sum(1 for j in messages.job_ids if j not in expected)
        missing |= no_message
    acc.lost = len(missing)
    acc.duplicates = acc.duplicate_records + acc.duplicate_messages
    acc.lost_examples = sorted(expected[j] for j in missing)[:10]
    return acc


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); ``values`` sorted ascending, not empty."""
    pos = (len(values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def latency_stats(samples_ms: Iterable[float]) -> dict[str, float | int | None]:
    values = sorted(samples_ms)
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    return {"count": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99), "max": values[-1]}


def submitted_epoch(text: str) -> float:
    """The record's ``submitted_at`` (``2026-11-21T10:00:00.000000Z``) as a Unix time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
