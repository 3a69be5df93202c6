"""Helpers for the service tests: upload, enqueue as the Function would, run a worker, read back what happened."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from functions_app.jobs import build_job, encode_job, job_id_for
from localdev.stack import LocalStack
from worker.app import create_worker, ensure_resources
from worker.service import Worker
from worker.settings import ServiceSettings


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def upload(stack: LocalStack, path: Path | bytes, name: str, content_type: str = "video/mp4") -> dict[str, Any]:
    blob = BlobServiceClient.from_connection_string(stack.connection_string).get_blob_client(stack.names.uploads,
                                                                                            name)
    data = path if isinstance(path, bytes) else path.read_bytes()
    props = blob.upload_blob(data, overwrite=True, content_settings=ContentSettings(content_type=content_type))
    return {"name": name, "etag": str(props["etag"]), "size": len(data), "url": blob.url,
            "content_type": content_type, "job_id": job_id_for(stack.names.uploads, name, str(props["etag"]))}


def job_message(stack: LocalStack, blob: dict[str, Any]) -> str:
    """The job text the Function builds for this blob (before the binding's base64)."""
    job = build_job(container=stack.names.uploads, name=blob["name"], url=blob["url"], etag=blob["etag"],
                    size=blob["size"], content_type=blob["content_type"], submitted_at=datetime.now(UTC),
                    output_container=stack.names.outputs)
    return encode_job(job)


def queue(stack: LocalStack, poison: bool = False, encode: bool = True) -> QueueClient:
    name = stack.names.poison if poison else stack.names.queue
    policy = {"message_encode_policy": TextBase64EncodePolicy()} if encode else {}
    return QueueClient.from_connection_string(stack.connection_string, name, **policy)


def send_job(stack: LocalStack, path: Path | bytes, name: str) -> str:
    blob = upload(stack, path, name)
    queue(stack).send_message(job_message(stack, blob))
    return str(blob["job_id"])


def send_raw(stack: LocalStack, text: str) -> None:
    """A message body exactly as given (no base64 added)."""
    queue(stack, encode=False).send_message(text)


def table(stack: LocalStack) -> TableClient:
    return TableClient.from_connection_string(stack.connection_string, stack.names.table)


def record(stack: LocalStack, job_id: str, partition: str = "job") -> dict[str, Any] | None:
    try:
        return dict(table(stack).get_entity(partition, job_id))
    except Exception:
        return None


def poisoned(stack: LocalStack) -> list[dict[str, Any]]:
    """Poison envelopes, read without removing them."""
    msgs = queue(stack, poison=True).peek_messages(max_messages=32)
    return [json.loads(m.content) for m in msgs]


def queue_depth(stack: LocalStack) -> int:
    return int(queue(stack).get_queue_properties().approximate_message_count or 0)


def output_names(stack: LocalStack, prefix: str = "") -> list[str]:
    container = BlobServiceClient.from_connection_string(stack.connection_string).get_container_client(
        stack.names.outputs)
    return sorted(b.name for b in container.list_blobs(name_starts_with=prefix))


def read_output_json(stack: LocalStack, name: str) -> dict[str, Any]:
    blob = BlobServiceClient.from_connection_string(stack.connection_string).get_blob_client(stack.names.outputs,
                                                                                            name)
    loaded: dict[str, Any] = json.loads(blob.download_blob().readall())
    return loaded


def service_settings(stack: LocalStack, profile: Path, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "storage_connection_string": stack.connection_string, "jobs_queue": stack.names.queue,
        "jobs_table": stack.names.table, "outputs_container": stack.names.outputs,
        "uploads_container": stack.names.uploads, "encoder": "cpu",
        "quality_policy": "off", "http_port": 0, "poll_interval_s": 0.1, "poll_max_interval_s": 0.3,
        "backoff_base_s": 0, "scratch_dir": stack.root / "scratch", "min_free_bytes": 0, "profile": profile,
        "visibility_timeout_s": 30, "drain_seconds": 30,
    }
    values.update(overrides)
    return ServiceSettings(**values)


def worker_env(stack: LocalStack, profile: Path, **overrides: str) -> dict[str, str]:
    """Environment of a real ``python -m worker run`` process with the same settings as ``service_settings``."""
    values = {"WORKER_ENCODER": "cpu", "WORKER_QUALITY_POLICY": "off", "WORKER_POLL_INTERVAL_S": "0.1",
              "WORKER_POLL_MAX_INTERVAL_S": "0.3", "WORKER_BACKOFF_BASE_S": "0", "WORKER_MIN_FREE_BYTES": "0",
              "WORKER_PROFILE": str(profile)}
    values.update(overrides)
    return values


class InProcessWorker:
    """A ``Worker`` running in a thread; ``stop()`` drains it."""

    def __init__(self, settings: ServiceSettings, **kwargs: Any) -> None:
        self.worker: Worker = create_worker(settings, gpu=False, **kwargs)
        ensure_resources(self.worker)
        self.code: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.code = self.worker.run()

    def __enter__(self) -> InProcessWorker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 60) -> int | None:
        self.worker.drain()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "worker did not stop"
        return self.code

    def join(self, timeout: float) -> int | None:
        self._thread.join(timeout)
        return self.code


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
