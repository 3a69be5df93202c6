"""ffmpeg ``-progress`` output (key=value blocks ending ``progress=continue|end``) and a stderr progress bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Progress", "ProgressBar", "parse_progress"]


@dataclass(frozen=True)
class Progress:
    frame: int
    fps: float | None
    speed: float | None
    out_time_s: float | None
    done: bool
    total: int | None = None
    """Frames expected in all (filled in by the caller that knows it)."""


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip().rstrip("x")
    try:
        return float(value)
    except ValueError:
        return None  # "N/A"


def parse_progress(lines: Iterable[str]) -> Iterator[Progress]:
    """Yield one ``Progress`` per completed block of ffmpeg's ``-progress`` output."""
    block: dict[str, str] = {}
    for raw in lines:
        key, sep, value = raw.strip().partition("=")
        if not sep:
            continue
        block[key] = value.strip()
        if key == "progress":
            out_us = _float(block.get("out_time_us"))
            frame = _float(block.get("frame"))
            yield Progress(
                frame=int(frame) if frame is not None else 0,
                fps=_float(block.get("fps")),
                speed=_float(block.get("speed")),
                out_time_s=out_us / 1e6 if out_us is not None and out_us >= 0 else None,
                done=value.strip() == "end",
            )
            block = {}


class ProgressBar:
    """A one-line bar on stderr that only appears once a measurement has run for ``delay`` seconds."""

    def __init__(self, *, label: str = "vmaf", delay: float = 3.0, stream: TextIO | None = None) -> None:
        self.label = label
        self.delay = delay
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self._shown = False
        self._last_pct = -1

    def __call__(self, progress: Progress) -> None:
        elapsed = time.monotonic() - self._start
        if elapsed < self.delay and not self._shown:
            return
        total = max(progress.total or progress.frame or 1, 1)
        pct = min(100, int(100 * progress.frame / total))
        interactive = self.stream.isatty()
        if not interactive and pct // 25 == self._last_pct // 25 and not progress.done:
            return  # in logs, one line per quarter is enough
        self._shown = True
        self._last_pct = pct
        eta = (elapsed / progress.frame * (total - progress.frame)) if progress.frame else 0.0
        width = 30
        filled = width * pct // 100
        line = (f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {pct:3d}% "
                f"{progress.frame}/{total} frames, {elapsed:.1f}s, eta {max(eta, 0):.1f}s")
        if interactive:
            self.stream.write("\r" + line + ("\n" if progress.done else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
