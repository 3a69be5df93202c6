"""Upload rules, job ids and the job message: pure functions over a blob's name, size, ETag and content type.

Nothing here touches Azure. The message format is version 1, pinned byte for byte by ``tests/data/job_v1.json``
(the worker parses the same file with its own model, ``extra="forbid"``; the two sides share no code).

Errors::

    ValueError
     └ UploadRejected          .code, .value, .limit; the upload can never become a job
        └ MessageTooLarge      the encoded message would not fit in a queue message

Decisions:

* Names are limited to 1,024 *characters* (Unicode code points), Azure's documented blob-name limit, which is also
  what the worker's model counts. A 1,024-character name of multibyte characters is accepted; its UTF-8 size is
  bounded by the 32 KiB message check anyway.
* A name is refused when it has ``.`` or ``..`` segments, a leading ``/``, empty segments (``a//b``, a trailing
  ``/``), backslashes, more than 254 segments (Azure's limit), or any control character: C0 (U+0000-U+001F), DEL,
  C1 (U+0080-U+009F), U+2028/U+2029 (they split log lines as ``\\n`` does) and lone surrogates (not encodable as
  UTF-8). Spaces, other Unicode and format characters (ZWJ, bidi marks) are accepted; a bidi override cannot hide the
  extension because the check reads the name's real last suffix.
* Content type: the Function never reads the video, so the type only screens out obvious mistakes. Accepted: none
  (Azure then reports ``application/octet-stream``), any ``video/*``, and ``application/octet-stream``,
  ``binary/octet-stream`` (S3-style tools), ``application/mxf``, ``application/mp4``. Everything else (``image/*``,
  ``audio/*``, ``text/*``, ``application/json``...) is refused with ``bad-content-type``. Parameters
  (``; codecs=...``) and case are ignored.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_CONTENT_TYPES",
    "DEFAULT_EXTENSIONS",
    "JOB_SCHEMA_VERSION",
    "MAX_MESSAGE_BYTES",
    "MessageTooLarge",
    "UploadRejected",
    "UploadRules",
    "build_job",
    "encode_job",
    "format_timestamp",
    "job_id_for",
    "normalize_extension",
    "validate_upload",
]

JOB_SCHEMA_VERSION = 1

MAX_MESSAGE_BYTES = 32 * 1024
"""Largest encoded job (UTF-8 bytes), the same limit the worker enforces. Queue messages are at most 64 KiB after the
binding's base64 (x 4/3), so 48 KiB would fit; the longest valid name and URL make about 17 KiB."""

DEFAULT_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi", ".ts", ".mxf", ".mpg", ".mpeg"})

DEFAULT_CONTENT_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/mxf",
                                   "application/mp4"})
"""Accepted besides ``video/*`` and no content type at all."""

_MAX_SEGMENTS = 254
_LINE_SEPARATORS = frozenset({"\u2028", "\u2029"})


class UploadRejected(ValueError):
    """An upload that can never become a job. ``code`` is a short machine code; ``str()`` is a sentence to act on."""

    def __init__(self, code: str, message: str, *, value: object = None, limit: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.value = value
        self.limit = limit

    def __str__(self) -> str:
        return self.message


class MessageTooLarge(UploadRejected):
    """The encoded job would exceed ``MAX_MESSAGE_BYTES``."""


def normalize_extension(ext: str) -> str:
    """``"MP4"``, ``".mp4"`` and ``" .Mp4 "`` all become ``".mp4"``."""
    ext = ext.strip().lower()
    if not ext or ext == ".":
        raise ValueError(f"empty file extension {ext!r}")
    return ext if ext.startswith(".") else "." + ext


@dataclass(frozen=True)
class UploadRules:
    """What an upload must look like to become a job. Extensions are compared case-insensitively."""

    allowed_extensions: frozenset[str] = DEFAULT_EXTENSIONS
    max_bytes: int = 50 * 1024**3
    min_bytes: int = 1
    max_name_length: int = 1024
    content_types: frozenset[str] = field(default=DEFAULT_CONTENT_TYPES)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_extensions",
                           frozenset(normalize_extension(e) for e in self.allowed_extensions))
        object.__setattr__(self, "content_types", frozenset(t.strip().lower() for t in self.content_types))
        if not self.allowed_extensions:
            raise ValueError("allowed_extensions is empty: no upload could ever be accepted")
        if self.min_bytes < 0 or self.max_bytes < self.min_bytes:
            raise ValueError(f"need 0 <= min_bytes <= max_bytes, got {self.min_bytes} and {self.max_bytes}")
        if not 1 <= self.max_name_length <= 1024:
            raise ValueError(f"max_name_length must be 1..1024 (Azure's limit), got {self.max_name_length}")


def _human_bytes(n: int) -> str:
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if n >= 1024**power:
            return f"{n / 1024**power:.1f} {unit} ({n} bytes)"
    return f"{n} bytes"


def _bad_character(name: str) -> tuple[int, str] | None:
    for i, ch in enumerate(name):
        cp = ord(ch)
        if cp < 0x20 or 0x7F <= cp <= 0x9F or ch in _LINE_SEPARATORS or unicodedata.category(ch) == "Cs":
            return i, ch
    return None


def _validate_name(name: str, rules: UploadRules) -> None:
    if not name:
        raise UploadRejected("bad-name", "the blob name is empty", value=name)
    if len(name) > rules.max_name_length:
        raise UploadRejected(
            "bad-name", f"the blob name is {len(name)} characters long; the limit is {rules.max_name_length}: "
            "rename it with a shorter path", value=len(name), limit=rules.max_name_length)
    bad = _bad_character(name)
    if bad is not None:
        pos, ch = bad
        raise UploadRejected(
            "bad-name", f"the blob name {name!r} contains the control character U+{ord(ch):04X} at position {pos}; "
            "rename it without control characters", value=ch)
    if "\\" in name:
        raise UploadRejected("bad-name", f"the blob name {name!r} contains a backslash; use '/' between folders",
                             value=name)
    if name.startswith("/"):
        raise UploadRejected("bad-name", f"the blob name {name!r} starts with '/'; upload it without the leading "
                             "slash", value=name)
    segments = name.split("/")
    if len(segments) > _MAX_SEGMENTS:
        raise UploadRejected("bad-name", f"the blob name has {len(segments)} path segments; Azure allows "
                             f"{_MAX_SEGMENTS}", value=len(segments), limit=_MAX_SEGMENTS)
    for segment in segments:
        if segment in (".", ".."):
            raise UploadRejected("bad-name", f"the blob name {name!r} contains a {segment!r} path segment; "
                                 "upload it under a plain path", value=name)
        if not segment:
            raise UploadRejected("bad-name", f"the blob name {name!r} has an empty path segment ('//' or a "
                                 "trailing '/'); remove the extra slash", value=name)


def _validate_extension(name: str, rules: UploadRules) -> None:
    leaf = name.rsplit("/", 1)[-1]
    allowed = ", ".join(sorted(rules.allowed_extensions))
    stem, dot, suffix = leaf.rpartition(".")
    if not dot or not suffix:
        raise UploadRejected("bad-extension", f"{leaf!r} has no file extension; name the file with one of: "
                             f"{allowed}", value=None, limit=allowed)
    ext = "." + suffix.lower()
    if ext not in rules.allowed_extensions:
        raise UploadRejected("bad-extension", f"the extension {ext!r} of {leaf!r} is not a video type this "
                             f"service transcodes; accepted: {allowed}", value=ext, limit=allowed)


def _validate_size(size: int, rules: UploadRules) -> None:
    if size < 0:
        raise ValueError(f"a blob size cannot be negative: {size}")
    if size == 0 and rules.min_bytes > 0:
        raise UploadRejected("empty", "the blob is empty (0 bytes); upload the file again and check that the "
                             "upload completed", value=0, limit=rules.min_bytes)
    if size < rules.min_bytes:
        raise UploadRejected("too-small", f"the blob is {_human_bytes(size)}; the smallest accepted upload is "
                             f"{_human_bytes(rules.min_bytes)}", value=size, limit=rules.min_bytes)
    if size > rules.max_bytes:
        raise UploadRejected("too-large", f"the blob is {_human_bytes(size)}; the largest accepted upload is "
                             f"{_human_bytes(rules.max_bytes)} (MAX_UPLOAD_BYTES): split or compress it",
                             value=size, limit=rules.max_bytes)


def _validate_content_type(content_type: str | None, rules: UploadRules) -> None:
    if content_type is None or not content_type.strip():
        return
    mime = content_type.split(";", 1)[0].strip().lower()
    kind, slash, subtype = mime.partition("/")
    well_formed = bool(slash and kind and subtype) and " " not in mime and "/" not in subtype
    if well_formed and (kind == "video" or mime in rules.content_types):
        return
    accepted = ", ".join(["video/*", *sorted(rules.content_types)])
    raise UploadRejected(
        "bad-content-type", f"the blob's content type {content_type!r} is not a video type; accepted: {accepted}. "
        "If the file is a video, upload it again with a video content type (for example "
        "`az storage blob upload --content-type video/mp4`)", value=content_type, limit=accepted)


def validate_upload(name: str, size: int, content_type: str | None, rules: UploadRules | None = None) -> None:
    """Raise ``UploadRejected`` for the first rule the upload breaks: name, then extension, size, content type."""
    rules = rules or UploadRules()
    _validate_name(name, rules)
    _validate_extension(name, rules)
    _validate_size(size, rules)
    _validate_content_type(content_type, rules)


def _unquote_etag(etag: str) -> str:
    return etag[1:-1] if len(etag) >= 2 and etag[0] == etag[-1] == '"' else etag


def job_id_for(container: str, name: str, etag: str) -> str:
    """32 lowercase hex characters from container, name and ETag.

    The same upload seen twice (a redelivered event) gives the same id; a re-upload gets a new ETag and so a new id.
    ETag quotes are ignored: the SDK reports ``"0x8D..."``, Event Grid ``0x8D...``.
    """
    if not etag:
        raise ValueError("a blob ETag is required to derive a job id")
    key = f"{container}/{name}\n{_unquote_etag(etag)}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def format_timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds and ``Z``: ``2026-11-21T10:00:00.000000Z``. Naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment!r} has no time zone; pass an aware datetime (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_job(*, container: str, name: str, url: str, etag: str, size: int, content_type: str | None,
              submitted_at: datetime, output_container: str = "outputs", profile: str | None = None) -> dict[str, Any]:
    """The version-1 job message as a dict. Outputs go under ``<job_id>/`` in ``output_container``.

    The URL's query string is dropped, so a SAS token of the connection never reaches the queue or the table.
    """
    job_id = job_id_for(container, name, etag)
    return {
        "version": JOB_SCHEMA_VERSION,
        "job_id": job_id,
        "source": {
            "container": container,
            "name": name,
            "url": url.split("?", 1)[0],
            "etag": etag,
            "size": size,
            "content_type": content_type or None,
        },
        "output": {"container": output_container, "prefix": f"{job_id}/"},
        "profile": profile,
        "submitted_at": format_timestamp(submitted_at),
    }


def encode_job(job: dict[str, Any]) -> str:
    """Compact, key-sorted JSON text; ``MessageTooLarge`` when its UTF-8 form exceeds ``MAX_MESSAGE_BYTES``."""
    text = json.dumps(job, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge("message-too-large", f"the job message would be {size} bytes; a queue message "
                              f"holds {MAX_MESSAGE_BYTES} before base64: shorten the blob name",
                              value=size, limit=MAX_MESSAGE_BYTES)
    return text
