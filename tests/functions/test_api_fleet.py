"""``GET /api/fleet`` against a tiny Prometheus stand-in that answers canned instant-query JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from functions_app.fleet import Prometheus, fleet_queries, fleet_summary
from functions_app.web import Unavailable

from .api_support import ApiEnv

SEL = 'service=~"transcoder-.*"'
Q = fleet_queries(SEL)


def vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [1764000000.0, v]} for m, v in series]}}


W1 = {"instance": "10.0.0.1:8080", "service": "transcoder-blue"}
W2 = {"instance": "10.0.0.2:8080", "service": "transcoder-blue"}
GPU_FLEET = {
    Q["up"]: vector(({**W1, "job": "transcoder"}, "1"), ({**W2, "job": "transcoder"}, "0")),
    Q["inprogress"]: vector((W1, "2")),
    Q["slots"]: vector((W1, "3")),
    Q["draining"]: vector((W1, "0")),
    Q["gpu_utilization"]: vector(({}, "0.625")),
    Q["encoder_utilization"]: vector(({}, "0.5")),
    Q["nvenc_sessions"]: vector(({}, "6")),
    Q["queue_depth"]: vector(({}, "17")),
    Q["fallbacks"]: vector(({"reason": "nvenc-unavailable"}, "2.0000001")),
    Q["jobs"]: vector(({"outcome": "succeeded"}, "41.9"), ({"outcome": "failed"}, "1"),
                      ({"outcome": "retried"}, "0")),
}


class FakePrometheus:
    def __init__(self, answers: dict[str, Any], status: int = 200) -> None:
        self.answers, self.status = answers, status
        self.seen: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                expr = parse_qs(split.query)["query"][0]
                fake.seen.append((expr, self.headers.get("Authorization")))
                body = json.dumps(fake.answers.get(expr, vector()) if split.path == "/api/v1/query"
                                  else {"status": "error"}).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus(GPU_FLEET)
    yield fake
    fake.close()


def test_fleet_summary_from_the_workers_series(prometheus: FakePrometheus) -> None:
    summary = fleet_summary(Prometheus(prometheus.url, token=lambda: "tok"), SEL)
    assert summary == {
        "workers": [
            {"instance": "10.0.0.1:8080", "service": "transcoder-blue", "up": True, "jobs_inprogress": 2, "slots": 3,
             "draining": False},
            {"instance": "10.0.0.2:8080", "service": "transcoder-blue", "up": False, "jobs_inprogress": None,
             "slots": None, "draining": None}],
        "gpu_utilization": 0.625, "encoder_utilization": 0.5, "nvenc_sessions": 6,
        "fallbacks": {"nvenc-unavailable": 2}, "queue_depth": 17,
        "jobs_last_hour": {"succeeded": 42, "failed": 1, "retried": 0}}
    assert {expr for expr, _ in prometheus.seen} == set(Q.values())
    assert {auth for _, auth in prometheus.seen} == {"Bearer tok"}


def test_the_queries_use_the_worker_metric_names() -> None:
    """The names the worker exports (prometheus_client adds ``_total`` to counters)."""
    from prometheus_client import generate_latest

    from worker.metrics import Metrics

    metrics = Metrics(gpu_scan=None)
    metrics.fallbacks.labels("nvenc-unavailable").inc()
    exported = generate_latest(metrics.registry).decode()
    names = {"transcoder_jobs_inprogress", "transcoder_job_slots", "transcoder_draining", "transcoder_queue_depth",
             "transcoder_encoder_fallbacks_total", "transcoder_jobs_total"}
    for name in names:
        assert f"\n{name}" in exported or exported.startswith(name), name
        assert any(name + "{" in q for q in Q.values()), name
    from worker import metrics as module

    source = Path(module.__file__).read_text()
    for gauge in ("transcoder_gpu_utilization_ratio", "transcoder_gpu_encoder_utilization_ratio",
                  "transcoder_gpu_encoder_sessions"):
        assert f'"{gauge}"' in source and any(gauge + "{" in q for q in Q.values()), gauge


def test_no_gpu_series_gives_nulls(prometheus: FakePrometheus) -> None:
    prometheus.answers = {Q["up"]: GPU_FLEET[Q["up"]]}
    summary = fleet_summary(Prometheus(prometheus.url), SEL)
    assert summary["gpu_utilization"] is None and summary["encoder_utilization"] is None
    assert summary["nvenc_sessions"] is None and summary["queue_depth"] is None
    assert summary["fallbacks"] == {} and summary["jobs_last_hour"] == {}
    assert {a for _, a in prometheus.seen} == {None}  # PROMETHEUS_AUTH=none: no header


@pytest.mark.azurite
def test_fleet_route_and_its_503s(api: ApiEnv, prometheus: FakePrometheus) -> None:
    status, body, _ = api.http("GET", "/api/fleet", headers=api.auth())
    assert status == 503 and "PROMETHEUS_URL" in body["error"]

    api.clients = replace(api.clients, prometheus=Prometheus(prometheus.url))
    status, body, _ = api.http("GET", "/api/fleet", headers=api.auth())
    assert status == 200 and body["queue_depth"] == 17 and len(body["workers"]) == 2

    prometheus.status = 500
    status, body, _ = api.http("GET", "/api/fleet", headers=api.auth())
    assert status == 503 and "500" in body["error"]
    prometheus.status = 200
    prometheus.answers = {Q["up"]: {"status": "error", "error": "parse error"}}
    status, body, _ = api.http("GET", "/api/fleet", headers=api.auth())
    assert status == 503 and "parse error" in body["error"]

    url = prometheus.url
    prometheus.close()
    api.clients = replace(api.clients, prometheus=Prometheus(url, timeout=2))
    status, body, _ = api.http("GET", "/api/fleet", headers=api.auth())
    assert status == 503 and "not reachable" in body["error"]


def test_a_failing_token_is_unavailable(prometheus: FakePrometheus) -> None:
    def no_token() -> str:
        raise RuntimeError("ManagedIdentityCredential: no identity endpoint")

    with pytest.raises(Unavailable, match="no token for Prometheus"):
        Prometheus(prometheus.url, token=no_token).query("up")
