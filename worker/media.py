"""Probe a source with PyAV and check it against the limits, before anything is encoded."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import quality
from worker.errors import InvalidSource, SourceRejected
from worker.settings import EngineSettings

__all__ = ["AudioInfo", "SourceInfo", "check_file_size", "check_limits", "probe_source"]

logger = logging.getLogger(__name__)

# AVColorTransferCharacteristic values that mean HDR
_HDR_TRANSFERS = {16: "smpte2084", 18: "arib-std-b67"}
_TRANSFER_NAMES = {1: "bt709", 2: "unknown", 6: "smpte170m", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
                   **_HDR_TRANSFERS}


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    channels: int
    sample_rate: int
    language: str | None


@dataclass(frozen=True)
class SourceInfo:
    path: str
    size_bytes: int
    container: str
    codec: str
    duration: float
    coded_width: int
    coded_height: int
    width: int  # display width: rotation and sample aspect ratio applied
    height: int
    rotation: int
    frame_rate: Fraction
    """average rate"""
    nominal_frame_rate: Fraction
    """the container's base rate (r_frame_rate): the rate of the fastest part of a variable-rate source"""
    variable_frame_rate: bool
    frame_count: int
    pix_fmt: str
    bit_depth: int
    color_transfer: str
    hdr: bool
    interlaced: bool
    field_order: str
    audio: tuple[AudioInfo, ...]
    video_bitrate: int | None = None
    """Average bit/s of the video stream (its packets' bytes over the duration); ``None`` when unknown. The ladder's
    caps (``worker.ladder_caps``) never give a rung more than this, scaled to the rung's size."""

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["frame_rate"] = f"{self.frame_rate.numerator}/{self.frame_rate.denominator}"
        data["frame_rate_fps"] = round(float(self.frame_rate), 6)
        data["nominal_frame_rate"] = f"{self.nominal_frame_rate.numerator}/{self.nominal_frame_rate.denominator}"
        return data


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _video_bitrate(stream: Any, packet_bytes: int, duration: float) -> int | None:
    """The video stream's average bit/s: the container's own figure where it keeps one (MP4 computes it from its
    sample table), else its packets' bytes over the duration (Matroska and MPEG-TS often carry no per-stream rate;
    the bytes come from the probe's one demux of the file, which also counted the frames)."""
    if stream.bit_rate:
        return int(stream.bit_rate)
    if duration <= 0 or not packet_bytes:
        return None
    return round(packet_bytes * 8 / duration)


def check_file_size(size: int, limits: EngineSettings) -> None:
    """``SourceRejected`` for a source over ``WORKER_MAX_FILE_BYTES`` (from the file, or the blob's size before its
    download)."""
    if size > limits.max_file_bytes:
        raise SourceRejected(f"source is {size} bytes, over the limit of {limits.max_file_bytes} "
                             "(WORKER_MAX_FILE_BYTES)")


def _precheck(p: Path, formats: str | None, limits: EngineSettings) -> None:
    """The limits that need no demuxing, checked before the full probe reads the whole file: the file's size, and
    the duration its container header declares (a header that lies is caught by ``check_limits`` afterwards)."""
    import av

    from quality.probe import open_options

    check_file_size(p.stat().st_size if p.exists() else 0, limits)
    try:
        with av.open(str(p), options=open_options(formats)) as container:
            declared = float(container.duration) / 1e6 if container.duration else 0.0
    except (av.error.FFmpegError, OSError):
        return  # the full probe names what is wrong with it
    if declared > limits.max_duration_s:
        raise SourceRejected(f"source lasts {declared:.1f}s (container header), over the limit of "
                             f"{limits.max_duration_s:g}s (WORKER_MAX_DURATION_S)")


def probe_source(path: str | Path, formats: str | None = None, limits: EngineSettings | None = None) -> SourceInfo:
    """Everything the ladder and the command builders need, or ``InvalidSource`` naming what is wrong.

    ``formats`` are the demuxers allowed to open it (``EngineSettings.input_formats``); only local files are read.
    With ``limits``, the size and the declared duration are checked before the whole file is demuxed.
    """
    import av

    from quality.probe import open_options

    if limits is not None:
        _precheck(Path(path), formats, limits)
    try:
        video = quality.probe_video(path, formats=formats)
    except quality.QualityError as exc:
        raise InvalidSource(str(exc)) from exc
    p = Path(path)
    with av.open(str(p), options=open_options(formats)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        fmt = ctx.format
        bit_depth = int(fmt.components[0].bits) if fmt is not None and fmt.components else 8
        field_order = str(getattr(ctx, "field_order", "") or "unknown")
        frame = next(container.decode(stream))
        interlaced = bool(getattr(frame, "interlaced_frame", False)) or field_order in {"tt", "bb", "tb", "bt"}
        trc = int(getattr(frame, "color_trc", 0) or getattr(ctx, "color_trc", 0) or 2)
        sar = Fraction(stream.sample_aspect_ratio or 1) or Fraction(1)
        nominal = Fraction(stream.base_rate or video.frame_rate or 0)
        audio = tuple(
            AudioInfo(a.index, a.codec_context.name, int(a.codec_context.channels or 0),
                      int(a.codec_context.sample_rate or 0), a.metadata.get("language"))
            for a in container.streams.audio
        )
        coded_w, coded_h = int(ctx.width), int(ctx.height)
        duration = float(container.duration) / 1e6 if container.duration else video.frame_count / float(
            video.frame_rate or 1)
        video_bitrate = _video_bitrate(stream, video.packet_bytes, duration)
    display_w = _even(float(coded_w * sar)) if sar != 1 else coded_w
    display_h = coded_h
    if video.rotation % 180:
        display_w, display_h = display_h, display_w
    info = SourceInfo(
        path=str(p), size_bytes=p.stat().st_size, container=video.container, codec=video.codec, duration=duration,
        coded_width=coded_w, coded_height=coded_h, width=display_w, height=display_h, rotation=video.rotation,
        frame_rate=video.frame_rate, nominal_frame_rate=nominal, variable_frame_rate=video.variable_frame_rate,
        frame_count=video.frame_count,
        pix_fmt=ctx.pix_fmt or "unknown", bit_depth=bit_depth, color_transfer=_TRANSFER_NAMES.get(trc, str(trc)),
        hdr=trc in _HDR_TRANSFERS, interlaced=interlaced, field_order=field_order, audio=audio,
        video_bitrate=video_bitrate,
    )
    logger.info("source %s: %dx%d %.3f fps%s, %.2fs, %s %d-bit%s%s, %d audio", p.name, info.width, info.height,
                float(info.frame_rate), " VFR" if info.variable_frame_rate else "", info.duration, info.pix_fmt,
                info.bit_depth, " HDR" if info.hdr else "", " interlaced" if info.interlaced else "", len(audio))
    return info


def check_limits(source: SourceInfo, settings: EngineSettings) -> None:
    """Reject a source over a limit from settings, naming the limit and the setting."""
    pixels = source.width * source.height
    if pixels > settings.max_pixels:
        raise SourceRejected(f"source is {source.width}x{source.height} ({pixels} pixels), over the limit of "
                             f"{settings.max_pixels} (WORKER_MAX_PIXELS)")
    if source.duration > settings.max_duration_s:
        raise SourceRejected(f"source lasts {source.duration:.1f}s, over the limit of {settings.max_duration_s:g}s "
                             "(WORKER_MAX_DURATION_S)")
    check_file_size(source.size_bytes, settings)
    if min(source.width, source.height) < settings.min_dimension:
        raise SourceRejected(f"source is {source.width}x{source.height}; both sides must be at least "
                             f"{settings.min_dimension} pixels (WORKER_MIN_DIMENSION)")
