"""Assembles the service from settings: clients, queue, store, records, metrics, health and the job slots."""

from __future__ import annotations

import logging
from typing import Any

from worker.clients import make_clients
from worker.gpu import scan_gpus
from worker.health import HealthServer, HealthState
from worker.ladder import DEFAULT_PROFILE, Profile, load_profile
from worker.metrics import Metrics
from worker.queue import JobQueue
from worker.records import JobRecords
from worker.service import Transcoder, Worker, job_slots, worker_name
from worker.settings import ServiceSettings
from worker.storage import BlobStore

__all__ = ["create_worker", "ensure_resources", "start_health"]

logger = logging.getLogger(__name__)


def create_worker(settings: ServiceSettings, *, transcoder: Transcoder | None = None, credential: Any = None,
                  gpu: bool = True) -> Worker:
    clients = make_clients(settings, credential)
    profile: Profile = load_profile(settings.profile) if settings.profile else DEFAULT_PROFILE
    scan = scan_gpus() if gpu and settings.encoder != "cpu" else None
    slots = job_slots(settings.concurrency, len(profile.rungs), scan)
    if slots < settings.concurrency:
        logger.info("job slots bounded to %d by NVENC sessions (%d rungs per job)", slots, len(profile.rungs))
    extra: dict[str, Any] = {"transcoder": transcoder} if transcoder is not None else {}
    return Worker(
        settings,
        queue=JobQueue(clients.queue, clients.poison),
        store=BlobStore(clients.blobs, upload_concurrency=settings.upload_concurrency,
                        download_concurrency=settings.download_concurrency),
        records=JobRecords(clients.table, settings.worker_id or worker_name()),
        profile=profile,
        metrics=Metrics(scan_gpus if gpu else None),
        health=HealthState(stale_after_s=max(60.0, 3 * settings.poll_max_interval_s)),
        slots=slots,
        **extra,
    )


def ensure_resources(worker: Worker) -> None:
    """Create the queues, the table and the outputs container (local stacks and tests; production has them)."""
    worker.queue.ensure()
    worker.records.ensure()
    worker.store.ensure_container(worker.settings.outputs_container)


def start_health(worker: Worker) -> HealthServer | None:
    if not worker.settings.http_port:
        return None
    server = HealthServer(worker.settings.http_host, worker.settings.http_port, worker.health, worker.metrics.render)
    server.start()
    return server
