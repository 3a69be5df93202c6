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
