"""One scenario at a time: start what it needs, run locust, wait for the jobs, count them.

* ``raw``: uploads to a container nothing watches: what the storage endpoint takes.
* ``ingest``: uploads to the uploads container. Locally, blob-created events are delivered to the real Function
  (``localdev.events`` + ``localdev.functions_host``) in this process while locust runs; against Azure, Event Grid and
  the deployed Function do it. Then: every blob has one record and one message? How long from upload to job?
* ``e2e`` (local stack only, ``loadtest.e2e``): a few real clips, transcoded by ``python -m worker run`` processes
  to a manifest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.accounting import (
    QueueJobs,
    account,
    job_records,
    latency_stats,
    list_uploaded,
    queue_jobs,
    read_uploads,
    submitted_epoch,
)
from loadtest.config import RunConfig, Scenario
from loadtest.gates import Gates
from loadtest.runner import LocustRun, run_locust
from loadtest.storage import Clients
from loadtest.target import Target
from localdev.events import BlobEventDelivery, receipt_key
from localdev.stack import LocalStack

__all__ = ["Names", "Options", "ScenarioResult", "Session", "parse_run_time", "upload_stats"]

logger = logging.getLogger(__name__)


def parse_run_time(text: str) -> float:
    """Locust's ``--run-time`` syntax (``90``, ``60s``, ``2m``, ``1h30m``) in seconds."""
    total, number = 0.0, ""
    for ch in text.strip().lower():
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in "hms" and number:
            total += float(number) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
        else:
            raise ValueError(f"{text!r} is not a run time such as 60s, 2m or 1h30m")
    return total + (float(number) if number else 0.0)


@dataclass(frozen=True)
class Names:
    uploads: str = "uploads"
    raw: str = "loadtest-raw"
    queue: str = "transcode-jobs"
    table: str = "jobs"


@dataclass(frozen=True)
class Options:
    users: int = 1000
    spawn_rate: float = 200
    run_time: str = "60s"
    wait: tuple[float, float] = (10.0, 18.0)
    uploads_per_user: int = 0  # 0: as many as the run time allows
    processes: int = 1
    drain_timeout: float = 120.0
    delivery_workers: int = 8
    check_queue: bool = True
    delete_messages: bool = False
    e2e_clips: int = 2
    e2e_workers: int = 1
    e2e_timeout: float = 300.0
    e2e_quality: str = "off"
    gates: Gates = field(default_factory=Gates)


@dataclass
class ScenarioResult:
    summary: dict[str, Any]  # what goes into the JSON summary
    uploads: list[dict[str, Any]] = field(default_factory=list)
    backlog: list[tuple[float, int]] = field(default_factory=list)  # (wall time, events listed not yet delivered)
    enqueued: list[tuple[float, float]] = field(default_factory=list)  # (wall time enqueued, upload-to-enqueue ms)


class _Sampler:
    """The delivery's backlog every half second, for the plot."""

    def __init__(self, delivery: BlobEventDelivery) -> None:
        self.samples: list[tuple[float, int]] = []
        self._delivery = delivery
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlog-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._delivery.pending))
            self._stop.wait(0.5)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def upload_stats(uploads: list[dict[str, Any]]) -> dict[str, Any]:
    if not uploads:
        return {"ok": 0, "per_s": 0.0, "window_s": 0.0, "latency_ms": latency_stats([])}
    first = min(float(u["started"]) for u in uploads)
    last = max(float(u["finished"]) for u in uploads)
    window = max(last - first, 1e-9)
    return {"ok": len(uploads), "per_s": len(uploads) / window, "window_s": window,
            "bytes": sum(int(u["size"]) for u in uploads),
            "latency_ms": latency_stats((float(u["finished"]) - float(u["started"])) * 1000 for u in uploads)}


class Session:
    def __init__(self, *, out: Path, target: Target, clients: Clients, names: Names, options: Options, run_id: str,
                 payload: Path, clip: Path | None = None, stack: LocalStack | None = None) -> None:
        self.out, self.target, self.clients, self.names = out, target, clients, names
        self.options, self.run_id, self.payload, self.clip, self.stack = options, run_id, payload, clip, stack

    def prefix(self, scenario: Scenario) -> str:
        return f"loadtest/{self.run_id}/{scenario}/"

    def run(self, scenario: Scenario) -> ScenarioResult:
        if scenario == "raw":
            return self._plain("raw", self.names.raw)
        if scenario == "ingest":
            return self._ingest_local() if self.stack is not None else self._ingest_remote()
        from loadtest.e2e import run_e2e

        return run_e2e(self)

    # -- locust ----------------------------------------------------------------------------------------------------

    def locust(self, scenario: Scenario, container: str, *, payload: Path, users: int, run_time: str,
                uploads_per_user: int = 0, wait: tuple[float, float] | None = None,
                target: Target | None = None) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        o = self.options
        log_stem = self.out / "uploads" / scenario
        for old in log_stem.parent.glob(log_stem.name + ".*.jsonl"):
            old.unlink()
        summary_path = self.out / f"{scenario}_uploads.json"
        summary_path.unlink(missing_ok=True)
        config = RunConfig(scenario=scenario, target=target or self.target, container=container,
                           prefix=self.prefix(scenario), payload=str(payload), uploads_log=str(log_stem),
                           summary_path=str(summary_path), gates=o.gates, wait=wait if wait is not None else o.wait,
                           uploads_per_user=uploads_per_user or o.uploads_per_user)
        run = LocustRun(users=users, spawn_rate=o.spawn_rate if scenario != "e2e" else users, run_time=run_time,
                        csv_prefix=self.out / scenario, html=self.out / f"{scenario}.html", processes=o.processes)
        logger.info("%s: %d users for %s", scenario, users, run_time)
        rc = run_locust(config, run, log_path=self.out / f"{scenario}_locust.log",
                        timeout=parse_run_time(run_time) + run.stop_timeout + 300)
        if summary_path.exists():
            stats: dict[str, Any] = json.loads(summary_path.read_text())
        else:
            stats = {"requests": 0, "failures": 0, "breaches": [f"locust exited with {rc} and wrote no summary; "
                                                                  f"see {scenario}_locust.log"]}
        stats["exit_code"] = rc
        uploads = read_uploads(log_stem)
        return rc, stats, uploads

    def _plain(self, scenario: Scenario, container: str) -> ScenarioResult:
        o = self.options
        _, stats, uploads = self.locust(scenario, container, payload=self.payload, users=o.users,
                                         run_time=o.run_time)
        blobs = list_uploaded(self.clients.blobs.get_container_client(container), self.prefix(scenario))
        missing = sum(1 for u in uploads if blobs.get(u["name"], "").strip('"') != str(u["etag"]).strip('"'))
        summary = {"container": container, "uploads": stats, "throughput": upload_stats(uploads),
                   "blobs": len(blobs), "missing_blobs": missing}
        if missing:
            stats.setdefault("breaches", []).append(f"{missing} uploaded blob(s) not found in {container}")
        if self.stack is not None:
            # Azurite looks a blob up by scanning every blob of the account: what this scenario stored would slow
            # the next one down. Removing it gives every scenario the same empty store to start from.
            self.clients.blobs.delete_container(container)
            time.sleep(2)
        return ScenarioResult(summary, uploads)

    # -- ingest ----------------------------------------------------------------------------------------------------

    def _ingest_local(self) -> ScenarioResult:
        assert self.stack is not None
        o, uploads_container = self.options, self.names.uploads
        delivery = self.stack.start_events(workers=o.delivery_workers)
        try:
            with _Sampler(delivery) as sampler:
                _, stats, uploads = self.locust("ingest", uploads_container, payload=self.payload, users=o.users,
                                                 run_time=o.run_time)
                blobs = list_uploaded(self.clients.blobs.get_container_client(uploads_container),
                                      self.prefix("ingest"))
                keys = {receipt_key(name, etag) for name, etag in blobs.items()}
                deadline = time.monotonic() + o.drain_timeout
                while time.monotonic() < deadline and not keys <= delivery.stats.delivered_at.keys():
                    time.sleep(0.1)
                delivered_at = dict(delivery.stats.delivered_at)
        finally:
            self.stack.delivery = None
            delivery.stop()  # writes the last receipts
        pending = sum(1 for k in keys if k not in delivered_at)
        offset = time.time() - time.monotonic()
        last_upload = max((float(u["finished_mono"]) for u in uploads), default=0.0)
        drain = max(0.0, max((delivered_at[k] for k in keys if k in delivered_at), default=last_upload) - last_upload)
        enqueued = []
        for u in uploads:
            at = delivered_at.get(receipt_key(u["name"], u["etag"]))
            if at is not None:
                enqueued.append((at + offset, (at - float(u["finished_mono"])) * 1000))
        result = self._account("ingest", uploads_container, stats, uploads, blobs)
        result.summary.update({
            "event_delivery": {"delivered": delivery.stats.delivered, "failed_attempts": delivery.stats.failed_attempts,
                               "dead_lettered": delivery.stats.dead_lettered, "listings": delivery.stats.listings,
                               "listing_seconds": round(delivery.stats.listing_seconds, 2),
                               "workers": o.delivery_workers},
            "enqueue_latency_ms": latency_stats(ms for _, ms in enqueued),
            "enqueue_latency_source": "event delivery: the Function returned and its message was sent",
            "drain_s": None if pending else drain,
            "pending_at_end": pending,
        })
        result.backlog, result.enqueued = sampler.samples, enqueued
        return result

    def _ingest_remote(self) -> ScenarioResult:
        o, uploads_container = self.options, self.names.uploads
        _, stats, uploads = self.locust("ingest", uploads_container, payload=self.payload, users=o.users,
                                         run_time=o.run_time)
        blobs = list_uploaded(self.clients.blobs.get_container_client(uploads_container), self.prefix("ingest"))
        table = self.clients.table(self.names.table)
        deadline = time.monotonic() + o.drain_timeout
        while True:
            records = job_records(table, uploads_container, self.prefix("ingest"))
            if len(records["job"]) + len(records["rejected"]) >= len(blobs) or time.monotonic() > deadline:
                break
            time.sleep(2)
        pending = max(0, len(blobs) - len(records["job"]) - len(records["rejected"]))
        finished = {str(u["name"]): float(u["finished"]) for u in uploads}
        submitted = [(submitted_epoch(str(r["submitted_at"])), str(r["source_name"])) for r in records["job"]]
        enqueued = [(at, (at - finished[name]) * 1000) for at, name in submitted if name in finished]
        last_upload = max(finished.values(), default=0.0)
        drain = max(0.0, max((at for at, _ in submitted), default=last_upload) - last_upload)
        result = self._account("ingest", uploads_container, stats, uploads, blobs, records)
        result.summary.update({
            "enqueue_latency_ms": latency_stats(ms for _, ms in enqueued),
            "enqueue_latency_source": "job record submitted_at (the Function's clock) minus upload completion",
            "drain_s": None if pending else drain,
            "pending_at_end": pending,
        })
        result.enqueued = enqueued
        return result

    def _account(self, scenario: Scenario, container: str, stats: dict[str, Any], uploads: list[dict[str, Any]],
                 blobs: dict[str, str], records: dict[str, list[dict[str, Any]]] | None = None,
                 check_queue: bool | None = None) -> ScenarioResult:
        prefix = self.prefix(scenario)
        if records is None:
            records = job_records(self.clients.table(self.names.table), container, prefix)
        messages: QueueJobs | None = None
        if self.options.check_queue if check_queue is None else check_queue:
            messages = queue_jobs(self.clients.jobs_queue(self.names.queue), container, prefix,
                                  delete=self.options.delete_messages)
        acc = account(container, blobs, uploads, records, messages)
        finished = {str(u["name"]): float(u["finished"]) for u in uploads}
        record_ms = [(submitted_epoch(str(r["submitted_at"])) - finished[str(r["source_name"])]) * 1000
                     for r in records["job"] if str(r["source_name"]) in finished]
        summary = {"container": container, "uploads": stats, "throughput": upload_stats(uploads),
                   "accounting": acc.as_dict(), "queue_checked": messages is not None,
                   "record_latency_ms": latency_stats(record_ms)}
        return ScenarioResult(summary, uploads)
