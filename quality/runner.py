"""The one place in this package that starts processes."""

from __future__ import annotations

import collections
import logging
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from quality.errors import FfmpegUnavailable, MeasurementFailed
from quality.progress import Progress, parse_progress

__all__ = ["RunResult", "quoted", "run_ffmpeg", "run_ffmpeg_capture"]

logger = logging.getLogger(__name__)

TAIL_LINES = 60
HEAD_LINES = 4


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stderr_head: str
    stderr_tail: str
    elapsed: float


def quoted(cmd: list[str]) -> str:
    return shlex.join(cmd)


def _spawn(cmd: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    logger.debug("running: %s", quoted(cmd))
    try:
        return subprocess.Popen(cmd, **kwargs)  # type: ignore[call-overload, no-any-return]
    except (FileNotFoundError, PermissionError) as exc:
        raise FfmpegUnavailable(f"cannot run ffmpeg at {cmd[0]!r}: {exc.strerror}") from exc


def run_ffmpeg(cmd: list[str], *, on_progress: Callable[[Progress], None] | None = None,
               timeout: float | None = None) -> RunResult:
    """Run an ffmpeg command that writes ``-progress`` to stdout; keep the head and tail of stderr."""
    start = time.monotonic()
    proc = _spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    head: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    def drain(stream: object) -> None:
        for raw in proc.stderr:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace").rstrip()
            if len(head) < HEAD_LINES:
                head.append(line)
            tail.append(line)

    reader = threading.Thread(target=drain, args=(proc.stderr,), daemon=True)
    reader.start()
    lines = (raw.decode("utf-8", "replace") for raw in proc.stdout)
    for progress in parse_progress(lines):
        if on_progress is not None:
            on_progress(progress)
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise MeasurementFailed(f"ffmpeg did not finish within {timeout:.0f}s", command=cmd) from exc
    reader.join()
    return RunResult(returncode, "\n".join(head), "\n".join(tail), time.monotonic() - start)


def run_ffmpeg_capture(cmd: list[str], *, timeout: float | None = None) -> bytes:
    """Run an ffmpeg command that writes raw data to stdout and return it; raise on failure."""
    proc = _spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise MeasurementFailed(f"ffmpeg did not finish within {timeout:.0f}s", command=cmd) from exc
    if proc.returncode != 0:
        raise MeasurementFailed("ffmpeg failed", returncode=proc.returncode,
                                stderr_tail=err.decode("utf-8", "replace")[-2000:], command=cmd)
    return out
