"""Test doubles for the Function app: an in-memory job table, a fake bound BlobClient, a fake queue client; the table
and the queue can be told to fail their next calls, as a 503 or a dropped connection would."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

NOW = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


class ServiceUnavailable(HttpResponseError):
    """A 503 from a storage service."""


class FakeEntity(dict[str, Any]):
    def __init__(self, data: Mapping[str, Any], etag: str) -> None:
        super().__init__(data)
        self.metadata = {"etag": etag}


class FakeTable:
    """The four TableClient calls the Function makes, with Azure's conflict and ETag semantics."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.etags: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []
        self.failures: dict[str, int] = {}
        """method name -> how many of its next calls fail with a 503"""
        self._counter = itertools.count(1)

    def _maybe_fail(self, method: str) -> None:
        if self.failures.get(method, 0) > 0:
            self.failures[method] -= 1
            raise ServiceUnavailable(f"{method}: 503 Server Busy (injected)")

    def _store(self, key: tuple[str, str], entity: dict[str, Any]) -> dict[str, Any]:
        self.rows[key] = entity
        self.etags[key] = f'W/"datetime\'{next(self._counter)}\'"'
        return {"etag": self.etags[key]}

    @staticmethod
    def _key(entity: Mapping[str, Any]) -> tuple[str, str]:
        return entity["PartitionKey"], entity["RowKey"]

    def create_entity(self, entity: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.calls.append("create_entity")
        self._maybe_fail("create_entity")
        key = self._key(entity)
        if key in self.rows:
            raise ResourceExistsError("EntityAlreadyExists")
        return self._store(key, dict(entity))

    def get_entity(self, partition_key: str, row_key: str, **kwargs: Any) -> FakeEntity:
        self.calls.append("get_entity")
        self._maybe_fail("get_entity")
        key = (partition_key, row_key)
        if key not in self.rows:
            raise ResourceNotFoundError("ResourceNotFound")
        return FakeEntity(copy.deepcopy(self.rows[key]), self.etags[key])

    def upsert_entity(self, entity: Mapping[str, Any], mode: UpdateMode = UpdateMode.MERGE,
                      **kwargs: Any) -> dict[str, Any]:
        self.calls.append("upsert_entity")
        self._maybe_fail("upsert_entity")
        key = self._key(entity)
        base = self.rows.get(key, {}) if mode == UpdateMode.MERGE else {}
        return self._store(key, {**base, **entity})

    def update_entity(self, entity: Mapping[str, Any], mode: UpdateMode = UpdateMode.MERGE,
                      **kwargs: Any) -> dict[str, Any]:
        self.calls.append("update_entity")
        self._maybe_fail("update_entity")
        key = self._key(entity)
        if key not in self.rows:
            raise ResourceNotFoundError("ResourceNotFound")
        if kwargs.get("etag") not in (None, self.etags[key]):
            raise ResourceModifiedError("UpdateConditionNotSatisfied")
        base = self.rows[key] if mode == UpdateMode.MERGE else {}
        return self._store(key, {**base, **entity})


@dataclass
class FakeProperties:
    size: int
    etag: str
    content_type: str | None

    @property
    def content_settings(self) -> Any:
        return type("ContentSettings", (), {"content_type": self.content_type})()


@dataclass
class FakeBlobClient:
    """What the function uses of ``azure.storage.blob.BlobClient``."""

    container_name: str
    blob_name: str
    properties: FakeProperties
    account_url: str = "https://transcodestore.blob.core.windows.net"
    property_calls: int = field(default=0)

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"{self.account_url}/{self.container_name}/{quote(self.blob_name, safe='~/')}"

    def get_blob_properties(self) -> FakeProperties:
        self.property_calls += 1
        return self.properties


class FakeQueue:
    """``QueueClient.send_message``, recording what was sent; ``fail_next`` sends fail with a 503."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail_next = 0

    def send_message(self, content: str, **kwargs: Any) -> dict[str, str]:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ServiceUnavailable("send_message: 503 Server Busy (injected)")
        self.sent.append(content)
        return {"id": str(len(self.sent))}
