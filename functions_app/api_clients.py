"""The dashboard API's Azure clients, built once from ``ApiSettings``: a connection string (Azurite, keys) or the
service URIs with ``DefaultAzureCredential`` (the app's managed identity). Calls time out fast and retry little: a
dashboard request that waits on storage should fail with a 503 in seconds, not hang."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from .api_settings import ApiSettings
from .fleet import PROMETHEUS_SCOPE, Prometheus
from .links import LinkSigner

__all__ = ["CLIENT_OPTIONS", "ApiClients", "make_api_clients"]

CLIENT_OPTIONS: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 20, "retry_total": 1}


@dataclass(frozen=True)
class ApiClients:
    table: TableClient
    queue: QueueClient
    """The jobs queue, base64 as the worker reads it (a retry sends the job message here)."""
    poison: QueueClient
    """The worker's poison queue: JSON text envelopes, peeked only."""
    blobs: BlobServiceClient
    signer: LinkSigner
    prometheus: Prometheus | None


def make_api_clients(settings: ApiSettings, credential: Any = None) -> ApiClients:
    ingest = settings.ingest
    encode = TextBase64EncodePolicy()
    if ingest.connection_string:
        conn = ingest.connection_string
        table = TableClient.from_connection_string(conn, table_name=ingest.jobs_table, **CLIENT_OPTIONS)
        queue = QueueClient.from_connection_string(conn, ingest.jobs_queue, message_encode_policy=encode,
                                                   **CLIENT_OPTIONS)
        poison = QueueClient.from_connection_string(conn, settings.poison_queue, **CLIENT_OPTIONS)
        blobs = BlobServiceClient.from_connection_string(conn, **CLIENT_OPTIONS)
    else:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=ingest.client_id)
        assert ingest.table_service_uri and ingest.queue_service_uri and settings.blob_service_uri  # from_env
        table = TableClient(endpoint=ingest.table_service_uri, table_name=ingest.jobs_table, credential=credential,
                            **CLIENT_OPTIONS)
        queue = QueueClient(ingest.queue_service_uri, ingest.jobs_queue, credential=credential,
                            message_encode_policy=encode, **CLIENT_OPTIONS)
        poison = QueueClient(ingest.queue_service_uri, settings.poison_queue, credential=credential,
                             **CLIENT_OPTIONS)
        blobs = BlobServiceClient(settings.blob_service_uri, credential=credential, **CLIENT_OPTIONS)
    return ApiClients(table=table, queue=queue, poison=poison, blobs=blobs,
                      signer=LinkSigner(blobs, playback_base_url=settings.playback_base_url),
                      prometheus=_prometheus(settings, credential))


def _prometheus(settings: ApiSettings, credential: Any) -> Prometheus | None:
    if settings.prometheus_url is None:
        return None
    if settings.prometheus_auth == "none":
        return Prometheus(settings.prometheus_url)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=settings.ingest.client_id)
    token_credential = credential
    return Prometheus(settings.prometheus_url, token=lambda: str(token_credential.get_token(PROMETHEUS_SCOPE).token))
