"""Automatic offset search: find the delay between two videos from tiny grey thumbnails.

Both inputs are decoded once to 64x36 grey frames (the first ``window`` * 4 frames, at least 2 seconds' worth).
For each candidate offset *d* in ``[-window, window]`` the error is the mean absolute difference over every
overlapping pair (reference frame *i*, distorted frame *i + d*). The offset with the lowest error wins.

Confidence is ``1 - best / runner_up``, where the runner-up is the lowest error among offsets more than one frame
away from the best: 0 means another offset fits as well (static or repetitive content), values near 1 mean one
offset fits far better than any other.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quality.command import build_thumbnail_cmd
from quality.probe import VideoInfo
from quality.raw import RawFormat
from quality.runner import run_ffmpeg_capture

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["OffsetEstimate", "best_offset", "estimate_offset"]

THUMB_W, THUMB_H = 64, 36


@dataclass(frozen=True)
class OffsetEstimate:
    offset: int
    confidence: float
    errors: dict[int, float]


def best_offset(ref: npt.NDArray[np.floating], dist: npt.NDArray[np.floating], window: int,
                *, min_overlap: int = 2) -> OffsetEstimate:
    """Score every offset in ``[-window, window]``; ``ref`` and ``dist`` are (frames, h, w) arrays."""
    import numpy as np

    errors: dict[int, float] = {}
    for d in range(-window, window + 1):
        r_start, d_start = max(-d, 0), max(d, 0)
        n = min(len(ref) - r_start, len(dist) - d_start)
        if n < min_overlap:
            continue
        diff = np.abs(ref[r_start : r_start + n] - dist[d_start : d_start + n])
        errors[d] = float(diff.mean())
    if not errors:
        return OffsetEstimate(0, 0.0, {})
    best = min(errors, key=lambda k: (errors[k], abs(k)))
    others = [e for k, e in errors.items() if abs(k - best) > 1]
    if not others:
        confidence = 0.0
    else:
        runner_up = min(others)
        confidence = 0.0 if runner_up <= 0 else max(0.0, 1.0 - errors[best] / runner_up)
    return OffsetEstimate(best, round(confidence, 4), errors)


def _thumbnails(ffmpeg: str, path: str, frames: int, resample_to: str | None,
                raw_format: RawFormat | None = None) -> npt.NDArray[np.floating]:
    import numpy as np

    raw = run_ffmpeg_capture(build_thumbnail_cmd(ffmpeg, path, frames, width=THUMB_W, height=THUMB_H,
                                                 resample_to=resample_to, raw=raw_format), timeout=600)
    count = len(raw) // (THUMB_W * THUMB_H)
    return np.frombuffer(raw[: count * THUMB_W * THUMB_H], dtype=np.uint8).reshape(count, THUMB_H, THUMB_W) \
        .astype(np.float32)


def estimate_offset(ffmpeg: str, dist: VideoInfo, ref: VideoInfo, window: int,
                    *, resample_to: str | None = None) -> OffsetEstimate:
    """Decode both inputs' openings in parallel and search for the offset within ``window`` frames."""
    seconds_2 = int(2 * float(ref.frame_rate)) if ref.frame_rate else 60
    frames = max(4 * window, seconds_2, 8)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        ref_job = pool.submit(_thumbnails, ffmpeg, ref.path, frames, None, ref.raw)
        dist_job = pool.submit(_thumbnails, ffmpeg, dist.path, frames, resample_to, dist.raw)
        ref_frames, dist_frames = ref_job.result(), dist_job.result()
    return best_offset(ref_frames, dist_frames, window, min_overlap=max(2, min(len(ref_frames), frames) // 4))
