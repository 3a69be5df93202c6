"""Headerless (raw) video inputs: the format ffmpeg needs to read them, and their frame size.

A ``.yuv`` file is only pixels: nothing in it says its width, height, pixel format or rate, so PyAV cannot probe it
and ffmpeg must be told with ``-f rawvideo -pix_fmt P -video_size WxH [-framerate FPS]``. Its frame count is its
size divided by the size of one frame; a remainder means the format given is wrong or the file is cut.

A raw input is passed to ``measure`` as a ``RawVideoPath``: the path, carrying its ``RawFormat``. Y4M (``.y4m``)
carries its format in its header and needs none of this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

__all__ = ["RAW_EXTENSIONS", "RawFormat", "RawVideoPath", "frame_bytes", "is_raw_path", "raw_format_of"]

RAW_EXTENSIONS = (".yuv",)
"""File name endings (any case) read as headerless video."""


@dataclass(frozen=True)
class RawFormat:
    """What ffmpeg must be told to read a headerless file."""

    width: int
    height: int
    pix_fmt: str
    """An ffmpeg pixel format with planar (or semi-planar) luma, e.g. ``yuv420p``, ``yuv422p10le``, ``nv12``,
    ``gray``; packed and RGB formats are refused (convert them to Y4M first)."""
    frame_rate: Fraction | None = None
    """``None``: unknown. ffmpeg then reads at its rawvideo default (25 fps), which changes nothing here because
    frames are paired by index, and the frame-rate check treats the rate as unknown."""

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"raw video width and height must be positive, got {self.width}x{self.height}")
        if self.frame_rate is not None and self.frame_rate <= 0:
            raise ValueError(f"raw video frame rate must be positive, got {self.frame_rate}")
        frame_bytes(self.width, self.height, self.pix_fmt)

    @property
    def frame_size(self) -> int:
        """Bytes in one frame (``frame_bytes``)."""
        return frame_bytes(self.width, self.height, self.pix_fmt)

    def to_dict(self) -> dict[str, object]:
        rate = self.frame_rate
        return {"width": self.width, "height": self.height, "pix_fmt": self.pix_fmt,
                "frame_rate": f"{rate.numerator}/{rate.denominator}" if rate is not None else None,
                "frame_size": self.frame_size}

    def input_args(self) -> list[str]:
        """The demuxer options that go before this input's ``-i``."""
        args = ["-f", "rawvideo", "-pix_fmt", self.pix_fmt, "-video_size", f"{self.width}x{self.height}"]
        if self.frame_rate is not None:
            args += ["-framerate", f"{self.frame_rate.numerator}/{self.frame_rate.denominator}"]
        return args


class RawVideoPath(str):
    """A path to a headerless file, carrying its ``RawFormat``; accepted wherever a path string is.

        >>> measure(RawVideoPath("dist.yuv", RawFormat(1920, 1080, "yuv420p", Fraction(25))), "ref.y4m")
    """

    raw: RawFormat

    def __new__(cls, path: str | os.PathLike[str], raw: RawFormat) -> RawVideoPath:
        self = super().__new__(cls, os.fspath(path))
        self.raw = raw
        return self

    def __reduce__(self) -> tuple[type[RawVideoPath], tuple[str, RawFormat]]:
        return (RawVideoPath, (str(self), self.raw))


def frame_bytes(width: int, height: int, pix_fmt: str) -> int:
    """Bytes in one frame: every plane packed without padding (ffmpeg's rawvideo layout, 2 bytes a sample above
    8 bits). Raises ``ValueError`` for unknown, packed or RGB pixel formats."""
    import av

    try:
        fmt = av.VideoFormat(pix_fmt, width, height)
    except ValueError as exc:
        raise ValueError(f"unknown pixel format {pix_fmt!r} (ffmpeg's names: yuv420p, yuv422p10le, ...)") from exc
    components = list(fmt.components)
    luma_plane = [c for c in components if c.plane == components[0].plane]
    if fmt.is_rgb or not components[0].is_luma or len(luma_plane) > 1:
        raise ValueError(f"pixel format {pix_fmt!r} is packed or RGB; raw inputs must be planar YUV or gray "
                         "(yuv420p, yuv422p, yuv444p, their 10/12/16-bit forms, nv12, p010le, gray)")
    return sum(c.width * c.height * (1 if c.bits <= 8 else 2) for c in components)


def is_raw_path(path: str | os.PathLike[str]) -> bool:
    """Whether the file name says headerless video (``RAW_EXTENSIONS``)."""
    return Path(path).suffix.lower() in RAW_EXTENSIONS


def raw_format_of(path: str | os.PathLike[str]) -> RawFormat | None:
    """The format a ``RawVideoPath`` carries, else ``None``."""
    return path.raw if isinstance(path, RawVideoPath) else None
