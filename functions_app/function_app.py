"""Azure Functions entry point (Python v2 model): a blob in the uploads container becomes one transcode job, and
the HTTP API of the operators' dashboard (``/api/...``, routes in ``api.ENDPOINTS``).

The trigger binds an SDK ``BlobClient`` (never the video's bytes). The job message is sent by the function itself
with an SDK ``QueueClient`` (base64, as the worker reads it), not through a queue output binding: the binding flushes
after the function returns, so a failed flush could not be told from a sent message, and the record would claim a
job whose message was never sent. All logic is in ``ingest.py``.

The HTTP functions are anonymous at the Functions level (App Service Authentication or ``DASHBOARD_TOKEN`` decides,
in ``auth.py``) and accept every method, so that a wrong one gets a JSON 405 and a CORS preflight reaches the code;
their logic is in ``api.py`` and ``handlers.py``, their settings (``ApiSettings``) are read on the first request.

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

from .api import ENDPOINTS, roles_response, serve
from .api_clients import ApiClients, make_api_clients
from .api_settings import ApiSettings
from .ingest import handle_upload
from .settings import CONNECTION, IngestSettings, blob_trigger_source, queue_client, table_client

__all__ = ["api_fleet", "api_job", "api_job_retry", "api_jobs", "api_poison", "api_uploads", "app",
           "enqueue_transcode"]

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


@functools.cache
def _api_context() -> tuple[ApiSettings, ApiClients]:
    settings = ApiSettings.from_env(os.environ)
    return settings, make_api_clients(settings)


ANONYMOUS = func.AuthLevel.ANONYMOUS


@app.route(route=ENDPOINTS["api_jobs"].route, auth_level=ANONYMOUS)
def api_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return serve("api_jobs", _api_context, req)


@app.route(route=ENDPOINTS["api_job"].route, auth_level=ANONYMOUS)
def api_job(req: func.HttpRequest) -> func.HttpResponse:
    return serve("api_job", _api_context, req)


@app.route(route=ENDPOINTS["api_job_retry"].route, auth_level=ANONYMOUS)
def api_job_retry(req: func.HttpRequest) -> func.HttpResponse:
    return serve("api_job_retry", _api_context, req)


@app.route(route=ENDPOINTS["api_poison"].route, auth_level=ANONYMOUS)
def api_poison(req: func.HttpRequest) -> func.HttpResponse:
    return serve("api_poison", _api_context, req)


@app.route(route=ENDPOINTS["api_uploads"].route, auth_level=ANONYMOUS)
def api_uploads(req: func.HttpRequest) -> func.HttpResponse:
    return serve("api_uploads", _api_context, req)


@app.route(route=ENDPOINTS["api_fleet"].route, auth_level=ANONYMOUS)
def api_fleet(req: func.HttpRequest) -> func.HttpResponse:
    return serve("api_fleet", _api_context, req)


@app.route(route="roles", methods=["POST"], auth_level=ANONYMOUS)
def api_roles(req: func.HttpRequest) -> func.HttpResponse:
    """Static Web Apps' ``rolesSource``: the Entra app roles of the user signing in to the dashboard."""
    return roles_response(_api_context, req)
