"""Shared fixtures: the real ffmpeg, and small clips generated with lavfi once per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from quality.options import resolve_ffmpeg
from quality.runner import run_ffmpeg_capture
from quality.samples import encode_cmd, transcode_cmd

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return resolve_ffmpeg()


def run(cmd: list[str]) -> None:
    run_ffmpeg_capture(cmd, timeout=300)


@dataclass(frozen=True)
class Clips:
    """320x180, 30 fps, 2 s (60 frames) unless said otherwise."""

    ref: Path  # high-quality reference, mp4
    dist: Path  # 80 kb/s re-encode of ref, mp4
    ref_mkv: Path  # ref remuxed to Matroska (1/1000 time base)
    dist_small: Path  # ref scaled to 160x90 and re-encoded
    dist_late: Path  # dist delayed: 5 frames of another picture prepended (65 frames)
    dist_short: Path  # first 50 frames of dist
    dist_25fps: Path  # ref converted to 25 fps
    dist_good: Path  # 600 kb/s re-encode of ref
    folder: Path


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Clips:
    d = tmp_path_factory.mktemp("clips")
    ref = d / "ref.mp4"
    run(encode_cmd(ffmpeg, ref, size="320x180", rate="30", duration=2, video=("-c:v", "libx264", "-crf", "8")))
    dist = d / "dist.mp4"
    run(transcode_cmd(ffmpeg, ref, dist, video=("-c:v", "libx264", "-b:v", "80k")))
    good = d / "dist_good.mp4"
    run(transcode_cmd(ffmpeg, ref, good, video=("-c:v", "libx264", "-b:v", "600k")))
    ref_mkv = d / "ref.mkv"
    run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(ref), "-c", "copy", str(ref_mkv)])
    small = d / "dist_small.mp4"
    run(transcode_cmd(ffmpeg, ref, small, filters="scale=160:90", video=("-c:v", "libx264", "-b:v", "60k")))
    late = d / "dist_late.mp4"
    run([ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
         "color=c=gray:size=320x180:rate=30:duration=1", "-i", str(dist), "-filter_complex",
         "[0:v]trim=end_frame=5,setpts=PTS-STARTPTS,format=yuv420p[a];[1:v]format=yuv420p[b];"
         "[a][b]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-crf", "10", str(late)])
    short = d / "dist_short.mp4"
    run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(dist), "-frames:v", "50", "-c:v", "libx264",
         "-b:v", "80k", str(short)])
    fps25 = d / "dist_25fps.mp4"
    run(transcode_cmd(ffmpeg, ref, fps25, filters="fps=25", video=("-c:v", "libx264", "-b:v", "150k")))
    return Clips(ref, dist, ref_mkv, small, late, short, fps25, good, d)


@dataclass(frozen=True)
class BadInputs:
    missing: Path
    zero_bytes: Path
    text: Path
    truncated: Path  # moov at the end, cut in half: the container cannot be parsed
    truncated_faststart: Path  # moov first, cut: fewer frames than declared
    audio_only: Path
    zero_frames: Path
    directory: Path


@pytest.fixture(scope="session")
def bad(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str, clips: Clips) -> BadInputs:
    import av

    d = tmp_path_factory.mktemp("bad")
    zero = d / "empty.mp4"
    zero.write_bytes(b"")
    text = d / "notes.mp4"
    text.write_text("this is not a video\n")
    whole = clips.ref.read_bytes()
    truncated = d / "truncated.mp4"
    truncated.write_bytes(whole[: len(whole) // 2])
    fast = d / "faststart.mp4"
    run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(clips.ref), "-c", "copy", "-movflags", "+faststart",
         str(fast)])
    data = fast.read_bytes()
    truncated_fs = d / "truncated_faststart.mp4"
    truncated_fs.write_bytes(data[: len(data) * 2 // 3])
    audio = d / "audio.m4a"
    run([ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(audio)])
    zero_frames = d / "zero_frames.mkv"
    with av.open(str(zero_frames), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        out.start_encoding()
    folder = d / "folder.mp4"
    folder.mkdir()
    return BadInputs(d / "missing.mp4", zero, text, truncated, truncated_fs, audio, zero_frames, folder)


@pytest.fixture
def fake_ffmpeg_without_libvmaf(tmp_path: Path) -> str:
    """A stand-in binary that answers like an ffmpeg built without libvmaf (a unit test of our error mapping;
    every real ffmpeg we can install here has libvmaf)."""
    script = tmp_path / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        "echo 'ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers' >&2\n"
        "echo \"[AVFilterGraph @ 0x55] No such filter: 'libvmaf'\" >&2\n"
        "echo 'Error initializing complex filters.' >&2\n"
        "exit 8\n"
    )
    script.chmod(0o755)
    assert shutil.which(str(script))
    return str(script)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real Azurite for the session. It fails, never skips, when Azurite cannot start: the suite is about it."""
    from localdev.azurite import Azurite, AzuriteError

    server = Azurite(tmp_path_factory.mktemp("azurite"))
    try:
        server.start()
    except AzuriteError as exc:
        pytest.fail(f"cannot start Azurite: {exc}")
    yield server
    server.stop()
