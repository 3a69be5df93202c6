"""The whole system on one machine: Azurite, its containers, queues and tables, blob-created events delivered to the
Function handler, worker processes (``python -m worker run``) configured as they would be on AKS, and on request the
Function app's HTTP API with the dashboard (``localdev.api_host``)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient, CorsRule
from azure.storage.queue import QueueServiceClient

from localdev.api_host import DIST, ApiHost
from localdev.azurite import Azurite
from localdev.events import BlobEventDelivery
from localdev.functions_host import FunctionHost

__all__ = ["LocalStack", "StackNames"]

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackNames:
    uploads: str = "uploads"
    outputs: str = "outputs"
    queue: str = "transcode-jobs"
    table: str = "jobs"
    receipts: str = "eventreceipts"

    @property
    def poison(self) -> str:
        return f"{self.queue}-poison"


@dataclass
class LocalStack:
    root: Path
    names: StackNames = field(default_factory=StackNames)
    azurite: Azurite | None = None
    delivery: BlobEventDelivery | None = None
    host: FunctionHost | None = None
    api: ApiHost | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def connection_string(self) -> str:
        assert self.azurite is not None, "start() first"
        return self.azurite.connection_string

    def start_storage(self) -> LocalStack:
        self.root.mkdir(parents=True, exist_ok=True)
        self.azurite = self.azurite or Azurite(self.root / "azurite")
        if not self.azurite.running:
            self.azurite.start()
        self.create_resources()
        return self

    def create_resources(self) -> None:
        conn, n = self.connection_string, self.names
        blobs = BlobServiceClient.from_connection_string(conn)
        queues = QueueServiceClient.from_connection_string(conn)
        creators: list[tuple[Callable[[str], object], str]] = [
            (blobs.create_container, n.uploads), (blobs.create_container, n.outputs),
            (queues.create_queue, n.queue), (queues.create_queue, n.poison)]
        for create, name in creators:
            with contextlib.suppress(ResourceExistsError):
                create(name)
        tables = TableServiceClient.from_connection_string(conn)
        for table in (n.table, n.receipts):
            tables.create_table_if_not_exists(table)

    def function_settings(self) -> dict[str, str]:
        n = self.names
        return {"UPLOADS_CONTAINER": n.uploads, "OUTPUTS_CONTAINER": n.outputs, "JOBS_QUEUE": n.queue,
                "JOBS_TABLE": n.table}

    def start_events(self, *, interval: float = 0.25, workers: int = 8) -> BlobEventDelivery:
        conn = self.connection_string
        self.host = FunctionHost(conn, self.function_settings())
        container = BlobServiceClient.from_connection_string(conn).get_container_client(self.names.uploads)
        receipts = TableServiceClient.from_connection_string(conn).get_table_client(self.names.receipts)
        self.delivery = BlobEventDelivery(container, receipts, self.host.deliver, interval=interval,
                                          workers=workers).start()
        return self.delivery

    def start_api(self, *, token: str, port: int = 0, prometheus_url: str | None = None,
                  static_dir: Path | None = DIST) -> ApiHost:
        """The dashboard API on loopback: ``token`` is its ``DASHBOARD_TOKEN``; no principal header is trusted;
        CORS allows the host's own origin; packages play from its ``/playback/``; ``/api/fleet`` answers 503 unless
        ``prometheus_url`` is given."""
        settings: dict[str, str | None] = {
            "TranscodeStorage": self.connection_string, **self.function_settings(), "POISON_QUEUE": self.names.poison,
            "DASHBOARD_TOKEN": token, "DASHBOARD_TRUST_EASY_AUTH": "false",
            "PROMETHEUS_URL": prometheus_url, "PROMETHEUS_AUTH": "none"}
        outputs = BlobServiceClient.from_connection_string(self.connection_string).get_container_client(
            self.names.outputs)
        # PLAYBACK_BASE_URL: the host's /playback/, which serves the outputs container as Front Door does on Azure
        self.api = ApiHost(settings, port=port, static_dir=static_dir, playback=outputs).start()
        # the browser PUTs an upload straight to the blob endpoint, another origin: the account must allow it (on
        # Azure the media account's CORS rule does, infra/modules/storage-media.bicep)
        BlobServiceClient.from_connection_string(self.connection_string).set_service_properties(cors=[CorsRule(
            [self.api.url], ["PUT", "OPTIONS"], allowed_headers=["content-type", "x-ms-*"],
            exposed_headers=["x-ms-request-id", "etag"], max_age_in_seconds=600)])
        return self.api

    def start(self) -> LocalStack:
        self.start_storage()
        self.start_events()
        return self

    def worker_env(self, **overrides: str) -> dict[str, str]:
        n = self.names
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKER_")}
        env.update({"WORKER_STORAGE_CONNECTION_STRING": self.connection_string, "WORKER_JOBS_QUEUE": n.queue,
                    "WORKER_JOBS_TABLE": n.table, "WORKER_OUTPUTS_CONTAINER": n.outputs,
                    "WORKER_UPLOADS_CONTAINER": n.uploads,
                    "WORKER_SCRATCH_DIR": str(self.root / "scratch"), "WORKER_MIN_FREE_BYTES": str(100 * 1024**2),
                    "WORKER_HTTP_PORT": "0", "PYTHONUNBUFFERED": "1"})
        env.update(overrides)
        return env

    def start_worker(self, log_path: Path | None = None, **overrides: str) -> subprocess.Popen[bytes]:
        """A real ``python -m worker run`` process; its log goes to ``log_path``."""
        log_path = log_path or self.root / f"worker-{len(self.workers) + 1}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "worker", "run"], env=self.worker_env(**overrides),
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.workers.append(proc)
        return proc

    def stop_workers(self, timeout: float = 120) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.workers.clear()

    def stop(self) -> None:
        self.stop_workers()
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.delivery is not None:
            self.delivery.stop()
            self.delivery = None
        if self.azurite is not None:
            self.azurite.stop()
