"""The Function's settings: one frozen object read from app settings once (lazily, on the first invocation).

Storage is reached through the app-setting *name* ``TranscodeStorage`` (the ``connection`` of both bindings):
either ``TranscodeStorage`` holds a connection string (``UseDevelopmentStorage=true`` locally), or the identity-based
form ``TranscodeStorage__blobServiceUri`` / ``__queueServiceUri`` (read by the bindings) plus
``TranscodeStorage__tableServiceUri`` (read here) with ``DefaultAzureCredential``; ``TranscodeStorage__clientId``
selects a user-assigned identity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .jobs import DEFAULT_EXTENSIONS, UploadRules, normalize_extension

if TYPE_CHECKING:
    from azure.data.tables import TableClient
    from azure.storage.queue import QueueClient

__all__ = ["CONNECTION", "BlobTriggerSource", "IngestSettings", "SettingsError", "blob_trigger_source",
           "queue_client", "table_client"]

CONNECTION = "TranscodeStorage"
"""The app-setting name (prefix) of the storage connection used by the trigger, the queue output and the table."""

BlobTriggerSource = Literal["EventGrid", "LogsAndContainerScan"]
"""``EventGrid``: near-real-time, the only source on Flex Consumption. ``LogsAndContainerScan``: polling (can lag
about ten minutes); only for plans and accounts without an Event Grid subscription."""
_SOURCES: tuple[BlobTriggerSource, ...] = ("EventGrid", "LogsAndContainerScan")

_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_QUEUE = _CONTAINER
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


class SettingsError(ValueError):
    """A missing or invalid app setting; the message names the variable."""


def _get(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, "").strip()
    return value or default


def _name(environ: Mapping[str, str], var: str, default: str, pattern: re.Pattern[str], what: str) -> str:
    value = _get(environ, var, default)
    if not pattern.match(value):
        raise SettingsError(f"{var}={value!r} is not a valid {what} name")
    return value


def _int(environ: Mapping[str, str], var: str, default: int, minimum: int) -> int:
    raw = _get(environ, var, str(default))
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise SettingsError(f"{var}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{var}={value} is below the minimum of {minimum}")
    return value


def _float(environ: Mapping[str, str], var: str, default: float, minimum: float) -> float:
    raw = _get(environ, var, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{var}={raw!r} is not a number") from None
    if not value >= minimum:
        raise SettingsError(f"{var}={raw} is below the minimum of {minimum}")
    return value


def _extensions(environ: Mapping[str, str]) -> frozenset[str]:
    raw = environ.get("ALLOWED_EXTENSIONS", "").strip()
    if not raw:
        return DEFAULT_EXTENSIONS
    try:
        return frozenset(normalize_extension(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(f"ALLOWED_EXTENSIONS={raw!r}: {exc}") from None


def blob_trigger_source(environ: Mapping[str, str]) -> BlobTriggerSource:
    """``BLOB_TRIGGER_SOURCE`` (default ``EventGrid``), case-insensitive."""
    raw = _get(environ, "BLOB_TRIGGER_SOURCE", "EventGrid")
    for choice in _SOURCES:
        if raw.lower() == choice.lower():
            return choice
    raise SettingsError(f"BLOB_TRIGGER_SOURCE={raw!r} must be one of: {', '.join(_SOURCES)}")


@dataclass(frozen=True)
class IngestSettings:
    uploads_container: str = "uploads"
    outputs_container: str = "outputs"
    jobs_queue: str = "transcode-jobs"
    jobs_table: str = "jobs"
    max_upload_bytes: int = 50 * 1024**3
    allowed_extensions: frozenset[str] = DEFAULT_EXTENSIONS
    requeue_after_s: float = 900.0
    blob_trigger_source: BlobTriggerSource = "EventGrid"
    connection_string: str | None = field(default=None, repr=False)
    table_service_uri: str | None = None
    queue_service_uri: str | None = None
    client_id: str | None = None

    @property
    def rules(self) -> UploadRules:
        return UploadRules(allowed_extensions=self.allowed_extensions, max_bytes=self.max_upload_bytes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> IngestSettings:
        """Read and check every setting; ``SettingsError`` names the first bad variable."""
        uploads = _name(environ, "UPLOADS_CONTAINER", "uploads", _CONTAINER, "blob container")
        outputs = _name(environ, "OUTPUTS_CONTAINER", "outputs", _CONTAINER, "blob container")
        if uploads == outputs:
            raise SettingsError(f"UPLOADS_CONTAINER and OUTPUTS_CONTAINER are both {uploads!r}: every rendition "
                                "would trigger a new job; use two containers")
        connection_string = environ.get(CONNECTION, "").strip() or None
        table_uri = environ.get(f"{CONNECTION}__tableServiceUri", "").strip() or None
        if connection_string is None and table_uri is None:
            blob_uri = environ.get(f"{CONNECTION}__blobServiceUri", "").strip()
            hint = f" (for {blob_uri} that is {blob_uri.replace('.blob.', '.table.')})" if ".blob." in blob_uri else ""
            raise SettingsError(f"set {CONNECTION} to a storage connection string, or {CONNECTION}__tableServiceUri "
                                f"to the table endpoint for an identity-based connection{hint}")
        if table_uri is not None and not table_uri.startswith(("https://", "http://")):
            raise SettingsError(f"{CONNECTION}__tableServiceUri={table_uri!r} is not an http(s) URL")
        queue_uri = environ.get(f"{CONNECTION}__queueServiceUri", "").strip() or None
        if connection_string is None and (queue_uri is None or not queue_uri.startswith(("https://", "http://"))):
            raise SettingsError(f"set {CONNECTION}__queueServiceUri to the queue endpoint (an http(s) URL): the "
                                "function sends the job message itself, so that a failed send is retried")
        return cls(
            uploads_container=uploads,
            outputs_container=outputs,
            jobs_queue=_name(environ, "JOBS_QUEUE", "transcode-jobs", _QUEUE, "queue"),
            jobs_table=_name(environ, "JOBS_TABLE", "jobs", _TABLE, "table"),
            max_upload_bytes=_int(environ, "MAX_UPLOAD_BYTES", 50 * 1024**3, 1),
            allowed_extensions=_extensions(environ),
            requeue_after_s=_float(environ, "REQUEUE_AFTER_S", 900.0, 0.0),
            blob_trigger_source=blob_trigger_source(environ),
            connection_string=connection_string,
            table_service_uri=None if connection_string else table_uri,
            queue_service_uri=None if connection_string else queue_uri,
            client_id=environ.get(f"{CONNECTION}__clientId", "").strip() or None,
        )


def table_client(settings: IngestSettings) -> TableClient:
    """The jobs table client (the table must exist: creating it is the deployment's job, not the Function's)."""
    from azure.data.tables import TableClient

    if settings.connection_string:
        return TableClient.from_connection_string(settings.connection_string, table_name=settings.jobs_table)
    from azure.identity import DefaultAzureCredential

    assert settings.table_service_uri is not None  # from_env guarantees one of the two
    credential = DefaultAzureCredential(managed_identity_client_id=settings.client_id)
    return TableClient(endpoint=settings.table_service_uri, table_name=settings.jobs_table, credential=credential)


def queue_client(settings: IngestSettings) -> QueueClient:
    """The jobs queue client, base64 like the Functions queue binding (what the worker decodes)."""
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    policy = TextBase64EncodePolicy()
    if settings.connection_string:
        return QueueClient.from_connection_string(settings.connection_string, settings.jobs_queue,
                                                  message_encode_policy=policy)
    from azure.identity import DefaultAzureCredential

    assert settings.queue_service_uri is not None  # from_env guarantees one of the two
    credential = DefaultAzureCredential(managed_identity_client_id=settings.client_id)
    return QueueClient(settings.queue_service_uri, settings.jobs_queue, credential=credential,
                       message_encode_policy=policy)
