"""Score a whole ladder against one decode of its source.

One ffmpeg process per pass: the reference is decoded once, normalised to the ladder's timeline (the encode's own
``fps`` normalisation, so a gap, a duplicated frame or a late start in the source cannot shift the pairing), scaled
to the scoring size and split to one ``libvmaf`` per rendition. Each rendition is read in place: its init segment
and media segments through ffmpeg's ``concat`` protocol, which is the byte-for-byte concatenation of the parts (no
copy is written).

A pass covers either the whole title (``full``) or one window of whole segments (``windows``): the reference is
reached by seeking, the renditions by reading only the window's segments, so the cost follows the frames scored,
not the title's length.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from quality.command import input_args, libvmaf_args
from quality.options import MODEL_4K, MeasureOptions

__all__ = [
    "LADDER_FORMATS",
    "MIN_DIMENSION",
    "RenditionParts",
    "Sampling",
    "SamplingPolicy",
    "ScoringPlan",
    "Window",
    "build_pass_cmd",
    "build_windows_cmd",
    "concat_url",
    "late_seek",
    "model_display",
    "plan_windows",
    "scoring_size",
    "seek_point",
    "segment_frame_counts",
]

Sampling = Literal["full", "windows"]

MIN_DIMENSION = 18
"""libvmaf (3.x, in the pinned ffmpeg) crashes with SIGSEGV on frames narrower or lower than this: 17 crashes, 18
works (measured with square and 64-wide frames)."""

LADDER_FORMATS = "mov"
"""The demuxer that reads a rendition (fragmented MP4: init + segments)."""

MAX_ARGUMENT_BYTES = 100_000
"""One ``concat:`` argument stays under Linux's 128 KiB limit per argument; longer lists are split into passes."""

SEEK_MARGIN_S = 1.0
"""A windowed pass seeks this far before its window and drops the frames in between after normalisation, so that
a timestamp a hair before the window's first frame cannot make the pairing start one frame late."""

PRECISE_SEEK_FORMATS = frozenset({"mov", "mp4", "matroska", "webm"})
"""Containers with an index, where ``-ss`` lands on a keyframe at or before the point. Others (MPEG-TS, MPEG-PS,
AVI without an index) have their windows read in one pass from the start: a window sought in a transport stream
here paired its frames wrongly even when the probe seek landed in time."""

SEEK_MARGINS_S = (SEEK_MARGIN_S, 4.0, 12.0)
"""Margins tried in turn until every window's seek lands in time (``late_seek``); beyond the last, full scoring."""


@dataclass(frozen=True)
class RenditionParts:
    """One rendition as written by the packager: an init segment and media segments in ``folder``."""

    name: str
    folder: Path
    init: str
    segments: tuple[str, ...]
    width: int
    height: int


@dataclass(frozen=True)
class Window:
    """Consecutive media segments scored in one pass, and where they sit on the ladder's timeline."""

    first_segment: int
    segments: int
    start_frame: int
    frames: int

    def to_dict(self, rate: Fraction) -> dict[str, Any]:
        return {"start_s": round(self.start_frame / rate, 3) if rate else None,
                "duration_s": round(self.frames / rate, 3) if rate else None,
                "start_frame": self.start_frame, "frames": self.frames}


@dataclass(frozen=True)
class SamplingPolicy:
    """When the gate scores windows instead of the whole title, and how many.

    The defaults come from ``benchmarks/bench_sampling_sweep.py`` (docs/benchmarks.md): above ``full_below_s``,
    ``ceil(duration / spacing_s)`` windows of ``window_s`` (clamped to ``[min_windows, max_windows]``), one per
    equal stretch of the title, centred in it.
    """

    mode: Literal["auto", "full", "windows"] = "auto"
    full_below_s: float = 300.0
    window_s: float = 4.0
    spacing_s: float = 20.0
    min_windows: int = 15
    max_windows: int = 60


@dataclass(frozen=True)
class ScoringPlan:
    """Everything decided before the first pass runs."""

    sampling: Sampling
    windows: tuple[Window, ...]
    total_frames: int
    rate: Fraction
    size: tuple[int, int]
    model: str
    model_spec: str
    note: str | None = None
    """Why the plan is not what the policy asked for (a source that cannot be sought: scored in full)."""
    seek_margin_s: float = SEEK_MARGIN_S
    """How far before each window the reference is sought (more where the container lands late)."""
    sequential: bool = False
    """Windows of a source that cannot be sought: one pass reads the reference from its start and keeps the
    windows' frames (``select``), the renditions read every window's segments in turn."""
    reference_filters: tuple[str, ...] = field(default_factory=tuple)
    """CPU filters the encode applied before its rate normalisation (deinterlace, tone map): the reference gets
    them too, so that what is scored is the encode's loss."""

    @property
    def frames_compared(self) -> int:
        return sum(w.frames for w in self.windows)

    def to_dict(self) -> dict[str, Any]:
        return {"sampling": self.sampling, "windows": [w.to_dict(self.rate) for w in self.windows]
                if self.sampling == "windows" else [], "frames_total": self.total_frames,
                "frames_compared": self.frames_compared, "scoring_size": list(self.size), "model": self.model,
                "note": self.note, "seek_margin_s": self.seek_margin_s, "sequential": self.sequential}


def model_display(model: str) -> tuple[int, int]:
    """The display a VMAF model was trained for: 4K for the 4K model, 1080p for the others."""
    return (3840, 2160) if "4k" in model.lower() or model == MODEL_4K else (1920, 1080)


def scoring_size(width: int, height: int, model: str) -> tuple[int, int]:
    """The source's display size, shrunk (never enlarged) to fit the model's display, in even numbers.

    Netflix's guidance for VMAF: compare at the resolution of the display the model assumes; scoring a 3252x1766
    screen recording at full size with the 1080p model costs four times the work and scores its low rungs as if
    watched on a display twice the size of the model's.
    """
    box_w, box_h = model_display(model)
    scale = min(1.0, box_w / width, box_h / height)
    if scale >= 1.0:
        return width, height
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def concat_url(parts: Sequence[str]) -> str:
    """ffmpeg's ``concat`` protocol URL of the parts (relative names, read from the rendition's folder)."""
    for name in parts:
        if "|" in name or name.startswith(("/", "-")):
            raise ValueError(f"part name {name!r} cannot be used in a concat URL")
    return "concat:" + "|".join(parts)


def segment_frame_counts(rendition: RenditionParts) -> list[int]:
    """Frames in each media segment, from the packets' byte positions in the concatenated rendition.

    Demuxing only (no decode): the packets of an hour at 30 fps take well under a second.
    """
    import av

    sizes = [(rendition.folder / name).stat().st_size for name in (rendition.init, *rendition.segments)]
    ends = []
    total = 0
    for size in sizes:
        total += size
        ends.append(total)
    counts = [0] * len(rendition.segments)
    url = "concat:" + "|".join(str(rendition.folder / n) for n in (rendition.init, *rendition.segments))
    with av.open(url, options={"protocol_whitelist": "concat,file", "format_whitelist": LADDER_FORMATS}) as box:
        for packet in box.demux(video=0):
            if packet.size and packet.pos is not None and packet.pos >= 0:
                part = bisect.bisect_right(ends, packet.pos)
                if 1 <= part <= len(counts):
                    counts[part - 1] += 1
    return counts


def late_seek(reference: str | Path, seeks: Sequence[tuple[float, float]], formats: str | None = None) \
        -> tuple[float, float] | None:
    """The first ``(seek_to, needed_by)`` pair (seconds from the file's start) whose seek lands after
    ``needed_by``, as ``(seek_to, landed)``; ``None`` when every seek lands in time. A container outside
    ``PRECISE_SEEK_FORMATS`` gives ``(first seek_to, -1.0)`` without trying.

    ffmpeg's ``-ss`` seeks to a keyframe at or before the point in an MP4 or Matroska file, but an MPEG-TS is sought
    by bisection and lands on a keyframe after it (measured: a 1 s GOP lands up to 1 s late, a 10 s GOP at the
    next keyframe whatever the point); a window whose reference starts late would pair every frame wrongly. PyAV
    seeks the same way (the same ``av_seek_frame``).
    """
    import av

    options = {"protocol_whitelist": "file", **({"format_whitelist": formats} if formats else {})}
    with av.open(str(reference), options=options) as box:
        if not any(name in PRECISE_SEEK_FORMATS for name in box.format.name.split(",")):
            return (seeks[0][0] if seeks else 0.0), -1.0
        stream = box.streams.video[0]
        base = Fraction(stream.time_base or Fraction(1, 90000))
        start = box.start_time / 1e6 if box.start_time is not None else 0.0
        for target, needed_by in seeks:
            box.seek(int((start + target) / base), stream=stream, backward=True, any_frame=False)
            landed = None
            for frame in box.decode(stream):
                if frame.pts is not None:
                    landed = float(frame.pts * base) - start
                    break
            if landed is None or landed > needed_by:
                return target, -1.0 if landed is None else landed
    return None


def _chunks(counts: Sequence[int], segments: Sequence[str], limit: int) -> list[Window]:
    """Contiguous windows covering every segment, each with a concat list under ``limit`` bytes."""
    reserve = len("concat:") + 128  # the init segment's name
    windows: list[Window] = []
    first, start, frames, size = 0, 0, 0, reserve
    for i, (count, name) in enumerate(zip(counts, segments, strict=True)):
        if i > first and size + len(name) + 1 > limit:
            windows.append(Window(first, i - first, start, frames))
            first, start, frames, size = i, start + frames, 0, reserve
        frames += count
        size += len(name) + 1
    if frames:
        windows.append(Window(first, len(counts) - first, start, frames))
    return windows


def plan_windows(counts: Sequence[int], segments: Sequence[str], rate: Fraction, policy: SamplingPolicy,
                 *, argument_limit: int = MAX_ARGUMENT_BYTES) -> tuple[Sampling, tuple[Window, ...]]:
    """Full scoring, or ``K`` windows of whole segments spread evenly over the title (see ``SamplingPolicy``)."""
    total = sum(counts)
    duration = total / rate if rate else 0.0
    n = len(counts)
    windowed = policy.mode == "windows" or (policy.mode == "auto" and duration >= policy.full_below_s)
    if windowed and n:
        segment_s = float(duration) / n
        width = max(1, round(policy.window_s / segment_s)) if segment_s > 0 else 1
        k = min(policy.max_windows, max(policy.min_windows, math.ceil(float(duration) / policy.spacing_s)))
        k = min(k, n // width)
        if k >= 1 and k * width < n:
            starts = [0]
            for c in counts:
                starts.append(starts[-1] + c)
            firsts: list[int] = []
            for i in range(k):
                centre = (i + 0.5) * n / k
                first = min(max(0, int(centre - width / 2)), n - width)
                if not firsts or first >= firsts[-1] + width:
                    firsts.append(first)
            windows = tuple(Window(f, width, starts[f], starts[f + width] - starts[f]) for f in firsts)
            return "windows", tuple(w for w in windows if w.frames > 0)
    return "full", tuple(_chunks(counts, segments, argument_limit))


def _rate(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def seek_point(window: Window, rate: Fraction, margin_s: float = SEEK_MARGIN_S) -> tuple[int, int]:
    """``(seek_frames, seek_from)``: how many frames before the window the reference pass starts, and where."""
    seek_frames = min(window.start_frame, round(margin_s * float(rate)))
    return seek_frames, window.start_frame - seek_frames


def build_pass_cmd(ffmpeg: str, reference: str, renditions: Sequence[RenditionParts], plan: ScoringPlan,
                   window: Window, options: MeasureOptions, log_names: Sequence[str], *,
                   reference_formats: str | None = None, reference_size: tuple[int, int] | None = None,
                   pix_fmt: str | None = None) -> list[str]:
    """One pass: the reference (sought to the window, normalised, scaled, split) against every rendition's parts.

    Run it in the renditions' folder: the parts and the logs are named relative to it. ``reference_size`` is the
    reference's decoded size (scaled only when it differs from the scoring size); ``pix_fmt`` converts the
    renditions to the reference's pixel format where they differ.
    """
    return build_windows_cmd(ffmpeg, reference, renditions, plan, [window], options, log_names,
                             reference_formats=reference_formats, reference_size=reference_size, pix_fmt=pix_fmt)


def build_windows_cmd(ffmpeg: str, reference: str, renditions: Sequence[RenditionParts], plan: ScoringPlan,
                      windows: Sequence[Window], options: MeasureOptions, log_names: Sequence[str], *,
                      reference_formats: str | None = None, reference_size: tuple[int, int] | None = None,
                      pix_fmt: str | None = None) -> list[str]:
    """``build_pass_cmd`` for one window (sought), or for several read in one pass from the start (``select``)."""
    rate = plan.rate
    window = windows[0]
    chain = [*plan.reference_filters, f"fps=fps={_rate(rate)}:start_time=0"]
    ref_input: list[str] = []
    if len(windows) > 1:
        spans = "+".join(f"between(n\\,{w.start_frame}\\,{w.start_frame + w.frames - 1})" for w in windows)
        last = windows[-1]
        ref_input += ["-t", _seconds(float((last.start_frame + last.frames + 2) / rate))]
        chain.append(f"select={spans}")
    else:
        seek_frames, seek_from = (0, 0) if plan.sampling == "full" and window.start_frame == 0 else \
            seek_point(window, rate, plan.seek_margin_s)
        if plan.sampling == "windows" or window.start_frame > 0:
            ref_input += ["-ss", _seconds(float(seek_from / rate)),
                          "-t", _seconds(float((seek_frames + window.frames + 2) / rate))]
        chain.append(f"trim=start_frame={seek_frames}:end_frame={seek_frames + window.frames}")
    ref_input += [*input_args(reference_formats), "-i", reference]
    width, height = plan.size
    if reference_size != plan.size:
        chain.append(f"scale={width}:{height}:flags={options.scaler}")
    chain += ["settb=1", "setpts=N"]
    # libvmaf_cuda reads CUDA frames: each side is uploaded once, after alignment, as 8-bit 4:2:0
    upload = ["format=yuv420p", "hwupload_cuda", "scale_cuda=format=yuv420p"] if options.device == "cuda" else []
    scorer = "libvmaf_cuda" if options.device == "cuda" else "libvmaf"
    chain += upload
    n = len(renditions)
    graph = ["[0:v]" + ",".join(chain) + f",split={n}" + "".join(f"[r{i}]" for i in range(n))]
    inputs: list[str] = []
    for i, rendition in enumerate(renditions):
        parts = [name for w in windows for name in rendition.segments[w.first_segment: w.first_segment + w.segments]]
        inputs += ["-protocol_whitelist", "concat,file", "-format_whitelist", LADDER_FORMATS,
                   "-i", concat_url((rendition.init, *parts))]
        dist = []
        if (rendition.width, rendition.height) != plan.size:
            dist.append(f"scale={width}:{height}:flags={options.scaler}")
        if pix_fmt:
            dist.append(f"format={pix_fmt}")
        dist += ["settb=1", "setpts=N", *upload]
        graph.append(f"[{i + 1}:v]" + ",".join(dist) + f"[d{i}]")
        graph.append(f"[d{i}][r{i}]{scorer}={libvmaf_args(options, plan.model_spec, log_names[i])}[o{i}]")
    cmd = [ffmpeg, "-nostdin", "-nostats", "-progress", "pipe:1", "-loglevel", "error", *ref_input, *inputs,
           "-filter_complex", ";".join(graph)]
    for i in range(n):
        cmd += ["-map", f"[o{i}]"]
    return [*cmd, "-f", "null", "-"]


