"""The dashboard in a real headless Chromium on the real local stack: Azurite, the blob-created path to the Function,
a real ``python -m worker run``, the Function app's HTTP API and the dashboard's build served by the local host.

* a generated clip uploaded through the page reaches ``succeeded``; its job page draws the per-frame VMAF of every
  rendition, and the HLS master plays, its playback time advancing, at the resolution of the rendition chosen in
  the switcher (each of two in turn);
* with 10,000 jobs in the table, the jobs page paints its first rows within a second.

The browser is a system Chromium (Debian's package, or Chrome on CI runners) driven by Playwright by path: nothing
is downloaded. ``UPDATE_SCREENSHOT=1`` writes the job page to docs/img/dashboard-job.png.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableClient

from localdev.api_host import DIST, ApiHost
from localdev.azurite import Azurite
from localdev.stack import LocalStack, StackNames
from quality.samples import make_clip

pytestmark = [pytest.mark.azurite, pytest.mark.ffmpeg]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "img" / "dashboard-job.png"
PROFILE = ("name: dashboard\ngop_seconds: 1\nsegment_seconds: 1\ncpu_preset: ultrafast\n"
           "rungs:\n  - {height: 240, bitrate_k: 500, min_vmaf: 20}\n  - {height: 120, bitrate_k: 150}\n")
RENDITIONS = {"240p": "320x240", "120p": "160x120"}


def chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM_BINARY"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                      "/usr/bin/google-chrome", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no Chromium: ./dev.sh setup installs Debian's chromium (or set CHROMIUM_BINARY)")


@dataclass
class Site:
    stack: LocalStack
    api: ApiHost
    token: str

    @property
    def signed_in(self) -> str:
        return f"{self.api.url}/#token={self.token}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[Site]:
    if not (DIST / "index.html").is_file():
        pytest.fail(f"no dashboard build at {DIST}: ./dev.sh test builds it (cd dashboard && npm run build)")
    root = tmp_path_factory.mktemp("dashboard")
    names = StackNames(uploads="dash-uploads", outputs="dash-outputs", queue="dash-jobs", table="dashjobs",
                       receipts="dashreceipts")
    stack = LocalStack(root / "stack", names=names, azurite=azurite)
    saved = dict(os.environ)  # the hosts take their app settings into the environment, as a Functions host does
    token = secrets.token_urlsafe(24)
    try:
        stack.start_storage()
        stack.start_events(workers=2)
        profile = root / "profile.yaml"
        profile.write_text(PROFILE)
        stack.start_worker(root / "worker.log", WORKER_ENCODER="cpu", WORKER_QUALITY_POLICY="flag",
                           WORKER_PROFILE=str(profile), WORKER_VMAF_SUBSAMPLE="2", WORKER_MIN_FREE_BYTES="0")
        api = stack.start_api(token=token)
        yield Site(stack, api, token)
    finally:
        stack.stop_workers(timeout=30)
        if stack.delivery is not None:
            stack.delivery.stop()
        if stack.api is not None:
            stack.api.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), headless=True,
                              args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


def test_an_upload_through_the_page_is_transcoded_charted_and_played(site: Site, browser: Any,
                                                                      tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size="320x240", duration=8)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.signed_in)
    page.goto(f"{site.api.url}/#/upload")
    page.set_input_files("input[type=file]", str(clip))
    try:
        page.get_by_role("link", name=re.compile("Open job")).click(timeout=120_000)
    except Exception:
        pytest.fail(f"the upload page never linked its job: {page.inner_text('body')[-1500:]}\n"
                    f"{(site.stack.root.parent / 'worker.log').read_text()[-1500:]}")
    page.wait_for_url(re.compile(r"#/jobs/[0-9a-f]+"))
    # the job ends and its page shows the scores of both renditions
    page.wait_for_selector('[data-testid="vmaf-chart"]', timeout=180_000)
    for name in RENDITIONS:
        page.wait_for_selector(f'[data-testid="vmaf-series-{name}"]', timeout=60_000)
    assert page.get_by_text("succeeded").first.is_visible()
    points = page.eval_on_selector('[data-testid="vmaf-series-240p"]',
                                   "e => (e.getAttribute('points') || e.getAttribute('d') || '').length")
    assert points > 20  # a drawn line, not an empty element
    table = page.get_by_role("table", name="Renditions").inner_text()
    assert "320x240" in table and "160x120" in table
    # each rendition in turn: the player is fixed to it, plays, and reports its size
    player = page.locator('[data-testid="player"]')
    for name, size in RENDITIONS.items():
        page.locator(".player-controls label", has_text="Rendition").locator("select").select_option(
            label=f"{name} ({size})")
        player.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "([size]) => document.querySelector('[data-testid=playing-resolution]').textContent.trim() === size",
            arg=[size], timeout=30_000)
        start = player.evaluate("v => v.currentTime")
        page.wait_for_function("([t]) => document.querySelector('[data-testid=player]').currentTime > t + 0.5",
                               arg=[start], timeout=30_000)
        assert player.evaluate("v => `${v.videoWidth}x${v.videoHeight}`") == size
    if os.environ.get("UPDATE_SCREENSHOT"):
        player.evaluate("v => v.pause()")
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert errors == []
    page.close()


def test_ten_thousand_jobs_paint_within_a_second(site: Site, browser: Any) -> None:
    table = TableClient.from_connection_string(site.stack.connection_string, site.stack.names.table)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    states = ("succeeded", "failed", "queued", "running", "poisoned")
    for batch in range(100):
        ops = []
        for i in range(batch * 100, batch * 100 + 100):
            at = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            ops.append(("upsert", {"PartitionKey": "job", "RowKey": f"{i:032x}", "state": states[i % 5],
                                   "stage": states[i % 5], "source_container": site.stack.names.uploads,
                                   "source_name": f"bulk/clip-{i:05d}.mp4", "submitted_at": at, "updated_at": at,
                                   "attempts": 1, "progress": 1.0}))
        table.submit_transaction(ops)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # the moment the first row is in the document, in the page's own clock (0 = the navigation's start)
    page.add_init_script("""new MutationObserver((_, observer) => {
        if (document.querySelector('[data-testid=job-row]')) {
            window.firstRowAt = performance.now();
            observer.disconnect();
        }
    }).observe(document, {childList: true, subtree: true});""")
    page.goto(site.signed_in)
    page.wait_for_selector('[data-testid="job-row"]', timeout=10_000)
    timing = page.evaluate("""() => {
        const paint = performance.getEntriesByName('first-contentful-paint')[0];
        return {fcp: paint ? paint.startTime : null, firstRow: window.firstRowAt ?? null,
                rows: document.querySelectorAll('[data-testid=job-row]').length};
    }""")
    assert timing["fcp"] is not None and timing["fcp"] < 1000, timing
    assert timing["firstRow"] is not None and timing["firstRow"] < 1000, timing  # rows, not just the header
    assert 0 < timing["rows"] < 100  # virtualised: only what is visible
    page.close()
