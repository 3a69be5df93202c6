"""The alignment rules: how a distorted video is paired frame for frame with its reference.

Rules, applied in this order (all pure; ``plan_alignment`` only reads the two probes and the options):

1. Timestamps are discarded. Both inputs are renumbered 0, 1, 2, ... after trimming, so frame *i* of the
   distorted video is scored against frame *i* of the reference whatever their containers' time bases are.
2. Offset: a positive offset drops that many frames from the start of the distorted video, a negative one from the
   start of the reference. It comes from the option, or from the automatic search (``quality.offset``).
3. Frame rate: rates that differ by more than ``frame_rate_tolerance`` are refused, or, with
   ``on_frame_rate_mismatch="resample"``, the distorted video is converted to the reference rate by ffmpeg's
   ``fps`` filter before renumbering.
4. Frame count: after the offset (and resampling), both sides must have the same number of frames. Otherwise the
   pair is refused, or, with ``on_frame_count_mismatch="truncate"``, only the common prefix is scored and the
   report says how many frames of each input were left out.
5. Resolution and pixel format: the distorted video is scaled to the reference's size (``scaler``, bicubic by
   default) and converted to the reference's pixel format; the reference is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from quality.errors import AlignmentError
from quality.options import MeasureOptions
from quality.probe import VideoInfo

__all__ = ["AlignmentPlan", "AlignmentStatus", "OffsetMethod", "plan_alignment"]

AlignmentStatus = Literal["aligned", "truncated", "resampled"]
OffsetMethod = Literal["none", "explicit", "auto"]


@dataclass(frozen=True)
class AlignmentPlan:
    offset: int = 0
    offset_method: OffsetMethod = "none"
    offset_confidence: float | None = None
    dist_start: int = 0
    ref_start: int = 0
    frames: int = 0
    """Frames each side contributes to the comparison (before subsampling)."""
    resample_to: Fraction | None = None
    scale_to: tuple[int, int] | None = None
    pix_fmt: str | None = None
    status: AlignmentStatus = "aligned"
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self, reference_rate: Fraction) -> dict[str, Any]:
        seconds = float(self.offset / reference_rate) if reference_rate else None
        return {
            "status": self.status,
            "frames_compared": self.frames,
            "distorted_start_frame": self.dist_start,
            "reference_start_frame": self.ref_start,
            "offset": {
                "frames": self.offset,
                "seconds": seconds,
                "method": self.offset_method,
                "confidence": self.offset_confidence,
            },
            "resampled_to_fps": f"{self.resample_to.numerator}/{self.resample_to.denominator}"
            if self.resample_to
            else None,
            "scaled_to": list(self.scale_to) if self.scale_to else None,
            "pix_fmt_converted_to": self.pix_fmt,
            "warnings": list(self.warnings),
        }


def rates_match(a: Fraction, b: Fraction, tolerance: float) -> bool:
    if not a or not b:
        return True  # unknown rate on one side: nothing to compare, counts still are
    return abs(float(a) - float(b)) <= tolerance * float(b)


def plan_alignment(
    dist: VideoInfo,
    ref: VideoInfo,
    options: MeasureOptions,
    *,
    offset: int | None = None,
    offset_method: OffsetMethod | None = None,
    offset_confidence: float | None = None,
    extra_warnings: tuple[str, ...] = (),
) -> AlignmentPlan:
    """Decide how to pair the two videos, or raise ``AlignmentError`` naming every difference."""
    if offset is None:
        offset = options.offset
        offset_method = "explicit" if offset else "none"
    warnings = list(extra_warnings)
    status: AlignmentStatus = "aligned"

    dist_count = dist.frame_count
    resample_to: Fraction | None = None
    if not rates_match(dist.frame_rate, ref.frame_rate, options.frame_rate_tolerance):
        if options.on_frame_rate_mismatch == "refuse":
            raise AlignmentError(
                f"frame rates differ: distorted {float(dist.frame_rate):.3f} fps, reference "
                f"{float(ref.frame_rate):.3f} fps; re-encode at the reference rate, or pass "
                "--on-frame-rate-mismatch resample to convert the distorted video by timestamps",
                differences={"frame_rate": (str(dist.frame_rate), str(ref.frame_rate))},
            )
        resample_to = ref.frame_rate
        dist_count = round(dist.frame_count * ref.frame_rate / dist.frame_rate)
        status = "resampled"
        warnings.append(
            f"distorted video resampled from {float(dist.frame_rate):.3f} to {float(ref.frame_rate):.3f} fps; "
            "frames are paired after dropping or repeating by timestamp"
        )

    dist_start = max(offset, 0)
    ref_start = max(-offset, 0)
    dist_avail = dist_count - dist_start
    ref_avail = ref.frame_count - ref_start
    if dist_avail <= 0 or ref_avail <= 0:
        raise AlignmentError(
            f"offset {offset} leaves no frames to compare (distorted has {dist_count}, reference "
            f"{ref.frame_count})",
            differences={"frame_count": (dist_count, ref.frame_count)},
        )
    frames = min(dist_avail, ref_avail)
    # resampling can round one frame either way; that is not a content mismatch
    slack = 1 if resample_to is not None else 0
    if abs(dist_avail - ref_avail) > slack:
        detail = (
            f"frame counts differ: distorted has {dist_avail} frames, reference {ref_avail}"
            + (f" (after an offset of {offset})" if offset else "")
        )
        if options.on_frame_count_mismatch == "refuse":
            raise AlignmentError(
                detail + "; pass --on-frame-count-mismatch truncate to score the first "
                f"{frames} frames, or --offset/--auto-offset if one starts late",
                differences={"frame_count": (dist_avail, ref_avail)},
            )
        status = "truncated"
        longer = "distorted" if dist_avail > ref_avail else "reference"
        warnings.append(f"{detail}; scored the first {frames}, the last {abs(dist_avail - ref_avail)} "
                        f"frames of the {longer} were not compared")

    scale_to = None if (dist.width, dist.height) == (ref.width, ref.height) else (ref.width, ref.height)
    pix_fmt = ref.pix_fmt if (dist.pix_fmt and ref.pix_fmt and dist.pix_fmt != ref.pix_fmt) else None
    return AlignmentPlan(
        offset=offset,
        offset_method=offset_method or "none",
        offset_confidence=offset_confidence,
        dist_start=dist_start,
        ref_start=ref_start,
        frames=frames,
        resample_to=resample_to,
        scale_to=scale_to,
        pix_fmt=pix_fmt,
        status=status,
        warnings=tuple(warnings),
    )
