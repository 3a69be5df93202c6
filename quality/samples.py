"""Synthetic sample pairs (ffmpeg's ``testsrc2``) for the local stack, the tests and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from quality.options import resolve_ffmpeg
from quality.runner import run_ffmpeg_capture

__all__ = ["encode_cmd", "make_clip", "make_pair", "transcode_cmd"]


def encode_cmd(ffmpeg: str, output: Path | str, *, size: str = "640x360", rate: str = "30", duration: float = 2,
               source: str = "testsrc2", video: Sequence[str] = ("-c:v", "libx264", "-preset", "veryfast",
                                                                  "-crf", "12"),
               pix_fmt: str = "yuv420p", extra: Sequence[str] = (), audio: bool = False) -> list[str]:
    """A lavfi source encoded to ``output``; with ``audio``, a 440 Hz stereo AAC tone as long as the video."""
    tone = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={duration}"] if audio else []
    aac = ["-c:a", "aac", "-ac", "2", "-shortest"] if audio else []
    return [
        ffmpeg, "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"{source}=size={size}:rate={rate}:duration={duration}", *tone,
        *video, "-pix_fmt", pix_fmt, *aac, *extra, str(output),
    ]


def transcode_cmd(ffmpeg: str, source: Path | str, output: Path | str, *,
                  video: Sequence[str] = ("-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k"),
                  filters: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """Re-encode ``source`` (the distorted side of a pair)."""
    vf = ["-vf", filters] if filters else []
    return [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source), *vf, *video, *extra, str(output)]


def make_clip(output: Path | str, *, ffmpeg: str | None = None, **kwargs: object) -> Path:
    run_ffmpeg_capture(encode_cmd(resolve_ffmpeg(ffmpeg), output, **kwargs), timeout=900)  # type: ignore[arg-type]
    return Path(output)


def make_pair(directory: Path | str, *, size: str = "640x360", rate: str = "30", duration: float = 2,
              bitrate: str = "300k", ffmpeg: str | None = None, threads: int | None = None) -> tuple[Path, Path]:
    """A high-quality reference and a low-bitrate re-encode of it: returns ``(distorted, reference)``."""
    binary = resolve_ffmpeg(ffmpeg)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ref = folder / f"ref_{size}_{duration}s.mp4"
    dist = folder / f"dist_{size}_{duration}s_{bitrate}.mp4"
    thread_args = ("-threads", str(threads)) if threads else ()
    if not ref.exists():
        run_ffmpeg_capture(encode_cmd(binary, ref, size=size, rate=rate, duration=duration, extra=thread_args),
                           timeout=900)
    if not dist.exists():
        video = ("-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate)
        run_ffmpeg_capture(transcode_cmd(binary, ref, dist, video=video, extra=thread_args), timeout=900)
    return dist, ref
