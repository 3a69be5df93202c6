"""Azure Functions entry point (Python v2 model): a blob in the uploads container becomes one transcode job.

The trigger binds an SDK ``BlobClient`` (never the video's bytes) and the message goes out through the queue output
binding, which base64-encodes it (``host.json``: ``messageEncoding: base64``). All logic is in ``ingest.py``.

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

from .ingest import handle_upload
from .settings import CONNECTION, IngestSettings, blob_trigger_source, table_client

__all__ = ["app", "enqueue_transcode"]

app = func.FunctionApp()


@functools.cache
def _context() -> tuple[IngestSettings, TableClient]:
    settings = IngestSettings.from_env(os.environ)
    return settings, table_client(settings)


@app.blob_trigger(arg_name="client", path="%UPLOADS_CONTAINER%/{name}", connection=CONNECTION,
                  source=func.BlobSource(blob_trigger_source(os.environ)))
@app.queue_output(arg_name="msg", queue_name="%JOBS_QUEUE%", connection=CONNECTION)
def enqueue_transcode(client: blob.BlobClient, msg: func.Out[str]) -> None:
    settings, table = _context()
    props = client.get_blob_properties()
    result = handle_upload(container=client.container_name, name=client.blob_name, url=client.url, etag=props.etag,
                           size=props.size, content_type=props.content_settings.content_type, settings=settings,
                           table=table, now=datetime.now(UTC))
    if result.message is not None:
        msg.set(result.message)
