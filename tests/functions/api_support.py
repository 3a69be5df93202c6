"""Helpers for the dashboard API's tests: an isolated set of storage resources in Azurite, job records written by
the real writers (the Function's ``records`` and the worker's ``JobRecords``), and calls through both doors (the
pure ``dispatch`` with an ``ApiRequest``, and the registered function with a ``func.HttpRequest``)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueClient, QueueServiceClient

from functions_app import function_app
from functions_app.api import ENDPOINTS, dispatch
from functions_app.api_clients import ApiClients, make_api_clients
from functions_app.api_settings import ApiSettings
from functions_app.jobs import build_job
from functions_app.records import create_queued, mark_enqueued
from functions_app.web import ApiRequest, ApiResponse
from localdev.api_host import Route, http_routes

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def principal_header(*roles: str, name: str = "ops@example.net") -> str:
    claims = [{"typ": "name", "val": name}, *({"typ": "roles", "val": r} for r in roles)]
    data = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(data).encode()).decode()


def fetch(url: str, *, method: str = "GET", data: bytes | None = None,
          headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """Plain urllib: the status and body, also for error statuses."""
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class ApiEnv:
    conn: str
    settings: ApiSettings
    clients: ApiClients
    table: TableClient
    blobs: BlobServiceClient
    queue: QueueClient
    """The jobs queue, read raw (the base64 text the worker's parser takes)."""
    poison: QueueClient
    token: str
    origin: str
    _routes: list[Route] = field(default_factory=list)

    @classmethod
    def create(cls, conn: str, *, token: str, origin: str, max_upload: int) -> ApiEnv:
        tag = uuid.uuid4().hex[:10]
        names = {"UPLOADS_CONTAINER": f"up-{tag}", "OUTPUTS_CONTAINER": f"out-{tag}", "JOBS_QUEUE": f"jobs-{tag}",
                 "JOBS_TABLE": f"jobs{tag}"}
        settings = ApiSettings.from_env({"TranscodeStorage": conn, **names, "MAX_UPLOAD_BYTES": str(max_upload),
                                         "DASHBOARD_TOKEN": token, "DASHBOARD_ORIGIN": origin})
        blobs = BlobServiceClient.from_connection_string(conn)
        blobs.create_container(names["UPLOADS_CONTAINER"])
        blobs.create_container(names["OUTPUTS_CONTAINER"])
        queues = QueueServiceClient.from_connection_string(conn)
        queues.create_queue(names["JOBS_QUEUE"])
        queues.create_queue(settings.poison_queue)
        TableServiceClient.from_connection_string(conn).create_table(names["JOBS_TABLE"])
        return cls(conn, settings, make_api_clients(settings),
                   TableClient.from_connection_string(conn, names["JOBS_TABLE"]), blobs,
                   QueueClient.from_connection_string(conn, names["JOBS_QUEUE"]),
                   QueueClient.from_connection_string(conn, settings.poison_queue), token, origin)

    def drop(self) -> None:
        s = self.settings
        for container in (s.ingest.uploads_container, s.ingest.outputs_container):
            self.blobs.delete_container(container)
        queues = QueueServiceClient.from_connection_string(self.conn)
        queues.delete_queue(s.ingest.jobs_queue)
        queues.delete_queue(s.poison_queue)
        TableServiceClient.from_connection_string(self.conn).delete_table(s.ingest.jobs_table)

    # --- calls ---------------------------------------------------------------------------------------------------

    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def handle(self, endpoint: str, method: str = "GET", *, headers: Mapping[str, str] | None = None,
               params: Mapping[str, str] | None = None, route: Mapping[str, str] | None = None,
               body: bytes = b"") -> ApiResponse:
        """Through the pure dispatcher."""
        request = ApiRequest(method, f"/api/{ENDPOINTS[endpoint].route}",
                             {k.lower(): v for k, v in (headers or {}).items()}, dict(params or {}),
                             dict(route or {}), body)
        return dispatch(ENDPOINTS[endpoint], lambda: (self.settings, self.clients), request)

    def http(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
             params: Mapping[str, str] | None = None, body: bytes = b"",
             json_body: Any = None) -> tuple[int, Any, func.HttpResponse]:
        """Through the registered function, found by route as the Functions host finds it."""
        if not self._routes:
            self._routes = http_routes(function_app.app)
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers = {"content-type": "application/json", **(headers or {})}
        for route in self._routes:
            matched = route.match(path.removeprefix("/api/"))
            if matched is not None:
                query = f"?{urlencode(params)}" if params else ""
                request = func.HttpRequest(method, f"https://func.example.net{path}{query}",
                                           headers=dict(headers or {}), params=dict(params or {}),
                                           route_params=matched, body=body)
                response = route.function(**{route.arg: request})
                raw = response.get_body()
                return response.status_code, json.loads(raw) if raw else None, response
        raise LookupError(f"no route for {path}")

    # --- records and blobs, as the Function and the worker write them ----------------------------------------------

    def upload_source(self, name: str, data: bytes = b"\x00\x00\x00\x18ftypmp42" + bytes(500)) -> str:
        client = self.blobs.get_blob_client(self.settings.ingest.uploads_container, name)
        props = client.upload_blob(data, overwrite=True, content_settings=ContentSettings(content_type="video/mp4"))
        return str(props["etag"])

    def make_job(self, name: str, *, etag: str | None = None, size: int = 512, minutes: int = 0) -> str:
        """A queued, sent record as the Function leaves it; returns the job id."""
        s = self.settings.ingest
        job = build_job(container=s.uploads_container, name=name, url=f"https://acct.blob.core.windows.net/x/{name}",
                        etag=etag or f'"0x8D{uuid.uuid4().hex[:12].upper()}"', size=size, content_type="video/mp4",
                        submitted_at=T0 + timedelta(minutes=minutes), output_container=s.outputs_container)
        assert create_queued(self.table, job, now=T0) == "created"
        mark_enqueued(self.table, job["job_id"], now=T0)
        return str(job["job_id"])

    def worker_update(self, job_id: str, **fields: Any) -> None:
        """Fields merged as the worker merges them (``worker.records.JobRecords.update``)."""
        from worker.records import JobRecords

        JobRecords(self.table, "worker-test").update(job_id, **fields)
