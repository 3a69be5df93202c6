"""Azure Functions entry point (Python v2 model): a blob in the uploads container becomes one transcode job.

The trigger binds an SDK ``BlobClient`` (never the video's bytes). The job message is sent by the function itself
with an SDK ``QueueClient`` (base64, as the worker reads it), not through a queue output binding: the binding flushes
after the function returns, so a failed flush could not be told from a sent message, and the record would claim a
job whose message was never sent. All logic is in ``ingest.py``.

Two things here are deliberate:

* ``BLOB_TRIGGER_SOURCE`` is read when this module is imported: the source is part of the binding metadata that the
  host indexes, and binding expressions (``%...%``) do not apply to it. A bad value fails indexing, naming the
  variable. Every other setting is read on the first invocation.
* No ``from __future__ import annotations``: the worker inspects the parameter annotations at runtime to pick the
  SDK-type converter, so they stay real objects.
"""

import functools
import os
from datetime import UTC, datetime

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob  # type: ignore[import-untyped]
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from .ingest import handle_upload
from .settings import CONNECTION, IngestSettings, blob_trigger_source, queue_client, table_client

__all__ = ["app", "enqueue_transcode"]

app = func.FunctionApp()


@functools.cache
def _context() -> tuple[IngestSettings, TableClient, QueueClient]:
    settings = IngestSettings.from_env(os.environ)
    return settings, table_client(settings), queue_client(settings)


@app.blob_trigger(arg_name="client", path="%UPLOADS_CONTAINER%/{name}", connection=CONNECTION,
                  source=func.BlobSource(blob_trigger_source(os.environ)))
def enqueue_transcode(client: blob.BlobClient) -> None:
    settings, table, queue = _context()
    props = client.get_blob_properties()
    handle_upload(container=client.container_name, name=client.blob_name, url=client.url, etag=props.etag,
                  size=props.size, content_type=props.content_settings.content_type, settings=settings, table=table,
                  send=queue.send_message, now=datetime.now(UTC))
