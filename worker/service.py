"""The worker service: lease a job, run the engine, publish, and only then delete the message.

One main loop leases messages while it has free job slots and hands each to a thread::

    received → claimed → downloading → encoding → quality → uploading → manifest → succeeded → deleted
                                      ↘ permanent error: poison queue, record failed
                                      ↘ transient error: released with backoff (poison after max_dequeue deliveries)
                                      ↘ shutdown after the drain: released at once, record queued

Crash safety comes from the order: the message is deleted last; each attempt uploads under a folder of its own and
``manifest.json``, created once after everything else, names it (a redelivered job whose manifest exists completes
without encoding again; a second attempt can never overwrite the first's files). The lease is renewed by a thread of
its own (``worker.lease``); losing it stops the attempt before it publishes.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from worker.engine import MANIFEST_NAME, JobProgress, transcode
from worker.errors import (
    EncodeInterrupted,
    InvalidJob,
    PermanentJobError,
    ScratchFull,
    StorageUnavailable,
)
from worker.gpu import GpuScan, session_limit
from worker.health import HealthState
from worker.job import TranscodeJob, check_scope, parse_job
from worker.ladder import Profile
from worker.lease import LeaseKeeper
from worker.media import check_file_size
from worker.metrics import Metrics
from worker.queue import JobQueue, Lease, backoff_delay
from worker.records import JobRecords, ProgressThrottle, utc_now
from worker.settings import ServiceSettings
from worker.storage import BlobStore

__all__ = ["EXIT_DRAIN_EXPIRED", "EXIT_OK", "Worker", "job_slots", "worker_name"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_DRAIN_EXPIRED = 5
"""The drain time ran out: running jobs were stopped and their messages made visible again."""

Outcome = Literal["succeeded", "failed", "retried", "poisoned", "skipped", "released", "lost"]

# Where a stage sits in the job's overall percent.
_STAGE_SPAN = {"downloading": (0, 5), "encode": (5, 80), "quality": (80, 95), "uploading": (95, 100)}


class Transcoder(Protocol):
    def __call__(self, input_path: str | Path, out_dir: str | Path, *, profile: Profile, settings: Any,
                 on_progress: Callable[[JobProgress], None] | None, stop: threading.Event | None) -> dict[str, Any]:
        ...


def attempt_manifest(manifest: dict[str, Any], attempt: str) -> dict[str, Any]:
    """The manifest as published: every file path under the attempt's folder (``<attempt>/...``)."""
    def under(path: Any) -> Any:
        return f"{attempt}/{path}" if isinstance(path, str) and path else path

    out = dict(manifest, attempt=attempt, hls=under(manifest.get("hls")), dash=under(manifest.get("dash")),
               poster=under(manifest.get("poster")))
    out["renditions"] = [dict(r, path=under(r.get("path")), init=under(r.get("init")))
                         for r in manifest.get("renditions", [])]
    if manifest.get("audio"):
        out["audio"] = dict(manifest["audio"], path=under(manifest["audio"].get("path")))
    return out


def _size(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if abs(n) >= 1e9 else f"{n / 1e6:.1f} MB"


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def job_slots(concurrency: int, rungs: int, scan: GpuScan | None) -> int:
    """Jobs at once: the setting, bounded on a session-capped GPU by the sessions a job needs (one per rung)."""
    if scan is None:
        return concurrency
    limits = [session_limit(g.name) for g in scan.gpus if g.nvenc]
    capped = [n for n in limits if n is not None]
    if not capped:
        return concurrency
    return max(1, min(concurrency, sum(n // max(1, rungs) for n in capped) or 1))


@dataclass
class _Running:
    lease: Lease
    stop: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    """Set when the lease is gone: the attempt stops and must neither publish, release nor record."""
    job_id: str | None = None


class Worker:
    def __init__(self, settings: ServiceSettings, *, queue: JobQueue, store: BlobStore, records: JobRecords,
                 profile: Profile, metrics: Metrics, health: HealthState, slots: int = 1,
                 transcoder: Transcoder = transcode) -> None:
        self.settings = settings
        self.queue, self.store, self.records = queue, store, records
        self.profile, self.metrics, self.health = profile, metrics, health
        self.slots = max(1, slots)
        self.transcoder = transcoder
        self._wake = threading.Event()
        self._draining = threading.Event()
        self._running: dict[Future[Outcome], _Running] = {}
        self._lock = threading.Lock()
        self._reserved: dict[str, int] = {}
        self.started_jobs = 0
        self.outcomes: list[Outcome] = []
        metrics.slots.set(self.slots)

    # -- control ---------------------------------------------------------------------------------------------------
    def drain(self) -> None:
        """Stop leasing; running jobs get ``drain_seconds`` to finish (called from the first SIGTERM)."""
        if not self._draining.is_set():
            logger.info("draining: no new jobs; %d running get up to %.0fs", len(self._running),
                        self.settings.drain_seconds)
            self._draining.set()
            self.health.draining = True
            self.metrics.draining.set(1)
            self._wake.set()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    # -- main loop -------------------------------------------------------------------------------------------------
    def run(self) -> int:
        s = self.settings
        poll = s.poll_interval_s
        idle_since = time.monotonic()
        next_depth = 0.0
        drain_deadline: float | None = None
        with ThreadPoolExecutor(self.slots, thread_name_prefix="job") as pool:
            while True:
                self.health.tick()
                self._reap()
                now = time.monotonic()
                if now >= next_depth:
                    depth = self.queue.depth()
                    if depth is not None:
                        self.metrics.queue_depth.set(depth)
                        self.health.ready, self.health.reason = True, "ok"
                    else:
                        self.health.ready, self.health.reason = False, "job queue not reachable"
                    next_depth = now + 15
                if self.draining:
                    if not self._running:
                        logger.info("drained; exiting")
                        return EXIT_OK
                    drain_deadline = drain_deadline or now + s.drain_seconds
                    if now >= drain_deadline:
                        return self._stop_running()
                    self._wake.wait(min(0.5, max(0.01, drain_deadline - now)))
                    self._wake.clear()
                    continue
                out_of_jobs = s.max_jobs and self.started_jobs >= s.max_jobs
                if out_of_jobs and not self._running:
                    logger.info("finished %d jobs (WORKER_MAX_JOBS); exiting", self.started_jobs)
                    return EXIT_OK
                if len(self._running) < self.slots and not out_of_jobs:
                    try:
                        lease = self.queue.receive(s.visibility_timeout_s)
                    except StorageUnavailable as exc:
                        self.health.ready, self.health.reason = False, "job queue not reachable"
                        logger.warning("cannot receive: %s", exc)
                        lease = None
                    if lease is not None:
                        self.started_jobs += 1
                        running = _Running(lease)
                        with self._lock:
                            self._running[pool.submit(self._process, running)] = running
                        poll, idle_since = s.poll_interval_s, time.monotonic()
                        continue
                    if not self._running and s.idle_exit_s and time.monotonic() - idle_since >= s.idle_exit_s:
                        logger.info("idle for %.0fs (WORKER_IDLE_EXIT_S); exiting", s.idle_exit_s)
                        return EXIT_OK
                    poll = min(s.poll_max_interval_s, poll * 1.5)
                else:
                    poll = s.poll_interval_s
                self._wake.wait(poll)
                self._wake.clear()

    def _reap(self) -> None:
        with self._lock:
            done = [f for f in self._running if f.done()]
            for f in done:
                self._running.pop(f)
                exc = f.exception()
                if exc is not None:  # _process handles everything; this is a bug, but keep serving
                    logger.error("job thread failed: %r", exc, exc_info=exc)
                else:
                    self.outcomes.append(f.result())

    def _stop_running(self) -> int:
        logger.warning("drain time (%.0fs) is over: stopping %d running jobs and releasing their messages",
                       self.settings.drain_seconds, len(self._running))
        for running in list(self._running.values()):
            running.stop.set()
        deadline = time.monotonic() + 60
        while self._running and time.monotonic() < deadline:
            time.sleep(0.1)
            self._reap()
        return EXIT_DRAIN_EXPIRED

    # -- one job ---------------------------------------------------------------------------------------------------
    def _process(self, running: _Running) -> Outcome:
        lease = running.lease
        started = time.monotonic()
        self.metrics.inprogress.inc()
        try:
            outcome = self._handle(running)
        except StorageUnavailable as exc:
            # We could not even record the outcome; the message reappears when its visibility runs out.
            logger.warning("message %s: storage unavailable while handling, it will be redelivered: %s",
                           lease.message_id, exc)
            outcome = "retried"
        except Exception as exc:
            outcome = self._unexpected(running, exc)
        finally:
            self.metrics.inprogress.dec()
        self.metrics.jobs.labels(outcome).inc()
        self.metrics.duration.labels(outcome).observe(time.monotonic() - started)
        if self.settings.max_jobs:
            self._wake.set()
        return outcome

    def _unexpected(self, running: _Running, exc: Exception) -> Outcome:
        """An error nothing classified: redelivered, unless this was the last delivery allowed (then poisoned,
        whatever the error's type, so that no message comes back forever)."""
        lease = running.lease
        if lease.dequeue_count < self.settings.max_dequeue:
            logger.exception("message %s: unexpected error while handling; it will be redelivered",
                             lease.message_id, exc_info=exc)
            return "retried"
        reason = (f"unexpected {type(exc).__name__} on delivery {lease.dequeue_count} of "
                  f"{self.settings.max_dequeue}: {str(exc)[:500]}")
        try:
            return self._poison(lease, reason, running.job_id, "unexpected-error")
        except Exception as again:  # storage down as well: the next delivery poisons it
            logger.warning("message %s: could not poison after %s: %s", lease.message_id, reason, again)
            return "retried"

    def _poison(self, lease: Lease, reason: str, job_id: str | None, kind: str) -> Outcome:
        self.queue.poison(lease, reason, job_id)
        self.metrics.poisoned.labels(kind).inc()
        logger.error("job %s → poison (%s): %s", job_id or f"message {lease.message_id}", kind, reason)
        return "poisoned"

    def _handle(self, running: _Running) -> Outcome:
        s, lease = self.settings, running.lease
        try:
            job = parse_job(lease.content)
            check_scope(job, uploads_container=s.uploads_container, outputs_container=s.outputs_container)
        except InvalidJob as exc:
            return self._poison(lease, str(exc), None, "invalid-message")
        running.job_id = job.job_id
        log_id = f"{job.job_id} try {lease.dequeue_count}"
        manifest_name = job.output.prefix + MANIFEST_NAME
        if self.store.exists(job.output.container, manifest_name):
            record = self.records.get(job.job_id) or {}
            if record.get("state") != "succeeded":
                self.records.update(job.job_id, state="succeeded", stage="done", progress=100.0, error="",
                                    manifest_url=self.store.url(job.output.container, manifest_name))
            self.queue.complete(lease)
            logger.info("job %s: manifest exists; completed without encoding", log_id)
            return "skipped"
        if lease.dequeue_count > s.max_dequeue:
            record = self.records.get(job.job_id) or {}
            if self.records.held_elsewhere(record, 2 * s.renew_every_s):
                # a copy of a job another worker is running: drop the copy, never the live worker's record
                self.queue.complete(lease)
                logger.info("job %s: a spent copy of a job running on %s; copy deleted", log_id, record.get("worker"))
                return "skipped"
            reason = f"delivered {lease.dequeue_count} times (limit {s.max_dequeue})"
            if record.get("error"):
                reason += f"; last error: {record['error']}"
            self.records.update(job.job_id, state="poisoned", stage="poisoned", error=reason, finished_at=utc_now())
            return self._poison(lease, reason, job.job_id, "too-many-deliveries")
        # a live owner's heartbeat is at most one renewal old; a dead one's is a whole visibility timeout old
        claim = self.records.claim(job, dequeue_count=lease.dequeue_count, fresh_s=2 * s.renew_every_s)
        if claim == "done":
            self.queue.complete(lease)
            logger.info("job %s: already succeeded; message deleted", log_id)
            return "skipped"
        if claim == "busy":
            self.queue.requeue(lease, s.visibility_timeout_s)  # not a failure: the copy's dequeue count restarts
            logger.info("job %s: another worker is running it; looking again in %.0fs", log_id,
                        s.visibility_timeout_s)
            return "skipped"
        logger.info("job %s: claimed (%s/%s)", log_id, job.source.container, job.source.name)
        keeper = LeaseKeeper(self.queue, self.records, lease, job.job_id, interval=s.renew_every_s,
                             visibility=s.visibility_timeout_s, on_lost=lambda why: self._lease_lost(running))
        keeper.start()
        try:
            return self._run_job(job, running, log_id)
        except Exception as exc:
            if running.lost.is_set():
                logger.warning("job %s: lease lost; stopped (%s) without publishing, releasing or recording",
                               log_id, type(exc).__name__)
                return "lost"
            if isinstance(exc, PermanentJobError):
                self.records.update(job.job_id, state="failed", stage="failed", error=str(exc)[:4000],
                                    error_type=type(exc).__name__, finished_at=utc_now())
                self._poison(lease, f"{type(exc).__name__}: {exc}", job.job_id, type(exc).__name__)
                return "failed"  # a permanent error: the record says failed, the message is in poison
            return self._retry(job, lease, exc, log_id, shutdown=running.stop.is_set())
        finally:
            keeper.stop()  # after a release or poison the lease is marked lost, so a last renewal is a no-op

    def _lease_lost(self, running: _Running) -> None:
        running.lost.set()
        running.stop.set()  # the encode stops; _publish checks ``lost`` before anything becomes visible

    def _retry(self, job: TranscodeJob, lease: Lease, exc: Exception, log_id: str, *, shutdown: bool) -> Outcome:
        s = self.settings
        error = f"{type(exc).__name__}: {exc}"[:4000]
        if shutdown or isinstance(exc, EncodeInterrupted):
            self.queue.requeue(lease, 0)  # not a failure of the job: no delivery spent
            self.records.update(job.job_id, state="queued", stage="released", error=error, progress=0.0)
            logger.warning("job %s: stopped by shutdown; message visible again at once", log_id)
            return "released"
        if lease.dequeue_count >= s.max_dequeue:
            reason = f"failed on delivery {lease.dequeue_count} of {s.max_dequeue}: {error}"
            self.records.update(job.job_id, state="poisoned", stage="poisoned", error=reason, finished_at=utc_now())
            return self._poison(lease, reason, job.job_id, "too-many-deliveries")
        delay = backoff_delay(lease.dequeue_count, s.backoff_base_s, s.backoff_max_s)
        self.queue.release(lease, delay)
        self.records.update(job.job_id, state="queued", stage="retry-wait", error=error, progress=0.0,
                            retry_in_s=round(delay, 1))
        self.metrics.retries.inc()
        logger.info("job %s: %s; retrying in %.0fs", log_id, error.splitlines()[0], delay)
        return "retried"

    def _scratch(self, job: TranscodeJob) -> Path:
        """A work folder for the job, once its space is reserved: 3 x the source (the source, the package and
        headroom; the engine checks the package's own estimate before encoding) plus ``min_free_bytes``, against
        the disk's free space and the scratch volume's own limit, less what the jobs already running here have
        reserved (they have not written it all yet)."""
        s = self.settings
        root = s.scratch_dir or Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True)
        size = 3 * job.source.size
        need = size + s.min_free_bytes
        with self._lock:
            reserved = sum(self._reserved.values())
            free = shutil.disk_usage(root).free - reserved
            where = f"{root} has {_size(free)} free"
            if s.scratch_limit_bytes is not None and s.scratch_limit_bytes - reserved < free:
                free = s.scratch_limit_bytes - reserved
                where = (f"the scratch volume's limit (WORKER_SCRATCH_LIMIT {s.scratch_limit}) leaves "
                         f"{_size(free)}")
            if free < need:
                raise ScratchFull(f"{where} with {_size(reserved)} reserved by running jobs; this job needs "
                                  f"{_size(need)} (3 x the {_size(job.source.size)} source + WORKER_MIN_FREE_BYTES)")
            self._reserved[job.job_id] = size
        return Path(tempfile.mkdtemp(prefix=f"job-{job.job_id[:12]}-", dir=root))

    def _unreserve(self, job_id: str) -> None:
        with self._lock:
            self._reserved.pop(job_id, None)

    def _publish(self, job: TranscodeJob, running: _Running, manifest: dict[str, Any], package: Path,
                 log_id: str) -> str | None:
        """Upload the package under a folder of this attempt's own, then create the manifest (never overwrite it)
        pointing at that folder. ``None`` when another attempt's manifest was there first (this attempt's folder is
        then removed). A lost lease stops here, before anything is visible under the manifest."""
        container, prefix = job.output.container, job.output.prefix
        attempt = f"a{running.lease.dequeue_count}-{uuid.uuid4().hex[:8]}"
        base = f"{prefix}{attempt}/"
        if running.lost.is_set():
            raise EncodeInterrupted("lease lost before upload")
        written = self.store.upload_package(package, container, base, skip=(MANIFEST_NAME,), stop=running.stop)
        published = attempt_manifest(manifest, attempt)
        # published beside the package: nothing that names the uploader's blob or its URL
        source_facts = job.source.model_dump(mode="json", include={"etag", "size", "content_type"})
        published["job"] = {"job_id": job.job_id, "source": source_facts,
                            "output": job.output.model_dump(mode="json"), "attempt": running.lease.dequeue_count,
                            "worker": self.records.worker_id, "files": len(written) + 1}
        if running.lost.is_set():
            self.store.delete_under(container, base)
            raise EncodeInterrupted("lease lost before the manifest")
        url = self.store.create_json(container, prefix + MANIFEST_NAME, published)
        if url is None:
            self.store.delete_under(container, base)
            return None
        removed = self.store.delete_under(container, prefix, keep=(base, prefix + MANIFEST_NAME))
        if removed:
            logger.info("job %s: removed %d files of earlier attempts", log_id, removed)
        manifest.update(published)
        return url

    def _run_job(self, job: TranscodeJob, running: _Running, log_id: str) -> Outcome:
        s = self.settings
        throttle = ProgressThrottle(s.progress_step, s.progress_interval_s)
        timings: dict[str, float] = {}

        def report(stage: str, percent: float) -> None:
            low, high = _STAGE_SPAN.get(stage, (0, 100))
            overall = round(low + (high - low) * min(100.0, max(0.0, percent)) / 100, 1)
            if throttle.due(stage, overall):
                try:
                    self.records.update(job.job_id, stage=stage, progress=overall)
                except StorageUnavailable as exc:
                    logger.debug("progress not recorded: %s", exc)

        check_file_size(job.source.size, s)  # refused before a byte is downloaded
        work = self._scratch(job)
        url: str | None = None
        try:
            t = time.monotonic()
            report("downloading", 0)
            source = work / "source"  # no extension from the blob name: ffmpeg must not pick a demuxer by it
            self.store.download(job.source.container, job.source.name, source, etag=job.source.etag,
                                stop=running.stop)
            timings["download"] = round(time.monotonic() - t, 3)
            self.metrics.stage.labels("download").observe(timings["download"])
            logger.info("job %s: downloaded %d bytes in %.1fs", log_id, source.stat().st_size, timings["download"])
            t = time.monotonic()
            manifest = self.transcoder(source, work / "package", profile=self.profile, settings=s,
                                       on_progress=lambda p: report(p.stage, p.percent), stop=running.stop)
            timings["transcode"] = round(time.monotonic() - t, 3)
            self.metrics.stage.labels("transcode").observe(timings["transcode"])
            if manifest.get("fallback_reason"):
                self.metrics.fallbacks.labels(str(manifest["fallback_reason"]).split(":")[0]).inc()
            report("uploading", 0)
            t = time.monotonic()
            url = self._publish(job, running, manifest, work / "package", log_id)
            timings["upload"] = round(time.monotonic() - t, 3)
            self.metrics.stage.labels("upload").observe(timings["upload"])
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self._unreserve(job.job_id)
        if url is None:  # another attempt published first: its package is the job's
            self.queue.complete(running.lease)
            logger.info("job %s: another attempt published first; this attempt's files removed", log_id)
            return "skipped"
        self.records.update(job.job_id, state="succeeded", stage="done", progress=100.0, error="",
                            manifest_url=url, encoder=manifest.get("encoder"),
                            fallback_reason=manifest.get("fallback_reason"), renditions=len(manifest["renditions"]),
                            timings={**timings, **manifest.get("timings", {})}, finished_at=utc_now())
        self.queue.complete(running.lease)
        total = sum(timings.values())
        logger.info("job %s: succeeded in %.1fs (%d renditions, %s) → %s", log_id, total,
                    len(manifest["renditions"]), manifest.get("encoder"), url)
        return "succeeded"

