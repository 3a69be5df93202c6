"""The throughput changes of the local blob-event delivery, against a real Azurite: listings parsed from the raw XML
find exactly what the SDK lists, receipts land in 16 partitions and survive a restart (old layout included), and a
failing handler is retried without blocking the others."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from localdev.events import BlobEventDelivery, receipt_key

pytestmark = pytest.mark.azurite

NAMES = ["plain.mp4", "with space/and é.mp4", "amp&lt<gt>.mp4", "quote'\"mark.mp4", "deep/a/b/c/d.mp4",
         "%41-percent.mp4", "emoji-\U0001f3ac.mp4"]


@pytest.fixture
def storage(azurite):  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:8]
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = blobs.create_container(f"ev-{tag}")
    receipts = TableServiceClient.from_connection_string(azurite.connection_string).create_table(f"rcpt{tag}")
    return container, receipts


class Recorder:
    def __init__(self, fail_first: dict[str, int] | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.fail_first = dict(fail_first or {})
        self.lock = threading.Lock()

    def __call__(self, container: str, name: str) -> None:
        with self.lock:
            self.calls[name] += 1
            if self.fail_first.get(name, 0) >= self.calls[name]:
                raise RuntimeError(f"handler refused {name} on call {self.calls[name]}")


def test_raw_listing_matches_the_sdk_and_each_version_is_delivered_once(storage) -> None:  # type: ignore[no-untyped-def]
    container, receipts = storage
    for name in NAMES:
        container.upload_blob(name, b"x")
    delivery = BlobEventDelivery(container, receipts, Recorder(), interval=0.05)
    listed = dict(delivery._list_raw())
    assert listed == {b.name: str(b.etag) for b in container.list_blobs()}
    handler = Recorder()
    delivery = BlobEventDelivery(container, receipts, handler, interval=0.05).start()
    assert delivery.wait_idle(30)
    container.upload_blob("plain.mp4", b"new version", overwrite=True)  # a new ETag: a new event
    assert delivery.wait_idle(30)
    delivery.stop()
    assert handler.calls == Counter({**dict.fromkeys(NAMES, 1), "plain.mp4": 2})
    assert delivery.stats.delivered == len(NAMES) + 1 and delivery.pending == 0
    rows = list(receipts.list_entities())
    assert len(rows) == len(NAMES) + 1
    assert {r["PartitionKey"] for r in rows} <= {f"{container.container_name}~{d}" for d in "0123456789abcdef"}
    assert all(r["PartitionKey"][-1] == r["RowKey"][0] for r in rows)


def test_a_restarted_delivery_reads_its_receipts_old_layout_included(storage) -> None:  # type: ignore[no-untyped-def]
    container, receipts = storage
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        container.upload_blob(name, b"x")
    first = BlobEventDelivery(container, receipts, Recorder(), interval=0.05).start()
    assert first.wait_idle(30)
    first.stop()
    old = container.upload_blob("old.mp4", b"x").get_blob_properties().etag
    # delivered by a stack that wrote its receipts in one partition, the container's name
    receipts.create_entity({"PartitionKey": container.container_name, "RowKey": receipt_key("old.mp4", old),
                            "name": "old.mp4"})
    container.upload_blob("d.mp4", b"x")
    handler = Recorder()
    second = BlobEventDelivery(container, receipts, handler, interval=0.05).start()
    assert second.wait_idle(30)
    second.stop()
    assert handler.calls == Counter({"d.mp4": 1})


def test_a_failing_delivery_is_retried_while_the_others_go_on(storage) -> None:  # type: ignore[no-untyped-def]
    container, receipts = storage
    for i in range(20):
        container.upload_blob(f"n{i:02d}.mp4", b"x")
    handler = Recorder(fail_first={"n03.mp4": 2})
    delivery = BlobEventDelivery(container, receipts, handler, interval=0.05, workers=4).start()
    t0 = time.monotonic()
    assert delivery.wait_idle(30)
    delivery.stop()
    assert handler.calls["n03.mp4"] == 3 and sum(handler.calls.values()) == 22
    assert delivery.stats.failed_attempts == 2 and delivery.stats.delivered == 20 and delivery.stats.dead_lettered == 0
    key = receipt_key("n03.mp4", container.get_blob_client("n03.mp4").get_blob_properties().etag)
    others = [at for k, at in delivery.stats.delivered_at.items() if k != key]
    assert max(others) < delivery.stats.delivered_at[key]  # the retries waited (0.4 s, then 0.8 s); nobody else did
    assert delivery.stats.delivered_at[key] - t0 >= 1.2
