"""Blob-created events for Azurite: each new blob in the uploads container is delivered once to the handler.

Event Grid's contract, kept here: at-least-once delivery with retries, a receipt per delivered event (kept in a table,
so a restarted stack does not deliver again), events for the same blob version (name + ETag) delivered once. A
re-upload is a new version and a new event.

How, and what it costs. Azurite has no Event Grid, so new blobs are found by listing the container. A listing costs
the storage about 60 us per blob and grows with the container, so the poll interval grows with it: after a listing
that took ``t`` seconds the next starts ``max(interval, t * (1 / list_share - 1))`` later (at most
``max_interval``), which keeps listing to about ``list_share`` of the time; and no listing starts while more than
four deliveries per worker are still queued (when the storage is the bottleneck, listing it again only slows the
deliveries down). Listings are parsed from the raw XML: the SDK's model deserialisation costs about 250 us of CPU
per blob. Deliveries run on a thread pool. Receipts are written in batches (table transactions of up to 100
upserts, every ``receipt_flush_s``), spread over 16 partitions by the key's first hex digit: Azurite finds an
entity by scanning its partition, so with one partition every receipt would cost more than the last. A stack that
dies before a batch is written delivers those events again on restart: the handler is idempotent (the job record
dedupes), as Event Grid's at-least-once contract requires of any subscriber.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.core.rest import HttpRequest
from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient

__all__ = ["BlobEventDelivery", "DeliveryStats", "receipt_key"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 30  # Event Grid's default before dead-lettering
PAGE_SIZE = 5000  # the most one List Blobs call returns
RECEIPT_BATCH = 100  # the most entities one table transaction takes

_BLOB = re.compile(r"<Blob>(.*?)</Blob>", re.S)
_NAME = re.compile(r"<Name( Encoded=\"true\")?>([^<]*)</Name>")
_ETAG = re.compile(r"<Etag>([^<]*)</Etag>")
_NEXT = re.compile(r"<NextMarker>([^<]*)</NextMarker>")


def receipt_key(name: str, etag: str) -> str:
    """The receipt's RowKey for one blob version (ETag quotes ignored); also the key of ``DeliveryStats`` maps."""
    return hashlib.sha256(f"{name}\n{etag.strip(chr(34))}".encode()).hexdigest()[:40]


_receipt_key = receipt_key


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    listings: int = 0
    listing_seconds: float = 0.0
    seen_at: dict[str, float] = field(default_factory=dict)  # receipt key -> when the blob was first listed
    delivered_at: dict[str, float] = field(default_factory=dict)  # receipt key -> when the handler returned


def parse_listing(xml: str) -> tuple[list[tuple[str, str]], str | None]:
    """``(name, etag)`` of every blob in one List Blobs page, and the next marker (``None`` on the last page)."""
    blobs = []
    for chunk in _BLOB.finditer(xml):
        body = chunk.group(1)
        name, etag = _NAME.search(body), _ETAG.search(body)
        if name is None or etag is None:
            continue
        text = html.unescape(name.group(2))
        blobs.append((unquote(text) if name.group(1) else text, html.unescape(etag.group(1))))
    marker = _NEXT.search(xml)
    return blobs, (html.unescape(marker.group(1)) or None) if marker else None


class BlobEventDelivery:
    def __init__(self, container: ContainerClient, receipts: TableClient, handler: Callable[[str, str], object], *,
                 interval: float = 0.25, workers: int = 8, max_interval: float = 5.0, list_share: float = 0.25,
                 receipt_flush_s: float = 1.0) -> None:
        if not 0 < list_share <= 1:
            raise ValueError(f"list_share must be in (0, 1], got {list_share}")
        self._container = container
        self._receipts = receipts
        self._handler = handler
        self._interval = interval
        self._max_interval = max(interval, max_interval)
        self._list_factor = 1 / list_share - 1
        self._receipt_flush_s = receipt_flush_s
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="event")
        self._backlog_limit = 4 * workers
        self._done: set[str] = set()
        self._inflight: dict[str, Future[None]] = {}
        self._retry_at: dict[str, float] = {}
        self._attempts: dict[str, int] = {}
        self._unwritten: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._receipts_due = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="blob-events", daemon=True)
        self._writer = threading.Thread(target=self._receipt_loop, name="event-receipts", daemon=True)
        self._fast_listing = True
        self.stats = DeliveryStats()
        self.container_name = str(container.container_name)

    def start(self) -> BlobEventDelivery:
        try:
            self._receipts.create_table()
        except ResourceExistsError:
            pass
        c = self.container_name  # receipts of this container: partition "<c>" (older stacks) or "<c>~<hex digit>"
        query = f"PartitionKey eq '{c}' or (PartitionKey ge '{c}~' and PartitionKey lt '{c}~~')"
        for entity in self._receipts.query_entities(query, select=["RowKey"]):
            self._done.add(str(entity["RowKey"]))
        self._thread.start()
        self._writer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        # queued events are cancelled: they have no receipt, so a restarted delivery finds them again
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._receipts_due.notify_all()
        self._writer.join(timeout=30)
        self._flush_receipts()

    @property
    def pending(self) -> int:
        """Blob versions listed but not yet delivered (in flight or waiting for a retry)."""
        with self._lock:
            return len(self._inflight) + len(self._retry_at)

    @property
    def unwritten_receipts(self) -> int:
        with self._lock:
            return len(self._unwritten)

    def poll_once(self) -> int:
        """List the container and start delivering every version not delivered yet; returns how many started."""
        started = 0
        t0 = now = time.monotonic()
        for name, etag in self._list_versions():
            key = receipt_key(name, etag)
            with self._lock:
                if key in self._done or key in self._inflight or self._retry_at.get(key, 0.0) > now:
                    continue
                self._retry_at.pop(key, None)
                self.stats.seen_at.setdefault(key, now)
                self._inflight[key] = self._pool.submit(self._deliver, key, name)
            started += 1
        with self._lock:
            self.stats.listings += 1
            self.stats.listing_seconds += time.monotonic() - t0
        return started

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every listed blob is delivered (and a fresh listing finds nothing new)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = len(self._inflight)
            if not busy and self.poll_once() == 0 and self.pending == 0:
                return True
            time.sleep(0.05)
        return False

    def _list_versions(self) -> Iterator[tuple[str, str]]:
        if self._fast_listing:
            try:
                yield from self._list_raw()
                return
            except AttributeError:  # an SDK without the internals used below: the slow, public way
                self._fast_listing = False
        for blob in self._container.list_blobs():
            yield blob.name, str(blob.etag)

    def _list_raw(self) -> Iterator[tuple[str, str]]:
        """List Blobs through the container client's own pipeline (its credential, retries, API version)."""
        base, _, sas = self._container.url.partition("?")
        send = self._container._client._client.send_request  # the generated client's PipelineClient
        marker: str | None = None
        while True:
            query = f"restype=container&comp=list&maxresults={PAGE_SIZE}"
            if marker:
                query += f"&marker={quote(marker, safe='')}"
            if sas:
                query += f"&{sas}"
            request = HttpRequest("GET", f"{base}?{query}",
                                  headers={"x-ms-version": self._container.api_version, "Accept": "application/xml"})
            response = send(request)
            if response.status_code != 200:
                raise HttpResponseError(response=response)
            blobs, marker = parse_listing(response.text())
            yield from blobs
            if not marker:
                return

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                backlog = len(self._inflight)
            if backlog > self._backlog_limit:  # the pool has work queued: a listing now would find nothing it can use
                self._stop.wait(self._interval)
                continue
            t0 = time.monotonic()
            try:
                self.poll_once()
            except AzureError as exc:
                logger.warning("cannot list %s: %s", self.container_name, exc)
            took = time.monotonic() - t0
            self._stop.wait(min(self._max_interval, max(self._interval, took * self._list_factor)))

    def _receipt_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if len(self._unwritten) < RECEIPT_BATCH:
                    self._receipts_due.wait(self._receipt_flush_s)
            self._flush_receipts()

    def _flush_receipts(self) -> None:
        with self._lock:
            unwritten, self._unwritten = self._unwritten, []
        partitions: dict[str, list[dict[str, Any]]] = {}
        for entity in unwritten:
            partitions.setdefault(entity["PartitionKey"], []).append(entity)
        failed: list[dict[str, Any]] = []
        for entities in partitions.values():  # a transaction takes one partition, at most 100 entities
            for i in range(0, len(entities), RECEIPT_BATCH):
                batch = entities[i:i + RECEIPT_BATCH]
                try:
                    self._receipts.submit_transaction([("upsert", entity) for entity in batch])
                except Exception as exc:  # kept, and written with the next batch
                    logger.warning("cannot write %d event receipts, will retry: %s", len(batch), exc)
                    failed += batch
        if failed:
            with self._lock:
                self._unwritten[:0] = failed

    def _deliver(self, key: str, name: str) -> None:
        try:
            self._handler(self.container_name, name)
        except Exception as exc:
            with self._lock:
                attempts = self._attempts[key] = self._attempts.get(key, 0) + 1
                self.stats.failed_attempts += 1
                self._inflight.pop(key, None)
                if attempts >= MAX_ATTEMPTS:
                    self._done.add(key)
                    self.stats.dead_lettered += 1
                else:
                    self._retry_at[key] = time.monotonic() + min(5.0, 0.2 * 2**attempts)  # the next listing retries
            if attempts >= MAX_ATTEMPTS:
                logger.error("event for %s dead-lettered after %d attempts: %s", name, attempts, exc)
            else:
                logger.warning("delivery of %s failed (attempt %d), will retry: %s", name, attempts, exc)
            return
        with self._lock:
            self._done.add(key)
            self._inflight.pop(key, None)
            self._attempts.pop(key, None)
            self.stats.delivered += 1
            self.stats.delivered_at[key] = time.monotonic()
            self._unwritten.append({"PartitionKey": f"{self.container_name}~{key[0]}", "RowKey": key, "name": name})
            if len(self._unwritten) >= RECEIPT_BATCH:
                self._receipts_due.notify()
