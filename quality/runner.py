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
from typing import Any, Literal

from quality.errors import FfmpegUnavailable, MeasurementFailed
from quality.progress import Progress, parse_progress

__all__ = ["Outcome", "RunResult", "quoted", "run_ffmpeg", "run_ffmpeg_capture"]

logger = logging.getLogger(__name__)

TAIL_LINES = 60
HEAD_LINES = 4


Outcome = Literal["ok", "failed", "stalled", "timeout", "stopped"]
"""How a run ended: ``ok`` (exit 0), ``failed`` (non-zero exit on its own), ``stalled`` (killed by the watchdog),
``timeout`` (killed at the hard limit), ``stopped`` (terminated because the caller's stop event was set)."""


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stderr_head: str
    stderr_tail: str
    elapsed: float
    outcome: Outcome = "ok"


def quoted(cmd: list[str]) -> str:
    return shlex.join(cmd)


def _spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    logger.debug("running: %s", quoted(cmd))
    try:
        return subprocess.Popen(cmd, **kwargs)
    except (FileNotFoundError, PermissionError) as exc:
        raise FfmpegUnavailable(f"cannot run ffmpeg at {cmd[0]!r}: {exc.strerror}") from exc


class _Watch:
    """Kills the process when it stops progressing, overruns its time limit, or the caller asks it to stop."""

    def __init__(self, proc: subprocess.Popen[bytes], *, timeout: float | None, stall_timeout: float | None,
                 stop: threading.Event | None, poll: float) -> None:
        self.proc = proc
        self.timeout = timeout
        self.stall_timeout = stall_timeout
        self.stop = stop
        self.poll = poll
        self.start = time.monotonic()
        self.last_advance = self.start
        self.position: tuple[int, float] = (-1, -1.0)
        self.outcome: Outcome | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def progressed(self, progress: Progress) -> None:
        position = (progress.frame, progress.out_time_s or 0.0)
        if position > self.position:
            self.position = position
            self.last_advance = time.monotonic()

    def _end(self, outcome: Outcome, graceful: bool) -> None:
        self.outcome = outcome
        if graceful:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        self.proc.kill()

    def _run(self) -> None:
        while not self._done.wait(self.poll):
            if self.proc.poll() is not None:
                return
            now = time.monotonic()
            if self.stop is not None and self.stop.is_set():
                self._end("stopped", graceful=True)
            elif self.timeout is not None and now - self.start > self.timeout:
                self._end("timeout", graceful=False)
            elif self.stall_timeout is not None and now - self.last_advance > self.stall_timeout:
                self._end("stalled", graceful=False)
            else:
                continue
            return

    def close(self) -> None:
        self._done.set()
        self._thread.join()


def run_ffmpeg(cmd: list[str], *, on_progress: Callable[[Progress], None] | None = None,
               timeout: float | None = None, stall_timeout: float | None = None,
               stop: threading.Event | None = None, poll: float = 0.5,
               env: dict[str, str] | None = None, cwd: str | None = None,
               on_stderr: Callable[[str], None] | None = None) -> RunResult:
    """Run an ffmpeg command that writes ``-progress`` to stdout; keep the head and tail of stderr.

    ``timeout`` kills the process after that many seconds; ``stall_timeout`` kills it when neither the frame count
    nor the output time has advanced for that long; setting ``stop`` terminates it (SIGTERM, then SIGKILL after
    5 s). The result's ``outcome`` says which, if any, happened. Never raises for ffmpeg's own failures. ``env``
    replaces the environment of the process (default: inherited); ``cwd`` is its working folder; ``on_stderr``
    sees every stderr line (from another thread) as it arrives.
    """
    start = time.monotonic()
    proc = _spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                  cwd=cwd)
    assert proc.stdout is not None and proc.stderr is not None
    stderr = proc.stderr
    head: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    def drain() -> None:
        for raw in stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if len(head) < HEAD_LINES:
                head.append(line)
            tail.append(line)
            if on_stderr is not None:
                on_stderr(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    watch = _Watch(proc, timeout=timeout, stall_timeout=stall_timeout, stop=stop, poll=poll)
    try:
        for progress in parse_progress(raw.decode("utf-8", "replace") for raw in proc.stdout):
            watch.progressed(progress)
            if on_progress is not None:
                on_progress(progress)
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watch.close()
        reader.join()
    outcome: Outcome = watch.outcome or ("ok" if returncode == 0 else "failed")
    return RunResult(returncode, "\n".join(head), "\n".join(tail), time.monotonic() - start, outcome)


def run_ffmpeg_capture(cmd: list[str], *, timeout: float | None = None, env: dict[str, str] | None = None) -> bytes:
    """Run an ffmpeg command that writes raw data to stdout and return it; raise on failure."""
    proc = _spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
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
