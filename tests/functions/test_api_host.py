"""The local API host over real HTTP on loopback: the app's own routes, the token, CORS, and the dashboard's files."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localdev.api_host import ApiHost, Route
from localdev.stack import LocalStack, StackNames

from .api_support import fetch

pytestmark = pytest.mark.azurite

TOKEN = "local-token-" + "x" * 20


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><div id=root></div>")
    (folder / "assets" / "app.js").write_text("console.log('dashboard')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return folder


@pytest.fixture
def stack(azurite: Any, tmp_path: Path, dist: Path, restore_environ: None) -> Iterator[LocalStack]:
    """``LocalStack.start_api`` on the session's Azurite, with names of its own."""
    tag = uuid.uuid4().hex[:8]
    names = StackNames(uploads=f"up-{tag}", outputs=f"out-{tag}", queue=f"jobs-{tag}", table=f"jobs{tag}")
    stack = LocalStack(tmp_path / "stack", names=names, azurite=azurite)
    stack.start_storage()
    stack.start_api(token=TOKEN, static_dir=dist)
    try:
        yield stack
    finally:
        assert stack.api is not None
        stack.api.stop()


def get(host: ApiHost, path: str, **headers: str) -> tuple[int, Any]:
    status, body = fetch(f"{host.url}{path}", headers=headers)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def test_api_over_http(stack: LocalStack) -> None:
    host = stack.api
    assert host is not None and host.url.startswith("http://127.0.0.1:")
    assert get(host, "/api/jobs", Authorization=f"Bearer {TOKEN}") == (200, {"items": [], "next": None})
    status, body = get(host, "/api/jobs")
    assert status == 401 and "Bearer" in body["error"]
    status, body = get(host, "/api/jobs?limit=999", Authorization=f"Bearer {TOKEN}")
    assert status == 400 and "limit" in body["error"]
    assert get(host, "/api/poison", Authorization=f"Bearer {TOKEN}") == (200, {"items": []})
    status, body = get(host, "/api/fleet", Authorization=f"Bearer {TOKEN}")
    assert status == 503 and "PROMETHEUS_URL" in body["error"]
    status, body = get(host, "/api/nothing/here", Authorization=f"Bearer {TOKEN}")
    assert status == 404 and body["error"]


def test_upload_through_the_host_then_put(stack: LocalStack) -> None:
    host = stack.api
    assert host is not None
    status, raw = fetch(f"{host.url}/api/uploads", method="POST", data=b'{"filename": "a.mp4", "size": 3}',
                        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                                 "Origin": host.url})
    assert status == 201, raw
    answer = json.loads(raw)
    assert answer["container"] == stack.names.uploads
    status, _ = fetch(answer["upload_url"], method="PUT", data=b"abc", headers={"x-ms-blob-type": "BlockBlob"})
    assert status == 201


def test_cors_allows_its_own_origin(stack: LocalStack) -> None:
    host = stack.api
    assert host is not None
    status, _ = fetch(f"{host.url}/api/jobs", method="OPTIONS",
                      headers={"Origin": host.url, "Access-Control-Request-Method": "GET"})
    assert status == 204
    status, _ = fetch(f"{host.url}/api/jobs", method="OPTIONS", headers={"Origin": "http://elsewhere:1"})
    assert status == 403


def test_static_files_and_the_single_page_fallback(stack: LocalStack) -> None:
    host = stack.api
    assert host is not None
    assert fetch(f"{host.url}/assets/app.js") == (200, b"console.log('dashboard')")
    index = b"<!doctype html><div id=root></div>"
    assert fetch(f"{host.url}/") == (200, index)
    assert fetch(f"{host.url}/jobs/abc?tab=quality") == (200, index)
    assert fetch(f"{host.url}/../secret.txt") == (200, index)
    assert fetch(f"{host.url}/%2e%2e/secret.txt") == (200, index)
    assert fetch(f"{host.url}/", method="POST", data=b"x")[0] == 405


def test_no_build_means_a_json_404_outside_the_api(azurite: Any, restore_environ: None, tmp_path: Path) -> None:
    host = ApiHost({"TranscodeStorage": azurite.connection_string, "DASHBOARD_TOKEN": TOKEN},
                   static_dir=tmp_path / "missing").start()
    try:
        status, body = get(host, "/")
        assert status == 404 and "dashboard" in body["error"]
        assert get(host, "/api/jobs", Authorization=f"Bearer {TOKEN}")[0] in (200, 503)  # the default table
    finally:
        host.stop()


@pytest.mark.parametrize(("template", "path", "expected"), [
    ("jobs", "jobs", {}),
    ("jobs", "JOBS", {}),
    ("jobs", "jobs/x", None),
    ("jobs/{id}", "jobs/abc", {"id": "abc"}),
    ("jobs/{id}", "jobs/a%2Fb", {"id": "a/b"}),
    ("jobs/{id}", "jobs", None),
    ("jobs/{id}", "jobs/", None),
    ("jobs/{id:regex(^[a-f0-9]+$)}/retry", "jobs/ab/retry", {"id": "ab"}),
    ("jobs/{id}/retry", "jobs/ab", None),
    ("files/{*rest}", "files/a/b/c", {"rest": "a/b/c"}),
])
def test_route_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert Route("f", template, None, "req", print).match(path) == expected


@pytest.mark.ffmpeg
def test_localdev_keep_running_serves_the_dashboard_api(tmp_path: Path) -> None:
    """``python -m localdev --keep-running`` prints the dashboard's URL with its token; the token reads the job the
    run made, its links download, and SIGTERM stops the host with the rest."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    log_path = tmp_path / "stack.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "localdev", "--keep-running", "--out", str(tmp_path / "stack"),
                                 "--sample-size", "320x240", "--sample-duration", "1", "--encoder", "cpu"],
                                stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                cwd=Path(__file__).resolve().parents[2],
                                env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_URL"})
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while "the stack is up" not in log_path.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        found = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/#token=(\S+)", log_path.read_text())
        assert found, log_path.read_text()[-2000:]
        base, token = found.groups()
        status, raw = fetch(f"{base}/api/jobs", headers={"Authorization": f"Bearer {token}"})
        assert status == 200, raw
        [job] = json.loads(raw)["items"]
        assert job["state"] == "succeeded" and job["encoder"] == "libx264" and job["progress"] == 1.0
        assert fetch(f"{base}/api/jobs")[0] == 401
        status, raw = fetch(f"{base}/api/jobs/{job['id']}", headers={"Authorization": f"Bearer {token}"})
        detail = json.loads(raw)
        assert status == 200 and detail["manifest"]["encoder"] == "libx264"
        # the packages play from the host's /playback/ (Front Door's part on Azure), with the same token
        signed = {"Authorization": f"Bearer {token}"}
        assert detail["links"]["hls"].startswith(f"{base}/playback/{job['id']}/")
        assert fetch(detail["links"]["hls"])[0] == 401
        status, playlist = fetch(detail["links"]["hls"], headers=signed)
        assert status == 200 and playlist.startswith(b"#EXTM3U")
        segment = next(line for line in playlist.decode().splitlines() if line and not line.startswith("#"))
        status, _ = fetch(detail["links"]["hls"].rsplit("/", 1)[0] + "/" + segment, headers=signed)
        assert status == 200  # a playlist's relative links resolve under the same base
        assert set(detail["links"]["quality"]) == {r["name"] for r in detail["manifest"]["renditions"]
                                                   if (r.get("vmaf") or {}).get("series")}
        for url in detail["links"]["quality"].values():
            status, series = fetch(url, headers=signed)
            assert status == 200 and "frames" in json.loads(series)
        status, raw = fetch(f"{base}/api/fleet", headers={"Authorization": f"Bearer {token}"})
        assert status == 503
        started = children(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
        with pytest.raises(OSError):
            fetch(f"{base}/api/jobs")
    finally:
        leftovers = started | children(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in leftovers:  # Azurite and the workers, should the stack not have stopped them
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def children(pid: int) -> set[int]:
    """Every descendant process of ``pid`` (from /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(kids - found)
            found |= kids
    return found
