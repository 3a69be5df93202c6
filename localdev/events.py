"""Blob-created events for Azurite: each new blob in the uploads container is delivered once to the handler.

Event Grid's contract, kept here: at-least-once delivery with retries, a receipt per delivered event (kept in a table,
so a restarted stack does not deliver again), events for the same blob version (name + ETag) delivered once. A
re-upload is a new version and a new event.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient

__all__ = ["BlobEventDelivery", "DeliveryStats"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 30  # Event Grid's default before dead-lettering


def _receipt_key(name: str, etag: str) -> str:
    return hashlib.sha256(f"{name}\n{etag.strip(chr(34))}".encode()).hexdigest()[:40]


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    seen_at: dict[str, float] = field(default_factory=dict)  # receipt key -> when the blob was first listed
    delivered_at: dict[str, float] = field(default_factory=dict)  # receipt key -> when the handler returned


class BlobEventDelivery:
    def __init__(self, container: ContainerClient, receipts: TableClient, handler: Callable[[str, str], object], *,
                 interval: float = 0.25, workers: int = 8) -> None:
        self._container = container
        self._receipts = receipts
        self._handler = handler
        self._interval = interval
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="event")
        self._done: set[str] = set()
        self._inflight: dict[str, Future[None]] = {}
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="blob-events", daemon=True)
        self.stats = DeliveryStats()
        self.container_name = str(container.container_name)

    def start(self) -> BlobEventDelivery:
        try:
            self._receipts.create_table()
        except ResourceExistsError:
            pass
        for entity in self._receipts.query_entities(f"PartitionKey eq '{self.container_name}'"):
            self._done.add(str(entity["RowKey"]))
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)

    @property
    def pending(self) -> int:
        """Blob versions listed but not yet delivered."""
        with self._lock:
            return len(self._inflight)

    def poll_once(self) -> int:
        """List the container and start delivering every version not delivered yet; returns how many started."""
        started = 0
        now = time.monotonic()
        for blob in self._container.list_blobs():
            key = _receipt_key(blob.name, str(blob.etag))
            with self._lock:
                if key in self._done or key in self._inflight:
                    continue
                self.stats.seen_at.setdefault(key, now)
                self._inflight[key] = self._pool.submit(self._deliver, key, blob.name)
            started += 1
        return started

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every listed blob is delivered (and a fresh listing finds nothing new)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending == 0 and self.poll_once() == 0 and self.pending == 0:
                return True
            time.sleep(0.05)
        return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except AzureError as exc:
                logger.warning("cannot list %s: %s", self.container_name, exc)
            self._stop.wait(self._interval)

    def _deliver(self, key: str, name: str) -> None:
        try:
            self._handler(self.container_name, name)
            self._receipts.upsert_entity({"PartitionKey": self.container_name, "RowKey": key, "name": name})
        except Exception as exc:
            attempts = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempts
            self.stats.failed_attempts += 1
            if attempts >= MAX_ATTEMPTS:
                logger.error("event for %s dead-lettered after %d attempts: %s", name, attempts, exc)
                self.stats.dead_lettered += 1
                with self._lock:
                    self._done.add(key)
                    self._inflight.pop(key, None)
                return
            logger.warning("delivery of %s failed (attempt %d), will retry: %s", name, attempts, exc)
            time.sleep(min(5.0, 0.2 * 2**attempts))
            with self._lock:
                self._inflight.pop(key, None)  # the next listing retries it
            return
        with self._lock:
            self._done.add(key)
            self._inflight.pop(key, None)
            self.stats.delivered += 1
            self.stats.delivered_at[key] = time.monotonic()
