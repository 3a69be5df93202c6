"""Holding a message while its job runs: renew its visibility and the record's heartbeat, and give the lease up,
stopping the job, the moment it can no longer be trusted.

A lease is lost when a renewal says the message is gone (or leased by another worker), or when no renewal has
succeeded for ``visibility - interval`` seconds: past that point the message may already be visible, and a second
worker may claim the job. A renewal that hangs (a slow storage front end, a dropped connection) is abandoned, never
waited for: each runs in a short-lived thread and the keeper only waits for it until the deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from worker.errors import StorageUnavailable
from worker.queue import JobQueue, Lease
from worker.records import JobRecords, utc_now

__all__ = ["LeaseKeeper"]

logger = logging.getLogger(__name__)


class LeaseKeeper(threading.Thread):
    def __init__(self, queue: JobQueue, records: JobRecords, lease: Lease, job_id: str, *, interval: float,
                 visibility: float, on_lost: Callable[[str], None]) -> None:
        super().__init__(name=f"lease-{job_id[:8]}", daemon=True)
        self._queue, self._records, self._lease, self._job_id = queue, records, lease, job_id
        self._interval, self._visibility = interval, visibility
        self._deadline_s = max(interval, visibility - interval)
        self._on_lost = on_lost
        self._done = threading.Event()

    def run(self) -> None:
        last_ok = time.monotonic()
        while not self._done.wait(self._interval):
            result: list[bool | Exception] = []
            attempt = threading.Thread(target=self._renew_once, args=(result,), daemon=True,
                                       name=f"renew-{self._job_id[:8]}")
            attempt.start()
            attempt.join(timeout=max(0.0, last_ok + self._deadline_s - time.monotonic()))
            if self._done.is_set():
                return
            if not result:
                self._lose(f"no renewal succeeded for {time.monotonic() - last_ok:.0f}s (one is still hanging)")
                return
            outcome = result[0]
            if outcome is True:
                last_ok = time.monotonic()
            elif outcome is False:
                self._lose("the message is gone or leased by another worker")
                return
            elif time.monotonic() - last_ok >= self._deadline_s:
                self._lose(f"no renewal succeeded for {time.monotonic() - last_ok:.0f}s: {outcome}")
                return
            else:
                logger.warning("job %s: cannot renew the lease now, will retry: %s", self._job_id, outcome)

    def _renew_once(self, result: list[bool | Exception]) -> None:
        try:
            result.append(self._queue.renew(self._lease, self._visibility))
        except StorageUnavailable as exc:
            result.append(exc)
            return
        if result[0] is True:
            try:
                self._records.update(self._job_id, heartbeat_at=utc_now())
            except StorageUnavailable as exc:
                logger.warning("job %s: heartbeat not recorded: %s", self._job_id, exc)

    def _lose(self, why: str) -> None:
        self._lease.lost = True
        logger.warning("job %s: lease lost (%s); stopping this attempt without publishing", self._job_id, why)
        self._on_lost(why)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)
