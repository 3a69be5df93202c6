"""The job queue: lease, renew, complete, release and poison. The only module that knows pop receipts.

Messages are read raw and decoded by ``worker.job`` (a message that is not base64 must reach the poison queue with its
reason, not break every receive). Poisoned messages are JSON envelopes on ``<queue>-poison`` holding the reason and
the original body.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from worker.errors import StorageUnavailable

__all__ = ["LOOP_CALL", "RENEW_TIMEOUT_S", "JobQueue", "Lease", "backoff_delay"]

logger = logging.getLogger(__name__)


@dataclass
class Lease:
    """One received message. ``pop_receipt`` changes at every renewal; ``lost`` is set when the lease is gone.

    Each lease has its own lock (renewal thread against the job thread): a renewal that hangs on one message never
    holds up another job's."""

    message_id: str
    pop_receipt: str
    dequeue_count: int
    content: str
    lost: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter in its upper half: ``base * 2**(attempt-1)`` capped, times 0.5..1."""
    raw = min(cap, base * 2 ** max(0, attempt - 1))
    return float(raw * (0.5 + 0.5 * (rng or random).random()))


def _gone(exc: HttpResponseError) -> bool:
    """The message was deleted, or our pop receipt is stale (someone else leased it after our lease expired)."""
    if isinstance(exc, ResourceNotFoundError):
        return True
    return exc.status_code in (400, 404) and "PopReceiptMismatch" in str(getattr(exc, "error_code", "") or exc)


LOOP_CALL: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 15, "retry_total": 0}
"""Per-call limits of the main loop's own storage calls (receive, depth): the loop ticks the liveness heartbeat
between them, so none may outlast the liveness probe's window (the clients' defaults allow 3 x 120 s)."""

RENEW_TIMEOUT_S = 10.0
"""A renewal gets this long (one try); the lease keeper gives up on the lease well before it can expire."""


class JobQueue:
    def __init__(self, queue: QueueClient, poison: QueueClient, *, renew_timeout: float = RENEW_TIMEOUT_S) -> None:
        self._queue = queue
        self._poison = poison
        self._renew_timeout = renew_timeout

    @property
    def name(self) -> str:
        return str(self._queue.queue_name)

    def ensure(self) -> None:
        for client in (self._queue, self._poison):
            try:
                client.create_queue()
            except ResourceExistsError:
                pass

    def receive(self, visibility_timeout: float) -> Lease | None:
        try:
            messages = self._queue.receive_messages(max_messages=1, visibility_timeout=int(visibility_timeout),
                                                    **LOOP_CALL)
            for m in messages:
                return Lease(m.id, m.pop_receipt or "", int(m.dequeue_count or 0), str(m.content or ""))
        except AzureError as exc:
            raise StorageUnavailable(f"cannot receive from queue {self.name}: {exc}") from exc
        return None

    def renew(self, lease: Lease, visibility_timeout: float) -> bool:
        """Extend the lease; False when it is lost (the message is gone or leased by someone else)."""
        with lease.lock:
            if lease.lost:
                return False
            try:
                result = self._queue.update_message(
                    lease.message_id, lease.pop_receipt, visibility_timeout=int(visibility_timeout),
                    connection_timeout=min(5.0, self._renew_timeout), read_timeout=self._renew_timeout,
                    retry_total=0)
            except HttpResponseError as exc:
                if _gone(exc):
                    lease.lost = True
                    logger.warning("lease on message %s lost: %s", lease.message_id, exc.message)
                    return False
                raise StorageUnavailable(f"cannot renew message {lease.message_id}: {exc}") from exc
            except AzureError as exc:
                raise StorageUnavailable(f"cannot renew message {lease.message_id}: {exc}") from exc
            lease.pop_receipt = result.pop_receipt or lease.pop_receipt
            return True

    def complete(self, lease: Lease) -> None:
        """Delete the message; already gone is fine (another worker finished the same job)."""
        with lease.lock:
            try:
                self._queue.delete_message(lease.message_id, lease.pop_receipt)
            except HttpResponseError as exc:
                if not _gone(exc):
                    raise StorageUnavailable(f"cannot delete message {lease.message_id}: {exc}") from exc
                logger.info("message %s was already gone at completion", lease.message_id)
            except AzureError as exc:
                raise StorageUnavailable(f"cannot delete message {lease.message_id}: {exc}") from exc
            lease.lost = True

    def release(self, lease: Lease, delay: float) -> None:
        """Make the message visible again after ``delay`` seconds (0: at once)."""
        with lease.lock:
            if lease.lost:
                return
            try:
                self._queue.update_message(lease.message_id, lease.pop_receipt, visibility_timeout=int(delay))
            except HttpResponseError as exc:
                if not _gone(exc):
                    raise StorageUnavailable(f"cannot release message {lease.message_id}: {exc}") from exc
            except AzureError as exc:
                raise StorageUnavailable(f"cannot release message {lease.message_id}: {exc}") from exc
            lease.lost = True

    def requeue(self, lease: Lease, delay: float) -> None:
        """Hand the message back as a fresh copy, visible after ``delay`` seconds, and delete this one.

        For releases that are not failures (another worker holds the job, or this worker is shutting down): the
        copy starts at dequeue count 0, so such releases never spend the job's delivery budget. Send first, delete
        second: a crash in between leaves two copies, which the job record deduplicates.
        """
        if lease.lost:
            return
        try:
            self._queue.send_message(lease.content, visibility_timeout=int(delay))
        except AzureError as exc:
            raise StorageUnavailable(f"cannot requeue message {lease.message_id}: {exc}") from exc
        self.complete(lease)

    def poison(self, lease: Lease, reason: str, job_id: str | None = None) -> None:
        """Move the message to the poison queue with the reason: send the envelope first, then delete."""
        envelope = {"reason": reason, "job_id": job_id, "message_id": lease.message_id,
                    "dequeue_count": lease.dequeue_count, "poisoned_at": datetime.now(UTC).isoformat(),
                    "original": lease.content}
        text = json.dumps(envelope, ensure_ascii=False)
        if len(text.encode()) > 60_000:  # an oversized original: keep its head
            envelope["original"] = lease.content[:16_000]
            envelope["original_truncated"] = True
            text = json.dumps(envelope, ensure_ascii=False)
        try:
            self._poison.send_message(text)
        except AzureError as exc:
            raise StorageUnavailable(f"cannot write to {self._poison.queue_name}: {exc}") from exc
        self.complete(lease)

    def depth(self) -> int | None:
        try:
            return int(self._queue.get_queue_properties(**LOOP_CALL).approximate_message_count or 0)
        except AzureError:
            return None
