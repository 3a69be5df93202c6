"""The dashboard API's handlers: ``(settings, clients, request) -> ApiResponse``, one per route and method.

Authentication, CORS and error mapping happen around them (``api.py``); each handler validates its own input
completely (an unknown parameter or field is a 400) and raises the ``web`` errors.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from .api_clients import ApiClients
from .api_settings import ApiSettings
from .fleet import fleet_summary
from .jobs import UploadRejected, build_job, encode_job, format_timestamp, validate_upload
from .links import manifest_links, safe_blob_path
from .records import JOB_PARTITION, REJECTED_PARTITION
from .views import JOB_STATES, decode_cursor, encode_cursor, job_summary, plain, poison_entry, record_rest
from .web import (
    ApiRequest,
    ApiResponse,
    BadRequest,
    Conflict,
    NotFound,
    Unavailable,
    json_object,
    query,
)

__all__ = ["MAX_LIMIT", "create_upload", "fleet", "get_job", "list_jobs", "list_poison", "retry_job",
           "sanitise_filename"]

logger = logging.getLogger(__name__)

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
_MAX_ROUNDS = 10
_MAX_MANIFEST_BYTES = 4 * 1024**2
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^\w.\-]+")
_MAX_FILENAME = 200


def _job_id(request: ApiRequest) -> str:
    job_id = request.route_params.get("id", "")
    if not _JOB_ID.match(job_id):
        raise BadRequest(f"{job_id[:80]!r} is not a job id (32 lowercase hex digits)")
    return job_id


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit={raw[:20]!r} must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _entity(table: TableClient, job_id: str) -> Any:
    try:
        return table.get_entity(JOB_PARTITION, job_id)
    except ResourceNotFoundError as exc:
        if getattr(exc, "error_code", None) == "TableNotFound":
            raise Unavailable(f"the jobs table {table.table_name!r} does not exist") from exc
    try:
        rejected = table.get_entity(REJECTED_PARTITION, job_id)
    except ResourceNotFoundError:
        raise NotFound(f"there is no job {job_id}") from None
    raise NotFound(f"there is no job {job_id}: its upload was rejected ({rejected.get('error') or 'no reason'})")


def list_jobs(settings: ApiSettings, clients: ApiClients, request: ApiRequest) -> ApiResponse:
    """``GET /api/jobs``: one page in the table's order (by job id), filled up to ``limit``."""
    params = query(request, "state", "limit", "cursor")
    state = params.get("state")
    if state is not None and state not in JOB_STATES:
        raise BadRequest(f"state={state[:40]!r} is not one of: {', '.join(JOB_STATES)}")
    limit = _limit(params.get("limit"))
    token: Any = decode_cursor(params["cursor"]) if "cursor" in params else None
    where = "PartitionKey eq @pk" + (" and state eq @state" if state else "")
    values = {"pk": JOB_PARTITION, **({"state": state} if state else {})}
    rows: list[Any] = []
    for _ in range(_MAX_ROUNDS):  # a filtered query may return short pages (even empty ones) with a token
        pages: Any = clients.table.query_entities(where, parameters=values,
                                                  results_per_page=limit - len(rows)).by_page(continuation_token=token)
        try:
            rows.extend(next(pages))
        except StopIteration:
            token = None
            break
        except HttpResponseError as exc:
            if token is not None and exc.status_code == 400:
                raise BadRequest("the cursor is not one this API returned; start again without it") from None
            raise
        token = pages.continuation_token
        if not token or len(rows) >= limit:
            break
    return ApiResponse(200, {"items": [job_summary(r) for r in rows], "next": encode_cursor(token)})


def _manifest(clients: ApiClients, container: str, name: str) -> dict[str, Any] | None:
    try:
        download = clients.blobs.get_blob_client(container, name).download_blob()
    except ResourceNotFoundError:
        return None
    if (download.size or 0) > _MAX_MANIFEST_BYTES:
        logger.warning("manifest %s/%s is %d bytes; not shown", container, name, download.size)
        return None
    try:
        data = json.loads(download.readall())
    except (ValueError, RecursionError):
        logger.warning("manifest %s/%s is not JSON; not shown", container, name)
        return None
    return data if isinstance(data, dict) else None


def get_job(settings: ApiSettings, clients: ApiClients, request: ApiRequest) -> ApiResponse:
    """``GET /api/jobs/{id}``: the summary, the whole record, the manifest and links to the outputs."""
    query(request)
    job_id = _job_id(request)
    record = dict(_entity(clients.table, job_id))
    container = str(plain(record.get("output_container")) or settings.ingest.outputs_container)
    prefix = str(plain(record.get("output_prefix")) or f"{job_id}/")
    if safe_blob_path(prefix.rstrip("/")) is None or not prefix.endswith("/"):
        prefix = f"{job_id}/"
    manifest = _manifest(clients, container, f"{prefix}manifest.json")
    body = {"job": {**job_summary(record), "record": record_rest(record)}, "manifest": manifest,
            "links": manifest_links(clients.signer, container, prefix, manifest)}
    return ApiResponse(200, body)


def list_poison(settings: ApiSettings, clients: ApiClients, request: ApiRequest) -> ApiResponse:
    """``GET /api/poison``: the first 32 messages of the poison queue (a peek sees no further), oldest first."""
    query(request)
    try:
        messages = clients.poison.peek_messages(max_messages=32)
    except ResourceNotFoundError:
        messages = []  # the worker creates the queue when it starts; none yet means nothing was poisoned
    items = [poison_entry(str(m.id), str(m.content or ""), m.inserted_on, m.dequeue_count) for m in messages]
    return ApiResponse(200, {"items": items})


def sanitise_filename(filename: Any) -> str:
    """The last path segment of a browser's file name, with anything but letters, digits, ``.``, ``-`` and ``_``
    turned into ``_``; ``BadRequest`` when nothing usable is left."""
    if not isinstance(filename, str) or not filename.strip():
        raise BadRequest("filename must be a non-empty string such as \"clip.mp4\"")
    if len(filename) > 1024:
        raise BadRequest(f"filename is {len(filename)} characters long; the limit is 1024")
    leaf = unicodedata.normalize("NFC", re.split(r"[/\\]", filename.strip())[-1])
    stem, dot, ext = re.sub(r"_+", "_", _UNSAFE.sub("_", leaf)).rpartition(".")
    if not dot:
        stem, ext = ext, ""
    stem, ext = stem.strip("._-"), ext.strip("_-")
    if not stem:
        raise BadRequest(f"filename {filename[:80]!r} has no usable name before its extension")
    stem = stem[:_MAX_FILENAME - len(ext) - 1]
    return f"{stem}.{ext}" if ext else stem


def create_upload(settings: ApiSettings, clients: ApiClients, request: ApiRequest) -> ApiResponse:
    """``POST /api/uploads``: a URL that writes one new blob in the uploads container, checked against the ingest
    rules first (the same ones the blob trigger applies to the finished upload)."""
    query(request)
    body = json_object(request, required=("filename", "size"), optional=("content_type",))
    size, content_type = body["size"], body.get("content_type")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise BadRequest("size must be the file's size in bytes, a whole number >= 0")
    if content_type is not None and not isinstance(content_type, str):
        raise BadRequest("content_type must be a string such as \"video/mp4\", or null")
    blob = f"dashboard/{uuid.uuid4()}/{sanitise_filename(body['filename'])}"
    try:
        validate_upload(blob, size, content_type, settings.ingest.rules)
    except UploadRejected as exc:
        raise BadRequest(exc.message) from None
    container = settings.ingest.uploads_container
    url, expires = clients.signer.upload_url(container, blob)
    return ApiResponse(201, {"blob": blob, "container": container, "upload_url": url,
                             "expires_at": expires.isoformat().replace("+00:00", "Z")})


def _job_message(settings: ApiSettings, clients: ApiClients, job_id: str, record: Any) -> str:
    """The job's message rebuilt from its record with the Function's own builder (the same id, or a 409)."""
    try:
        container, name, etag = str(record["source_container"]), str(record["source_name"]), str(
            record["source_etag"])
        submitted = datetime.fromisoformat(str(record["submitted_at"]).replace("Z", "+00:00"))
        job = build_job(container=container, name=name, url=clients.blobs.get_blob_client(container, name).url,
                        etag=etag, size=int(plain(record["source_size"])),
                        content_type=str(record.get("content_type") or "") or None,
                        submitted_at=submitted if submitted.tzinfo else submitted.replace(tzinfo=UTC),
                        output_container=str(record.get("output_container") or settings.ingest.outputs_container))
        message = encode_job(job)
    except (KeyError, TypeError, ValueError) as exc:  # UploadRejected (message too large) is a ValueError
        raise Conflict(f"job {job_id}'s record cannot be turned back into a job message: {exc}") from None
    if job["job_id"] != job_id:
        raise Conflict(f"job {job_id}'s record names a source whose job id differs; it cannot be retried here")
    try:
        props = clients.blobs.get_blob_client(container, name).get_blob_properties()
    except ResourceNotFoundError:
        raise Conflict(f"the source {container}/{name} no longer exists; upload it again") from None
    if str(props.etag).strip('"') != etag.strip('"'):
        raise Conflict(f"the source {container}/{name} was overwritten since the job was made; the new upload is a "
                       "job of its own")
    return message


def retry_job(settings: ApiSettings, clients: ApiClients, request: ApiRequest) -> ApiResponse:
    """``POST /api/jobs/{id}/retry``: a poisoned job gets a new message and its record goes back to ``queued``
    (attempts kept). The message is sent before the record changes, and the change is conditional on the record
    read: a record never says queued without a message, and a worker that claimed the job meanwhile is not undone."""
    query(request)
    json_object(request, empty_ok=True)
    job_id = _job_id(request)
    record = _entity(clients.table, job_id)
    if record.get("state") != "poisoned":
        raise Conflict(f"job {job_id} is {record.get('state') or 'in no state'}; only a poisoned job can be retried")
    clients.queue.send_message(_job_message(settings, clients, job_id, record))
    now = format_timestamp(datetime.now(UTC))
    change = {"PartitionKey": JOB_PARTITION, "RowKey": job_id, "state": "queued", "stage": "queued", "progress": 0.0,
              "error": "", "last_error": str(record.get("error") or ""), "finished_at": "", "updated_at": now,
              "enqueued_at": now, "retried_at": now}
    try:
        clients.table.update_entity(change, mode=UpdateMode.MERGE, etag=record.metadata["etag"],
                                    match_condition=MatchConditions.IfNotModified)
    except (ResourceModifiedError, ResourceNotFoundError):
        logger.warning("retry job=%s: the record changed while its message was sent; left as it is", job_id)
    logger.info("retried job=%s: message sent, record queued", job_id)
    return ApiResponse(202, {"job_id": job_id, "state": "queued"})


def fleet(settings: ApiSettings, clients: ApiClients, request: ApiRequest) -> ApiResponse:
    """``GET /api/fleet``: workers and GPUs from Prometheus."""
    query(request)
    if clients.prometheus is None:
        raise Unavailable("PROMETHEUS_URL is not set: the fleet view reads the workers' metrics from Prometheus")
    return ApiResponse(200, fleet_summary(clients.prometheus, settings.prometheus_selector))
