"""Fixtures for the Function app: an in-memory job table, settings, and per-test tables in the session's Azurite
(the ``azurite`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.data.tables import TableClient, TableServiceClient

from functions_app.settings import IngestSettings

from .fakes import FakeQueue, FakeTable


@pytest.fixture
def fake_table() -> FakeTable:
    return FakeTable()


@pytest.fixture
def fake_queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def settings() -> IngestSettings:
    return IngestSettings(connection_string="UseDevelopmentStorage=true")


@pytest.fixture
def azurite_table(azurite: Any) -> Iterator[TableClient]:
    """A fresh table in the session's Azurite, dropped afterwards."""
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    name = "jobs" + uuid.uuid4().hex[:12]
    service.create_table(name)
    try:
        yield service.get_table_client(name)
    finally:
        service.delete_table(name)


# --- the dashboard API ---------------------------------------------------------------------------------------------

TOKEN = "test-dashboard-token-0123456789"
ORIGIN = "https://dash.example.net"
MAX_UPLOAD = 10_000_000


@pytest.fixture
def restore_environ() -> Iterator[None]:
    """Put ``os.environ`` back as it was (the local API host applies app settings to it, as the Functions host
    does), and make the app read its settings afresh."""
    import os

    from functions_app import function_app

    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        function_app._api_context.cache_clear()


@pytest.fixture
def api(azurite: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Containers, queues and a table of their own in the session's Azurite, the API's settings and clients for
    them, and the app's ``_api_context`` pointed at those."""
    from functions_app import function_app

    from .api_support import ApiEnv

    env = ApiEnv.create(azurite.connection_string, token=TOKEN, origin=ORIGIN, max_upload=MAX_UPLOAD)
    monkeypatch.setattr(function_app, "_api_context", lambda: (env.settings, env.clients))
    try:
        yield env
    finally:
        env.drop()
