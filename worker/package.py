"""After the encode: per-rendition figures, the HLS master playlist, and the publish-by-rename of the package."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from worker.command import HLS_MASTER_NAME
from worker.ladder import RungPlan

__all__ = ["RenditionFiles", "collect_renditions", "master_playlist", "read_codecs", "staging_dir"]


@dataclass(frozen=True)
class RenditionFiles:
    index: int
    playlist: str
    init: str
    segments: tuple[str, ...]
    size_bytes: int
    average_bitrate: int
    """bits per second over the whole rendition, init segment included"""
    peak_bitrate: int
    """the largest segment's bits per second"""


def _segment_number(path: Path) -> int:
    match = re.search(r"_(\d+)\.m4s$", path.name)
    return int(match.group(1)) if match else 0


def collect_renditions(folder: Path, count: int, *, duration: float, segment_seconds: float) -> list[RenditionFiles]:
    """Sizes and bitrates of representations 0..count-1 as the DASH muxer wrote them."""
    out = []
    for index in range(count):
        init = folder / f"init_{index}.m4s"
        segments = sorted(folder.glob(f"seg_{index}_*.m4s"), key=_segment_number)
        if not init.exists() or not segments:
            raise FileNotFoundError(f"representation {index} is missing from {folder}")
        sizes = [s.stat().st_size for s in segments]
        total = init.stat().st_size + sum(sizes)
        peak = 0.0
        for n, size in enumerate(sizes):
            seconds = segment_seconds if n < len(sizes) - 1 else max(duration - segment_seconds * n, 0.001)
            if seconds > 0.25:  # a sliver of a last segment says nothing about the peak rate
                peak = max(peak, size * 8 / seconds)
        average = total * 8 / duration if duration > 0 else 0
        out.append(RenditionFiles(index, f"media_{index}.m3u8", init.name, tuple(s.name for s in segments), total,
                                  int(average), int(max(peak, average))))
    return out


def read_codecs(master: Path) -> dict[str, str]:
    """``{"media_0.m3u8": "avc1.64001f", ...}`` and the audio codec, from the muxer's own master playlist."""
    codecs: dict[str, str] = {}
    lines = master.read_text().splitlines()
    for line, following in zip(lines, lines[1:], strict=False):
        match = re.search(r'CODECS="([^"]+)"', line)
        if line.startswith("#EXT-X-STREAM-INF") and match:
            parts = match.group(1).split(",")
            codecs[following.strip()] = parts[0]
            if len(parts) > 1:
                codecs["audio"] = parts[1]
    return codecs


def master_playlist(renditions: Sequence[tuple[RungPlan, RenditionFiles, str]], frame_rate: Fraction,
                    audio: tuple[RenditionFiles, str] | None) -> str:
    """The HLS master: every rendition with BANDWIDTH (peak, audio included), AVERAGE-BANDWIDTH, RESOLUTION,
    CODECS and FRAME-RATE; audio, when present, as its own group."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio_peak = audio_avg = 0
    if audio is not None:
        files, codec = audio
        audio_peak, audio_avg = files.peak_bitrate, files.average_bitrate
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
                     f'URI="{files.playlist}"')
    for rung, files, codec in renditions:
        codec_list = codec if audio is None else f"{codec},{audio[1]}"
        attrs = [f"BANDWIDTH={files.peak_bitrate + audio_peak}",
                 f"AVERAGE-BANDWIDTH={files.average_bitrate + audio_avg}",
                 f"RESOLUTION={rung.width}x{rung.height}", f'CODECS="{codec_list}"',
                 f"FRAME-RATE={float(frame_rate):.3f}"]
        if audio is not None:
            attrs.append('AUDIO="aac"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), files.playlist]
    return "\n".join(lines) + "\n"


def write_master(folder: Path, text: str) -> None:
    tmp = folder / f".{HLS_MASTER_NAME}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / HLS_MASTER_NAME)


@contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """A hidden sibling of ``final`` to build the package in; renamed onto ``final`` only if the block succeeds.

    A failure removes the staging folder and leaves any earlier package at ``final`` untouched.
    """
    final = final.resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging-", dir=final.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(final, old)
    os.rename(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
