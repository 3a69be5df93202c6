"""What the uploads carry: a small valid MP4 (``testsrc2`` encoded with the project's ffmpeg), padded to the size
asked for with a top-level ``free`` box, so every upload is still a file a player and the worker can open."""

from __future__ import annotations

import struct
from pathlib import Path

from quality.options import resolve_ffmpeg
from quality.runner import run_ffmpeg_capture
from quality.samples import encode_cmd

__all__ = ["E2E_PROFILE", "make_clip", "make_payload", "pad_mp4", "parse_size"]

E2E_PROFILE = """\
name: loadtest-e2e
gop_seconds: 1
segment_seconds: 2
cpu_preset: ultrafast
rungs:
  - {height: 180, bitrate_k: 300}
  - {height: 120, bitrate_k: 150}
"""
"""A two-rung ladder that a CPU encodes in about a second per clip: the end-to-end scenario measures the path."""

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2}


def parse_size(text: str) -> int:
    """``"65536"``, ``"64KiB"``, ``"64k"`` (1000s), ``"1MiB"`` -> bytes."""
    raw = text.strip().lower().replace(" ", "")
    digits = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(digits):]
    if not digits or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size such as 65536, 64KiB or 1MiB")
    size = int(float(digits) * _UNITS[unit])
    if size < 1:
        raise ValueError(f"an upload must have at least 1 byte, got {text!r}")
    return size


def make_clip(path: Path, *, size: str = "320x180", duration: float = 2, ffmpeg: str | None = None) -> Path:
    """A real H.264 clip (``testsrc2``), encoded fast; the end-to-end scenario uploads it as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = encode_cmd(resolve_ffmpeg(ffmpeg), path, size=size, rate="30", duration=duration,
                     video=("-c:v", "libx264", "-preset", "ultrafast", "-crf", "23"))
    run_ffmpeg_capture(cmd, timeout=300)
    return path


def pad_mp4(data: bytes, size: int) -> bytes:
    """``data`` followed by a ``free`` box that brings it to ``size`` bytes (unchanged when it is not smaller)."""
    missing = size - len(data)
    if missing <= 0:
        return data
    if missing < 8:  # a box header is 8 bytes; a short tail of zeros is ignored by MP4 readers after the last box
        return data + b"\0" * missing
    return data + struct.pack(">I4s", missing, b"free") + b"\0" * (missing - 8)


def make_payload(path: Path, size: int, *, ffmpeg: str | None = None) -> Path:
    """A 160x90, 1 s MP4 padded to ``size`` bytes (larger than ``size`` when the clip itself is: about 10 KB)."""
    clip = make_clip(path.with_name(path.stem + "-clip.mp4"), size="160x90", duration=1, ffmpeg=ffmpeg)
    path.write_bytes(pad_mp4(clip.read_bytes(), size))
    return path
