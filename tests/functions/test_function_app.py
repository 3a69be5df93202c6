"""The v2-model function: discoverable with the right bindings, and its user function driven the way the host (or
the local event dispatcher) drives it."""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import typing
import uuid
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob  # type: ignore[import-untyped]
import pytest
from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from functions_app import function_app
from functions_app.jobs import job_id_for
from functions_app.settings import IngestSettings, SettingsError

from .fakes import FakeBlobClient, FakeProperties, FakeQueue, FakeTable

_INDEXED: dict[func.FunctionApp, dict[str, Any]] = {}
HTTP_FUNCTIONS = {"api_jobs": "jobs", "api_job": "jobs/{id}", "api_job_retry": "jobs/{id}/retry",
                  "api_poison": "poison", "api_uploads": "uploads", "api_fleet": "fleet"}


def functions(app: func.FunctionApp) -> dict[str, Any]:
    """Index ``app`` once: a second ``get_functions()`` on one app fails its unique-name check (the host, and the
    local dispatcher, index once per process)."""
    if app not in _INDEXED:
        _INDEXED[app] = {str(fn.get_function_name()): fn for fn in app.get_functions()}
    return _INDEXED[app]


def the_function(app: func.FunctionApp) -> Any:
    return functions(app)["enqueue_transcode"]


def reload_default() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("BLOB_TRIGGER_SOURCE", raising=False)
        importlib.reload(function_app)
    function_app._context.cache_clear()
    _INDEXED.clear()


@pytest.fixture(autouse=True)
def fresh_app() -> Iterator[None]:
    """Each test gets a freshly imported, unindexed app, and leaves one behind for whoever indexes it next."""
    reload_default()
    yield
    reload_default()


def bindings(fn: Any) -> dict[str, dict[str, Any]]:
    return {b["name"]: b for b in json.loads(fn.get_function_json())["bindings"]}


@pytest.fixture
def wired(fake_table: FakeTable, fake_queue: FakeQueue, settings: IngestSettings,
          monkeypatch: pytest.MonkeyPatch) -> FakeTable:
    """The function's lazily built (settings, table, queue) replaced by the test's."""
    monkeypatch.setattr(function_app, "_context", lambda: (settings, fake_table, fake_queue))
    return fake_table


def call(client: Any) -> None:
    the_function(function_app.app).get_user_function()(client=client)


def blob_client(name: str = "Vidéos/été 2026/クリップ.mp4", size: int = 3 * 1024**3, etag: str = '"0x8DC5A1B2"',
                content_type: str | None = "video/mp4") -> FakeBlobClient:
    return FakeBlobClient("uploads", name, FakeProperties(size, etag, content_type))


# --- discovery ----------------------------------------------------------------------------------------------------

def test_discoverable_with_event_grid_blob_trigger_and_no_queue_output_binding() -> None:
    """The message is sent by the function's own QueueClient: a binding flushes after the function returns, where a
    failure cannot be told from a send (see functions_app/records.py)."""
    fn = the_function(function_app.app)
    assert fn.get_function_name() == "enqueue_transcode"
    b = bindings(fn)
    assert set(b) == {"client"}
    assert b["client"] == {"direction": "IN", "type": "blobTrigger", "name": "client",
                           "path": "%UPLOADS_CONTAINER%/{name}", "connection": "TranscodeStorage",
                           "source": "EventGrid"}
    assert fn.get_user_function().__name__ == "enqueue_transcode"


def test_the_http_functions_are_anonymous_and_take_every_method() -> None:
    """App Service Authentication or the token decides (functions_app/auth.py); every method reaches the code, so a
    wrong one is a JSON 405 and a CORS preflight is answered by the app."""
    found = functions(function_app.app)
    assert set(found) == {"enqueue_transcode", "api_roles", *HTTP_FUNCTIONS}
    roles = bindings(found["api_roles"])["req"]  # Static Web Apps' rolesSource: POST only
    assert (roles["route"], roles["methods"], roles["authLevel"]) == ("roles", ["POST"], "ANONYMOUS")
    for name, route in HTTP_FUNCTIONS.items():
        b = bindings(found[name])
        assert b["req"] == {"direction": "IN", "type": "httpTrigger", "name": "req", "authLevel": "ANONYMOUS",
                            "route": route}
        assert b["$return"] == {"direction": "OUT", "type": "http", "name": "$return"}
        hints = typing.get_type_hints(found[name].get_user_function())
        assert hints == {"req": func.HttpRequest, "return": func.HttpResponse}


def test_annotations_select_the_sdk_type_binding() -> None:
    """The worker resolves this at runtime: a real BlobClient class for the converter."""
    user_function = the_function(function_app.app).get_user_function()
    hints = typing.get_type_hints(user_function)
    assert hints["client"] is blob.BlobClient
    assert blob.BlobClientConverter.check_input_type_annotation(hints["client"])
    assert list(inspect.signature(user_function).parameters) == ["client"]


def test_logs_and_container_scan_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOB_TRIGGER_SOURCE", "LogsAndContainerScan")
    importlib.reload(function_app)
    assert bindings(the_function(function_app.app))["client"]["source"] == "LogsAndContainerScan"


def test_bad_trigger_source_fails_indexing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOB_TRIGGER_SOURCE", "Polling")
    with pytest.raises(SettingsError, match="BLOB_TRIGGER_SOURCE"):
        importlib.reload(function_app)


def test_settings_are_read_on_first_call_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TranscodeStorage", raising=False)
    monkeypatch.delenv("TranscodeStorage__tableServiceUri", raising=False)
    importlib.reload(function_app)  # no storage setting: importing still works
    with pytest.raises(SettingsError, match="TranscodeStorage"):
        call(blob_client())


# --- invocation with fakes ----------------------------------------------------------------------------------------

def test_enqueued_sends_the_message_once(wired: FakeTable, fake_queue: FakeQueue) -> None:
    client = blob_client()
    call(client)
    [sent] = fake_queue.sent
    job = json.loads(sent)
    assert job["job_id"] == job_id_for("uploads", client.blob_name, '"0x8DC5A1B2"')
    assert job["source"] == {"container": "uploads", "name": client.blob_name, "url": client.url,
                             "etag": '"0x8DC5A1B2"', "size": 3 * 1024**3, "content_type": "video/mp4"}
    assert client.property_calls == 1
    row = wired.rows[("job", job["job_id"])]
    assert row["state"] == "queued" and row["enqueued_at"]


def test_duplicate_sends_nothing(wired: FakeTable, fake_queue: FakeQueue) -> None:
    call(blob_client())
    call(blob_client())
    assert len(fake_queue.sent) == 1


def test_a_failed_send_fails_the_invocation_and_the_retry_sends(wired: FakeTable, fake_queue: FakeQueue) -> None:
    fake_queue.fail_next = 1
    with pytest.raises(Exception, match="503"):
        call(blob_client())  # the host sees the failure and retries the invocation
    [row] = wired.rows.values()
    assert row["state"] == "queued" and not row["enqueued_at"]
    call(blob_client())
    assert len(fake_queue.sent) == 1 and next(iter(wired.rows.values()))["enqueued_at"]


def test_rejected_sends_nothing_and_records_why(wired: FakeTable, fake_queue: FakeQueue) -> None:
    call(blob_client(name="poster.png", content_type="image/png"))
    assert fake_queue.sent == []
    [(partition, _)] = wired.rows
    assert partition == "rejected"


def test_requeued_sends_the_message_again(wired: FakeTable, fake_queue: FakeQueue,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    quick = IngestSettings(requeue_after_s=0, connection_string="x")
    monkeypatch.setattr(function_app, "_context", lambda: (quick, wired, fake_queue))
    call(blob_client())
    call(blob_client())
    first, again = fake_queue.sent
    assert json.loads(again)["job_id"] == json.loads(first)["job_id"]


# --- invocation against Azurite -----------------------------------------------------------------------------------

@pytest.mark.azurite
def test_real_blob_client_table_and_base64_queue(azurite: Any, azurite_table: TableClient,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A real BlobClient, a real table and the function's own base64 send to a real queue."""
    conn = azurite.connection_string
    queue_name = "jobs" + uuid.uuid4().hex[:8]
    monkeypatch.setenv("TranscodeStorage", conn)
    monkeypatch.setenv("JOBS_TABLE", azurite_table.table_name)
    monkeypatch.setenv("JOBS_QUEUE", queue_name)
    function_app._context.cache_clear()

    service = BlobServiceClient.from_connection_string(conn)
    container = "uploads" + uuid.uuid4().hex[:8]
    service.create_container(container)
    queue = QueueClient.from_connection_string(conn, queue_name, message_decode_policy=TextBase64DecodePolicy())
    queue.create_queue()
    try:
        client = service.get_blob_client(container, "Vidéos/été 2026/クリップ.mp4")
        client.upload_blob(b"\x00\x00\x00\x18ftypmp42" + bytes(1000),
                           content_settings=ContentSettings(content_type="video/mp4"))
        call(client)
        call(client)  # the same blob again: duplicate, nothing sent
        [raw] = QueueClient.from_connection_string(conn, queue_name).peek_messages(max_messages=32)
        [received] = queue.receive_messages()
        job = json.loads(received.content)
        assert base64.b64decode(raw.content).decode("utf-8") == received.content  # base64, as the worker reads
        props = client.get_blob_properties()
    finally:
        service.delete_container(container)
        queue.delete_queue()

    assert job["source"]["etag"] == props.etag and job["source"]["size"] == 1012
    assert job["source"]["url"] == client.url and job["source"]["container"] == container
    row = azurite_table.get_entity("job", job["job_id"])
    assert row["state"] == "queued" and row["source_name"] == "Vidéos/été 2026/クリップ.mp4" and row["enqueued_at"]
