"""``/healthz``, ``/readyz`` and ``/metrics`` on a small threaded HTTP server in a daemon thread.

``/healthz`` is liveness: the main loop has ticked recently. ``/readyz`` is readiness: storage answered at start-up and
the worker is not draining. Both return JSON with the reason.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["HealthServer", "HealthState"]

logger = logging.getLogger(__name__)


REQUEST_TIMEOUT_S = 10.0
"""Socket timeout of one health or metrics request."""


class HealthState:
    def __init__(self, *, stale_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.stale_after_s = stale_after_s
        self._tick = clock()
        self.ready = False
        self.draining = False
        self.reason = "starting"

    def tick(self) -> None:
        self._tick = self._clock()

    def live(self) -> tuple[bool, str]:
        age = self._clock() - self._tick
        if age > self.stale_after_s:
            return False, f"main loop has not ticked for {age:.0f}s"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        if self.draining:
            return False, "draining"
        return (True, "ok") if self.ready else (False, self.reason)


class HealthServer:
    def __init__(self, host: str, port: int, state: HealthState, metrics: Callable[[], bytes]) -> None:
        handler = _handler(state, metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        logger.info("health and metrics on port %d", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(state: HealthState, metrics: Callable[[], bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "transcoder"  # no Python or library versions in the Server header
        sys_version = ""
        timeout = REQUEST_TIMEOUT_S  # a client that connects and sends nothing is dropped, not waited for

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics(), "text/plain; version=0.0.4; charset=utf-8")
            elif path in ("/healthz", "/readyz"):
                ok, reason = state.live() if path == "/healthz" else state.readiness()
                body = json.dumps({"status": "ok" if ok else "fail", "reason": reason}).encode()
                self._send(200 if ok else 503, body, "application/json")
            else:
                self._send(404, b'{"status":"not found"}', "application/json")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server API
            return

    return Handler
