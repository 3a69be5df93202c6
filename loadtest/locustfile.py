"""Locust users that upload videos to Blob Storage, one new blob per upload, and a pass/fail on exit.

Run through ``python -m loadtest`` (which starts the stack, passes the settings in ``LOADTEST_RUN`` and does the
accounting), or alone against a stack you started::

    LOADTEST_RUN='{"scenario": "raw", ...}' locust -f loadtest/locustfile.py --headless -u 100 -t 30s RawUploadUser

The user classes differ only in where they upload: ``RawUploadUser`` to a container nothing watches (what the
storage endpoint takes), ``IngestUploadUser`` to the uploads container whose blob-created events become jobs, and
``E2EUploadUser`` to the same container with real clips, a few uploads per user, for a worker to transcode.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import User, events, task
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtest.client import BlobUploadClient, Uploaded
from loadtest.config import RunConfig
from loadtest.gates import upload_breaches

__all__ = ["BlobUploadUser", "E2EUploadUser", "IngestUploadUser", "RawUploadUser"]

_state: dict[str, Any] = {}
_user_ids = itertools.count(1)


def _config() -> RunConfig:
    config = _state.get("config")
    if config is None:
        config = _state["config"] = RunConfig.from_json(os.environ["LOADTEST_RUN"])
        _state["payload"] = Path(config.payload).read_bytes()
        _state["uploads"] = []
    assert isinstance(config, RunConfig)
    return config


class _TokenCache:
    """A bearer token for Storage from ``DefaultAzureCredential``, renewed five minutes before it expires."""

    def __init__(self) -> None:
        from azure.identity import DefaultAzureCredential

        self._credential = DefaultAzureCredential()
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if time.time() > self._expires - 300:
                token = self._credential.get_token("https://storage.azure.com/.default")
                self._token, self._expires = token.token, float(token.expires_on)
            return self._token


class BlobUploadUser(User):
    """Uploads the payload again and again under a new name each time (each upload is a new blob, so a new job)."""

    abstract = True

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        config = _config()
        self.user_id = next(_user_ids)
        self.uploads = 0
        token = None
        if config.target.auth == "token":
            token = _state.setdefault("token", _TokenCache())
        self.client = BlobUploadClient(config.target, environment.events.request.fire, token=token,
                                       timeout=config.request_timeout)

    def wait_time(self) -> float:
        low, high = _config().wait
        return random.uniform(low, high) if high > 0 else 0.0

    def on_start(self) -> None:
        high = _config().wait[1]
        if high > 0:  # users arrive over the spawn period and then think before their first upload too
            gevent.sleep(random.uniform(0, high))

    def on_stop(self) -> None:
        self.client.close()

    @task
    def upload(self) -> None:
        config = _config()
        if 0 < config.uploads_per_user <= self.uploads:
            # done: idle until the run ends. A stopped user (StopUser) is replaced by a new one to keep the user
            # count, which made `-u 9 --uploads-per-user 1` upload 45 times in 5 s.
            gevent.sleep(3600)
            return
        self.uploads += 1
        name = f"{config.prefix}p{os.getpid()}-u{self.user_id:04d}-{self.uploads:06d}{config.extension}"
        result = self.client.upload(config.container, name, _state["payload"], config.content_type)
        if result is not None:
            _state["uploads"].append(result)


class RawUploadUser(BlobUploadUser):
    """Scenario ``raw``: uploads only, to a container with no events behind it."""


class IngestUploadUser(BlobUploadUser):
    """Scenario ``ingest``: uploads to the watched container; each one becomes a job."""


class E2EUploadUser(BlobUploadUser):
    """Scenario ``e2e``: a few real clips each, carried to a manifest by a worker."""


def _on_quitting(environment: Environment, **_: object) -> None:
    config = _config()
    uploads: list[Uploaded] = _state["uploads"]
    out = Path(config.uploads_log).with_suffix(f".{os.getpid()}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for u in uploads:
            fh.write(json.dumps(u.as_dict()) + "\n")
    if isinstance(environment.runner, WorkerRunner):
        return  # the master holds the aggregated stats and decides
    total = environment.stats.total
    summary = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "fail_ratio": total.fail_ratio,
        "rps": total.total_rps,
        "p50_ms": total.get_response_time_percentile(0.5),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "max_ms": total.max_response_time,
        "first_request": total.start_time,
        "last_request": total.last_request_timestamp,
        "errors": [{"error": e.error, "occurrences": e.occurrences} for e in environment.stats.errors.values()],
    }
    breaches = upload_breaches(summary, config.gates)
    summary["breaches"] = breaches
    Path(config.summary_path).write_text(json.dumps(summary, indent=2))
    if breaches:
        environment.process_exit_code = 1


events.quitting.add_listener(_on_quitting)  # type: ignore[no-untyped-call]
