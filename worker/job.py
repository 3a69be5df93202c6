"""The job message, validated once at the edge: base64 text from the queue becomes a ``TranscodeJob`` or ``InvalidJob``.

The Function base64-encodes what it sends (TextBase64EncodePolicy), so the message body is base64 of UTF-8 JSON. The
format is pinned by ``tests/data/job_v1.json`` on both sides (the Function and this module share no code).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from worker.errors import InvalidJob

__all__ = ["MAX_JOB_BYTES", "JobOutput", "JobSource", "TranscodeJob", "check_scope", "decode_message", "parse_job"]

MAX_JOB_BYTES = 32 * 1024
"""The largest job JSON accepted (queue messages hold 64 KiB after base64; the Function builds none larger)."""

_NAME = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"


class JobSource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    container: str = Field(pattern=_NAME)
    name: str = Field(min_length=1, max_length=1024)
    url: str = Field(min_length=1)
    etag: str = Field(min_length=1, max_length=128, pattern=r'^(W/)?"?[^*,\s"]+"?$')
    """A concrete ETag: never ``*`` (it matches any version) nor a list."""
    size: int = Field(ge=0)
    content_type: str | None = None


class JobOutput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    container: str = Field(pattern=_NAME)
    prefix: str = Field(pattern=r"^[^/\\].*/$", max_length=512)


class TranscodeJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    source: JobSource
    output: JobOutput
    profile: str | None = None
    submitted_at: datetime


def decode_message(content: str) -> str:
    """The JSON text inside a queue message body (base64 of UTF-8, as the Functions binding writes it)."""
    try:
        raw = base64.b64decode(content.strip(), validate=True)
        if len(raw) > MAX_JOB_BYTES:
            raise InvalidJob(f"message too large: {len(raw)} bytes of JSON, the limit is {MAX_JOB_BYTES}")
        return raw.decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        if isinstance(exc, InvalidJob):
            raise
        raise InvalidJob(f"message is not base64 of UTF-8 JSON ({exc}); was it sent without "
                         "TextBase64EncodePolicy?") from exc


def parse_job(content: str) -> TranscodeJob:
    """Validate a raw queue message body; every problem, whatever raised it, is an ``InvalidJob``.

    Hostile JSON raises more than ``JSONDecodeError``: nesting deeper than the parser's recursion limit raises
    ``RecursionError``, an integer of more than 4300 digits ``ValueError``. Each must still end the message.
    """
    try:
        return _parse(content)
    except InvalidJob:
        raise
    except Exception as exc:  # RecursionError, ValueError, MemoryError-free surprises: never an endless message
        raise InvalidJob(f"message cannot be parsed ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _parse(content: str) -> TranscodeJob:
    text = decode_message(content)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJob(f"message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidJob(f"message is JSON {type(data).__name__}, not an object")
    if data.get("version") != 1:
        raise InvalidJob(f"unsupported job message version {data.get('version')!r}; this worker reads version 1")
    try:
        return TranscodeJob.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors())
        raise InvalidJob(f"invalid job message: {problems}") from exc



def check_scope(job: TranscodeJob, *, uploads_container: str, outputs_container: str) -> None:
    """The message may only name what this deployment owns: its source in the uploads container, its package in
    the outputs container under ``<job_id>/``. Anything else is an ``InvalidJob`` (the stale-file sweep deletes
    under the prefix, so a prefix the worker does not own would let a message delete other packages)."""
    problems = []
    if job.source.container != uploads_container:
        problems.append(f"source.container is {job.source.container!r}, not the uploads container "
                        f"{uploads_container!r}")
    if job.output.container != outputs_container:
        problems.append(f"output.container is {job.output.container!r}, not the outputs container "
                        f"{outputs_container!r}")
    if job.output.prefix != f"{job.job_id}/":
        problems.append(f"output.prefix is {job.output.prefix!r}, not '{job.job_id}/'")
    if problems:
        raise InvalidJob("job message outside this worker's scope: " + "; ".join(problems))
