"""The health and metrics server on loopback: a silent client is dropped after the socket timeout, and never holds
up the probes."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from worker import health


def test_a_silent_client_is_dropped_and_probes_still_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "REQUEST_TIMEOUT_S", 0.5, raising=False)
    state = health.HealthState(stale_after_s=60)
    state.ready, state.reason = True, "ok"
    server = health.HealthServer("127.0.0.1", 0, state, lambda: b"metric 1\n")
    server.start()
    try:
        silent = socket.create_connection(("127.0.0.1", server.port))
        silent.settimeout(5)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2) as response:
            assert response.status == 200
        started = time.monotonic()
        assert silent.recv(1024) == b""  # the server closed it: it sent nothing within the request timeout
        assert time.monotonic() - started < 3
        silent.close()
    finally:
        server.stop()
