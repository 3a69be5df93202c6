"""The one process runner: watchdog, hard timeout and stop, on a real ffmpeg."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from quality import run_ffmpeg

pytestmark = pytest.mark.ffmpeg


def slow(ffmpeg: str, seconds: int = 60) -> list[str]:
    """Real time (-re): progresses steadily, finishes only after ``seconds``."""
    return [ffmpeg, "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1", "-re", "-f", "lavfi", "-i",
            f"testsrc2=size=64x64:rate=10:duration={seconds}", "-f", "null", "-"]


def test_watchdog_kills_an_encode_that_makes_no_progress(ffmpeg: str, tmp_path: Path) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)  # opening it blocks forever: ffmpeg never reports progress
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1", "-i", str(fifo), "-f", "null", "-"]
    result = run_ffmpeg(cmd, stall_timeout=1.0, timeout=60, poll=0.1)
    assert result.outcome == "stalled"
    assert result.returncode != 0
    assert result.elapsed < 20


def test_progressing_encode_is_not_stalled_but_hits_the_hard_timeout(ffmpeg: str) -> None:
    seen = []
    result = run_ffmpeg(slow(ffmpeg), on_progress=seen.append, stall_timeout=1.5, timeout=3.0, poll=0.1)
    assert result.outcome == "timeout"
    assert 2.5 < result.elapsed < 20
    assert len(seen) >= 2 and seen[-1].frame > seen[0].frame


def test_stop_event_terminates(ffmpeg: str) -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    result = run_ffmpeg(slow(ffmpeg), stop=stop, poll=0.1)
    assert result.outcome == "stopped"
    assert result.elapsed < 20


def test_clean_run_and_plain_failure(ffmpeg: str) -> None:
    ok = run_ffmpeg([ffmpeg, "-nostdin", "-v", "error", "-progress", "pipe:1", "-f", "lavfi", "-i",
                     "testsrc2=size=64x64:rate=10:duration=1", "-f", "null", "-"])
    assert (ok.outcome, ok.returncode) == ("ok", 0)
    bad = run_ffmpeg([ffmpeg, "-nostdin", "-v", "error", "-i", "/nonexistent.mp4", "-f", "null", "-"])
    assert bad.outcome == "failed" and bad.returncode != 0
    assert "No such file or directory" in bad.stderr_tail
