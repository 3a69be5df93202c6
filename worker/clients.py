"""Azure clients built once from settings: a connection string (Azurite, keys) or the account URL plus
``DefaultAzureCredential`` (workload identity on AKS). The only module that knows how to sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from worker.settings import ServiceSettings

__all__ = ["StorageClients", "make_clients"]

# Short timeouts and a few quick retries: the job loop has its own retry policy on top.
_CLIENT_OPTIONS: dict[str, Any] = {"connection_timeout": 10, "read_timeout": 120, "retry_total": 3,
                                   "retry_backoff_factor": 0.5, "retry_backoff_max": 4}


@dataclass(frozen=True)
class StorageClients:
    blobs: BlobServiceClient
    queue: QueueClient
    poison: QueueClient
    table: TableClient


def make_clients(settings: ServiceSettings, credential: Any = None) -> StorageClients:
    if settings.storage_connection_string is not None:
        conn = settings.storage_connection_string.get_secret_value()
        return StorageClients(
            blobs=BlobServiceClient.from_connection_string(conn, **_CLIENT_OPTIONS),
            queue=QueueClient.from_connection_string(conn, settings.jobs_queue, **_CLIENT_OPTIONS),
            poison=QueueClient.from_connection_string(conn, settings.poison_queue, **_CLIENT_OPTIONS),
            table=TableClient.from_connection_string(conn, settings.jobs_table),
        )
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    assert settings.storage_account_url is not None
    queue_url = settings.endpoint("queue")
    return StorageClients(
        blobs=BlobServiceClient(settings.storage_account_url, credential=credential, **_CLIENT_OPTIONS),
        queue=QueueClient(queue_url, settings.jobs_queue, credential=credential, **_CLIENT_OPTIONS),
        poison=QueueClient(queue_url, settings.poison_queue, credential=credential, **_CLIENT_OPTIONS),
        table=TableClient(settings.endpoint("table"), settings.jobs_table, credential=credential),
    )
