"""SDK clients for setting up and for the accounting (the load itself goes through ``loadtest.client``): blob, table
and queue of one account, from the same connection string, SAS or ``DefaultAzureCredential`` as the uploads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64DecodePolicy

from loadtest.target import Target

__all__ = ["Clients", "clients_for"]


@dataclass(frozen=True)
class Clients:
    blobs: BlobServiceClient
    tables: TableServiceClient
    queues: QueueServiceClient

    def table(self, name: str) -> TableClient:
        return self.tables.get_table_client(name)

    def jobs_queue(self, name: str) -> QueueClient:
        """A client that decodes base64, as the Function's queue client encodes."""
        client = self.queues.get_queue_client(name, message_decode_policy=TextBase64DecodePolicy())
        return client


def _service_url(blob_endpoint: str, service: str) -> str:
    if ".blob." not in blob_endpoint:
        raise ValueError(f"cannot derive the {service} endpoint from {blob_endpoint}: pass a connection string with "
                         f"{service.capitalize()}Endpoint")
    return blob_endpoint.replace(".blob.", f".{service}.", 1)


def clients_for(target: Target) -> Clients:
    if target.connection_string:
        conn = target.connection_string
        return Clients(BlobServiceClient.from_connection_string(conn), TableServiceClient.from_connection_string(conn),
                       QueueServiceClient.from_connection_string(conn))
    credential: Any
    if target.auth == "sas":
        from azure.core.credentials import AzureSasCredential

        assert target.sas is not None
        credential = AzureSasCredential(target.sas)
    else:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    url = target.blob_endpoint
    return Clients(BlobServiceClient(url, credential=credential),
                   TableServiceClient(endpoint=_service_url(url, "table"), credential=credential),
                   QueueServiceClient(_service_url(url, "queue"), credential=credential))
