"""What the dashboard sees: job records, poison messages and page cursors as JSON. Pure functions.

A job record is written by two deployables with their own field names (``records.py`` here, ``worker/records.py``
there); ``job_summary`` is the one place that maps them:

| summary | record | note |
|---|---|---|
| ``id`` | ``RowKey`` | |
| ``progress`` | ``progress`` | stored as percent (0-100), given as 0-1 |
| ``submitted_at``, ``updated_at``, ``finished_at`` | same | ISO-8601 text; ``""`` becomes null |
| ``attempts``, ``encoder``, ``fallback_reason``, ``error`` | same | the worker writes ``""`` for none: null |
| ``durations`` | ``timings`` (JSON text) | its ``download``, ``transcode``, ``upload`` seconds |

Every other field goes under ``record`` in the job detail.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from azure.data.tables import EntityProperty

from .web import BadRequest

__all__ = ["JOB_STATES", "JobState", "decode_cursor", "encode_cursor", "job_summary", "plain", "poison_entry",
           "record_rest"]

JobState = Literal["queued", "running", "succeeded", "failed", "poisoned"]
"""The states a job record can be in (``rejected`` uploads live in another partition)."""
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "succeeded", "failed", "poisoned")

_SUMMARY_FIELDS = ("state", "stage", "progress", "source_name", "source_container", "submitted_at", "updated_at",
                   "finished_at", "attempts", "encoder", "fallback_reason", "error", "timings")
_DURATIONS = ("download", "transcode", "upload")
_MAX_CURSOR = 4096


def plain(value: Any) -> Any:
    """A table value as JSON: ``EntityProperty`` unwrapped, datetimes as ISO text, bytes as base64."""
    if isinstance(value, EntityProperty):
        value = value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = plain(record.get(key))
    if value is None or value == "":
        return None
    return str(value)


def _number(value: Any) -> float | None:
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _durations(raw: Any) -> dict[str, float | None]:
    timings: Any = plain(raw)
    if isinstance(timings, str) and timings:
        try:
            timings = json.loads(timings)
        except ValueError:
            timings = None
    if not isinstance(timings, dict):
        timings = {}
    return {key: _number(timings.get(key)) for key in _DURATIONS}


def job_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """The JobSummary of one ``job`` entity."""
    progress = _number(record.get("progress"))
    attempts = _number(record.get("attempts"))
    return {
        "id": str(record.get("RowKey", "")),
        "state": _text(record, "state"),
        "stage": _text(record, "stage"),
        "progress": None if progress is None else round(min(1.0, max(0.0, progress / 100)), 4),
        "source_name": _text(record, "source_name"),
        "source_container": _text(record, "source_container"),
        "submitted_at": _text(record, "submitted_at"),
        "updated_at": _text(record, "updated_at"),
        "finished_at": _text(record, "finished_at"),
        "attempts": None if attempts is None else int(attempts),
        "encoder": _text(record, "encoder"),
        "fallback_reason": _text(record, "fallback_reason"),
        "error": _text(record, "error"),
        "durations": _durations(record.get("timings")),
    }


def record_rest(record: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of the record that the summary does not carry (keys excluded), as JSON."""
    skip = {"PartitionKey", "RowKey", *_SUMMARY_FIELDS}
    return {key: plain(value) for key, value in sorted(record.items()) if key not in skip}


def encode_cursor(token: Any) -> str | None:
    """The SDK's continuation token (a small dict of strings) as opaque URL-safe text; ``None`` stays ``None``."""
    if not token:
        return None
    text = json.dumps(token, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> dict[str, str]:
    """The continuation token back from ``encode_cursor``; ``BadRequest`` for anything else."""
    bad = BadRequest("the cursor is not one this API returned; start again without it")
    if not cursor or len(cursor) > _MAX_CURSOR:
        raise bad
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise bad from None
    if (not isinstance(data, dict) or not data or not set(data) <= {"PartitionKey", "RowKey"}
            or not all(isinstance(v, str) for v in data.values())):
        raise bad
    return data


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _envelope(content: str) -> dict[str, Any] | None:
    """The worker's poison envelope: JSON text (its poison queue client has no encode policy); base64 tolerated."""
    data = _json_object(content)
    if data is not None:
        return data
    try:
        return _json_object(base64.b64decode(content.strip(), validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def poison_entry(message_id: str, content: str, inserted_on: datetime | None,
                 queue_dequeue_count: int | None) -> dict[str, Any]:
    """One poison queue message as the dashboard lists it. ``dequeue_count`` is how often the original job message
    was delivered (the envelope's); the poison message's own count when the envelope has none."""
    envelope = _envelope(content) or {}
    reason = envelope.get("reason")
    job_id = envelope.get("job_id")
    count = envelope.get("dequeue_count")
    if not isinstance(count, int) or isinstance(count, bool):
        count = queue_dequeue_count
    return {
        "message_id": message_id,
        "job_id": job_id if isinstance(job_id, str) else None,
        "reason": reason if isinstance(reason, str) else "unreadable poison message (not the worker's envelope)",
        "inserted_on": inserted_on.isoformat() if inserted_on else envelope.get("poisoned_at"),
        "dequeue_count": count,
    }
