"""The smoke test plays a package through the front door as a player would: a real package (the worker's own
transcode of a small clip) served anonymously over HTTP under ``/<job_id>/<attempt>/``, as Front Door's route maps
the outputs container; a missing segment or a refused request fails it with the URL."""

from __future__ import annotations

import functools
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import SCRIPTS, commands

if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
import smoke_test  # noqa: E402
from deploylib import Runner  # noqa: E402

JOB = "0" * 31 + "1"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> tuple[Path, dict[str, Any]]:
    from quality.samples import make_clip
    from worker.engine import transcode
    from worker.ladder import Profile, Rung
    from worker.settings import EngineSettings

    root = tmp_path_factory.mktemp("frontdoor")
    clip = make_clip(root / "clip.mp4", size="320x240", duration=2)
    profile = Profile(name="smoke", rungs=(Rung(height=240, bitrate_k=400), Rung(height=120, bitrate_k=120)),
                      gop_seconds=1, segment_seconds=1, cpu_preset="ultrafast")
    served = root / "site" / JOB / "2"
    manifest = transcode(clip, served, profile=profile, settings=EngineSettings(encoder="cpu", quality_policy="off"))
    return root / "site", {**manifest, "attempt": 2}


@pytest.fixture
def front_door(package: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    site = tmp_path / "site"
    shutil.copytree(package[0], site)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.ffmpeg
def test_a_published_package_plays_through_the_front_door(package: tuple[Path, dict[str, Any]],
                                                          front_door: tuple[str, Path]) -> None:
    base, _ = front_door
    assert smoke_test.play_through(base, JOB, package[1], Runner(False)) == []


@pytest.mark.ffmpeg
def test_a_missing_segment_or_an_unreachable_front_door_fails_with_the_url(package: tuple[Path, dict[str, Any]],
                                                                         front_door: tuple[str, Path]) -> None:
    base, site = front_door
    variant = site / JOB / "2" / smoke_test._uris((site / JOB / "2" / "master.m3u8").read_text())[0]
    first = smoke_test._uris(variant.read_text())[1]
    (variant.parent / first).unlink()
    [problem] = smoke_test.play_through(base, JOB, package[1], Runner(False))
    assert problem.startswith("segment ") and problem.endswith(f"{first}: HTTP 404")
    (site / JOB / "2" / "manifest.mpd").unlink()
    problems = smoke_test.play_through(base, JOB, package[1], Runner(False))
    assert problems[-1].startswith("DASH manifest ") and "HTTP 404" in problems[-1]
    gone = smoke_test.play_through("http://127.0.0.1:9", JOB, package[1], Runner(False))
    assert gone[0].startswith("HLS master http://127.0.0.1:9/") and "HTTP unreachable" in gone[0]


def test_the_dry_run_prints_the_requests(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = {"attempt": 3, "hls": "master.m3u8", "dash": "manifest.mpd"}
    assert smoke_test.play_through("https://fd.example.invalid", JOB, manifest, Runner(True)) == []
    assert commands(capsys.readouterr().out) == [f"GET https://fd.example.invalid/{JOB}/3/master.m3u8",
                                                 f"GET https://fd.example.invalid/{JOB}/3/manifest.mpd"]


def test_production_smoke_plays_through_the_regions_front_door(delivery: dict[str, Any]) -> None:
    steps = delivery["jobs"]["deploy-production"]["steps"]
    [smoke] = [s for s in steps if "smoke_test.py" in s.get("run", "")]
    assert smoke["env"]["FRONT_DOOR_HOST"] == "${{ steps.infra.outputs.front_door_host_name }}"
    assert '--playback-base "https://$FRONT_DOOR_HOST"' in smoke["run"]


def test_the_workers_keep_records_where_the_templates_put_them(delivery: dict[str, Any]) -> None:
    helm = [s for job in delivery["jobs"].values() for s in job.get("steps", [])
            if "helm upgrade --install" in s.get("run", "")]
    assert len(helm) == 3
    # dev's from storage-setup, which deployed dev's templates; staging's and production's from their own step
    sources = ["needs.storage-setup", "steps.infra", "steps.infra"]
    for step, source in zip(helm, sources, strict=True):
        assert step["env"]["RECORDS_TABLE_ENDPOINT"] == f"${{{{ {source}.outputs.records_table_endpoint }}}}"
        assert '--set table.accountUrl="$RECORDS_TABLE_ENDPOINT"' in step["run"]
