"""Probe a video file with PyAV (the ffmpeg wheels ship no ffprobe) and classify what is wrong with it."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from quality.errors import (
    CorruptInput,
    EmptyVideo,
    InputNotFound,
    NotAVideo,
    NoVideoStream,
    PartialRawFrame,
    RawFormatRequired,
)
from quality.raw import RAW_EXTENSIONS, RawFormat, is_raw_path, raw_format_of

__all__ = ["VideoInfo", "not_a_video", "open_options", "probe_video"]

logger = logging.getLogger(__name__)

# Leading bytes of containers we recognise: a file that starts like one of these and still cannot be parsed is
# damaged (truncated uploads are the usual cause), not "not a video".
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "mp4/mov"),
    (4, b"moov", "mp4/mov"),
    (4, b"mdat", "mp4/mov"),
    (4, b"free", "mp4/mov"),
    (4, b"wide", "mp4/mov"),
    (0, b"\x1a\x45\xdf\xa3", "matroska/webm"),
    (0, b"RIFF", "avi"),
    (0, b"FLV", "flv"),
    (0, b"\x47", "mpeg-ts"),
    (0, b"\x00\x00\x01\xba", "mpeg-ps"),
    (0, b"nut/multimedia", "nut"),
)


@dataclass(frozen=True)
class VideoInfo:
    """What the alignment rules need to know about one input's first video stream."""

    path: str
    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    frame_rate: Fraction
    time_base: Fraction
    declared_frames: int  # what the container says (0 when it does not say)
    frame_count: int  # packets actually readable
    duration: float | None
    rotation: int
    variable_frame_rate: bool = False
    """Frame durations differ by more than half (from the demuxed timestamps)."""
    raw: RawFormat | None = None
    """Set for a headerless input: the format ffmpeg is told to read it with (``quality.raw``)."""
    packet_bytes: int = 0
    """Bytes of the video stream's packets (counted in the same demux as ``frame_count``; 0 for raw inputs)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["raw"] = self.raw.to_dict() if self.raw is not None else None
        data["frame_rate"] = _fraction_str(self.frame_rate)
        data["frame_rate_fps"] = round(float(self.frame_rate), 6) if self.frame_rate else None
        data["time_base"] = _fraction_str(self.time_base)
        return data


# What an upload that is not a video usually is; named in the error instead of "not a media file".
_NOT_VIDEO: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "an image (PNG)"),
    (0, b"\xff\xd8\xff", "an image (JPEG)"),
    (0, b"GIF87a", "an image (GIF)"),
    (0, b"GIF89a", "an image (GIF)"),
    (8, b"WEBP", "an image (WebP)"),
    (0, b"II*\x00", "an image (TIFF)"),
    (0, b"MM\x00*", "an image (TIFF)"),
    (0, b"#EXTM3U", "an HLS playlist (it names other files; upload the media itself)"),
    (0, b"ffconcat", "an ffmpeg concat script (it names other files; upload the media itself)"),
    (0, b"<?xml", "an XML document (a DASH manifest names other files; upload the media itself)"),
)


def open_options(formats: str | None = None) -> dict[str, str]:
    """Options for opening untrusted media: local files only, and only the demuxers in ``formats`` (ffmpeg's
    names, comma-separated) when given, so that a playlist or a concat script cannot make ffmpeg read other files."""
    options = {"protocol_whitelist": "file"}
    if formats:
        options["format_whitelist"] = formats
    return options


def _match(path: Path, signatures: tuple[tuple[int, bytes, str], ...]) -> str | None:
    """The name of the first signature the file's first bytes carry, or ``None``."""
    with path.open("rb") as fh:
        head = fh.read(32)
    for offset, magic, name in signatures:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def not_a_video(path: Path) -> str | None:
    """What the file is, when its first bytes say it is an image or a playlist; else ``None``."""
    return _match(path, _NOT_VIDEO)


def _fraction_str(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _sniff(path: Path) -> str | None:
    return _match(path, _SIGNATURES)


def _variable(stamps: list[int]) -> bool:
    stamps.sort()
    deltas = [b - a for a, b in zip(stamps, stamps[1:], strict=False) if b > a]
    return len(deltas) >= 2 and max(deltas) > 1.5 * min(deltas)


def _first_frame_rotation(container: Any, stream: Any, path: Path) -> int:
    """Decode the first frame: proves the stream decodes and gives the display rotation ffmpeg will apply."""
    import av

    try:
        container.seek(0)
        for frame in container.decode(stream):
            return int(getattr(frame, "rotation", 0) or 0)
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"the first frame does not decode ({exc.strerror})", path=path) from exc
    raise CorruptInput("no frame decodes", path=path)


def _probe_raw(path: Path, size: int, raw: RawFormat) -> VideoInfo:
    """A headerless file: its frame count is its size over the frame size; nothing is demuxed or guessed."""
    frames, rest = divmod(size, raw.frame_size)
    if rest:
        raise PartialRawFrame(
            f"{size} bytes is not a whole number of {raw.width}x{raw.height} {raw.pix_fmt} frames "
            f"({raw.frame_size} bytes each: {frames} frames and {rest} bytes over); check --width, --height and "
            "--pix-fmt, or the file is cut",
            path=path, size=size, frame_size=raw.frame_size,
        )
    rate = raw.frame_rate or Fraction(0)
    return VideoInfo(
        path=str(path), container="rawvideo", codec="rawvideo", width=raw.width, height=raw.height,
        pix_fmt=raw.pix_fmt, frame_rate=rate, time_base=1 / rate if rate else Fraction(0),
        declared_frames=frames, frame_count=frames, duration=float(frames / rate) if rate else None, rotation=0,
        raw=raw,
    )


def probe_video(path: str | Path, *, formats: str | None = None, raw: RawFormat | None = None) -> VideoInfo:
    """Open ``path``, check it holds a readable video stream, and count its frames by demuxing.

    Counting demuxed packets reads the file once without decoding; it catches truncation that the container's
    declared frame count hides. Only the ``file`` protocol is allowed, and with ``formats`` only those demuxers
    (``open_options``). Raises one of the ``InvalidInput`` subclasses or ``InputNotFound``.

    A headerless input (``raw``, or a ``quality.raw.RawVideoPath`` carrying it) is not opened at all: its frame
    count is its size over the frame size. A ``.yuv`` without its format raises ``RawFormatRequired``.
    """
    import av  # deferred: importing PyAV costs tens of milliseconds

    p = Path(path)
    if not p.exists():
        raise InputNotFound("file does not exist", path=p)
    if not p.is_file():
        raise InputNotFound("not a regular file", path=p)
    size = p.stat().st_size
    if size == 0:
        raise EmptyVideo("file is empty (0 bytes)", path=p)
    raw = raw or raw_format_of(path)
    if raw is not None:
        return _probe_raw(p, size, raw)
    if is_raw_path(p):
        raise RawFormatRequired(
            f"headerless video ({'/'.join(RAW_EXTENSIONS)}) says nothing about its format: give its width, height "
            "and pixel format (--width, --height, --pix-fmt), or convert it to Y4M", path=p,
            missing=("width", "height", "pix_fmt"),
        )

    try:
        container = av.open(str(p), options=open_options(formats))
    except av.error.EOFError as exc:
        raise EmptyVideo(f"no frames could be read: the file ends before its first frame ({exc.strerror})",
                         path=p) from exc
    except (av.error.InvalidDataError, av.error.FFmpegError) as exc:
        what = not_a_video(p)
        if what is not None:
            raise NotAVideo(f"is {what}, not a video", path=p) from exc
        kind = _sniff(p)
        if kind is not None:
            raise CorruptInput(
                f"looks like {kind} but cannot be parsed; the file is damaged or truncated "
                f"({exc.strerror}); re-upload or re-export it",
                path=p,
            ) from exc
        if formats:
            raise NotAVideo(f"not a media file this service accepts ({exc.strerror}; containers accepted: "
                            f"{formats})", path=p) from exc
        raise NotAVideo(f"not a media file ffmpeg can read ({exc.strerror})", path=p) from exc

    with container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            what = ", ".join(kinds) if kinds else "no streams"
            raise NoVideoStream(f"has no video stream (found: {what})", path=p)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(0)
        count = packet_bytes = 0
        stamps: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.size:
                    count += 1
                    packet_bytes += packet.size
                    if packet.pts is not None:
                        stamps.append(packet.pts)
        except av.error.FFmpegError as exc:
            raise CorruptInput(f"damaged after {count} frames ({exc.strerror})", path=p) from exc
        declared = int(stream.frames or 0)
        rotation = _first_frame_rotation(container, stream, p) if count else 0
        duration = float(container.duration) / 1_000_000 if container.duration else None
        info = VideoInfo(
            path=str(p),
            container=container.format.name,
            codec=ctx.name,
            width=int(stream.width or ctx.width),
            height=int(stream.height or ctx.height),
            pix_fmt=ctx.pix_fmt,
            frame_rate=Fraction(rate),
            time_base=Fraction(stream.time_base or 0),
            declared_frames=declared,
            frame_count=count,
            duration=duration,
            rotation=rotation,
            variable_frame_rate=_variable(stamps),
            packet_bytes=packet_bytes,
        )
    if count == 0:
        raise EmptyVideo("the video stream has zero frames", path=p)
    if declared and count < declared:
        raise CorruptInput(
            f"truncated: the container declares {declared} frames but only {count} can be read", path=p
        )
    if rotation % 180:
        info = VideoInfo(**{**asdict(info), "width": info.height, "height": info.width})
    logger.debug("probed %s: %dx%d %s fps, %d frames", p, info.width, info.height, rate, count)
    return info
