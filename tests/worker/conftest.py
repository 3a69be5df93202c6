"""Sources for the engine tests, generated with lavfi once per session (small, so CI stays fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from quality.runner import run_ffmpeg_capture
from worker.ladder import Profile, Rung
from worker.settings import EngineSettings

from .gpu_cases import Case


def ff(ffmpeg: str, *args: str) -> None:
    run_ffmpeg_capture([ffmpeg, "-nostdin", "-v", "error", "-y", *args], timeout=300)


@dataclass(frozen=True)
class Sources:
    av: Path  # 320x240, 30 fps, 3 s, stereo AAC
    rotated: Path  # 320x240 coded, display rotation 90: a portrait phone video (240x320 displayed)
    odd: Path  # 321x241
    ten_bit: Path  # yuv420p10le H.264 High 10
    interlaced: Path  # 320x240 interlaced, top field first
    vfr: Path  # variable frame rate
    tiny: Path  # 16x16
    still: Path  # a single PNG image
    silent: Path  # video only
    hdr: Path  # 10-bit PQ (SMPTE 2084), BT.2020
    folder: Path


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Sources:
    d = tmp_path_factory.mktemp("sources")
    src = "testsrc2=size=320x240:rate=30:duration=3"
    x264 = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "18")
    ff(ffmpeg, "-f", "lavfi", "-i", src, "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-ac", "2",
       *x264, "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(d / "av.mp4"))
    ff(ffmpeg, "-f", "lavfi", "-i", src, *x264, "-pix_fmt", "yuv420p", str(d / "silent.mp4"))
    ff(ffmpeg, "-display_rotation", "90", "-i", str(d / "silent.mp4"), "-c", "copy", str(d / "rotated.mp4"))
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=321x241:rate=25:duration=2", "-c:v", "libx264rgb",
       "-preset", "ultrafast", "-crf", "18", str(d / "odd.mkv"))
    ff(ffmpeg, "-f", "lavfi", "-i", src, *x264, "-pix_fmt", "yuv420p10le", str(d / "ten_bit.mp4"))
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=60:duration=3", "-vf",
       "tinterlace=mode=interleave_top,setfield=tff", *x264, "-flags", "+ildct+ilme", "-pix_fmt", "yuv420p",
       str(d / "interlaced.mp4"))
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=3", "-vf",
       "setpts='if(lt(N,45),N/30/TB,(45/30+(N-45)/15)/TB)'", "-fps_mode", "vfr", *x264, "-pix_fmt", "yuv420p",
       str(d / "vfr.mp4"))
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=16x16:rate=30:duration=2", *x264, "-pix_fmt", "yuv420p",
       str(d / "tiny.mp4"))
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1:duration=1", "-frames:v", "1",
       str(d / "still.png"))
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2", "-vf",
       "setparams=color_trc=smpte2084:color_primaries=bt2020:colorspace=bt2020nc:range=tv", *x264,
       "-pix_fmt", "yuv420p10le", str(d / "hdr.mp4"))
    return Sources(d / "av.mp4", d / "rotated.mp4", d / "odd.mkv", d / "ten_bit.mp4", d / "interlaced.mp4",
                   d / "vfr.mp4", d / "tiny.mp4", d / "still.png", d / "silent.mp4", d / "hdr.mp4", d)


@pytest.fixture(scope="session")
def small_profile() -> Profile:
    return Profile(name="test", rungs=(Rung(height=240, bitrate_k=400, min_vmaf=20), Rung(height=120, bitrate_k=150)),
                   gop_seconds=1, segment_seconds=2, cpu_preset="ultrafast")


@pytest.fixture
def settings() -> EngineSettings:
    return EngineSettings(encoder="cpu", quality_policy="off", vmaf_subsample=3, stall_timeout_s=60)


# -- the service against a real Azurite ----------------------------------------------------------------------------

@pytest.fixture
def stack(azurite, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Containers, queues and tables of their own (unique names) on the session's Azurite."""
    import uuid

    from localdev.stack import LocalStack, StackNames

    tag = uuid.uuid4().hex[:8]
    names = StackNames(uploads=f"up-{tag}", outputs=f"out-{tag}", queue=f"jobs-{tag}", table=f"jobs{tag}",
                       receipts=f"receipts{tag}")
    s = LocalStack(tmp_path / "stack", names=names, azurite=azurite)
    s.start_storage()
    yield s
    s.stop_workers(timeout=30)
    if s.delivery is not None:
        s.delivery.stop()


@pytest.fixture(scope="session")
def profile_file(tmp_path_factory: pytest.TempPathFactory, small_profile: Profile) -> Path:
    import yaml

    path = tmp_path_factory.mktemp("profiles") / "small.yaml"
    path.write_text(yaml.safe_dump(small_profile.model_dump(mode="json")))
    return path


@pytest.fixture(scope="session")
def slow_profile_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An encode that takes several seconds on 2 cores: time to kill or signal a worker in the middle of it."""
    path = tmp_path_factory.mktemp("profiles") / "slow.yaml"
    path.write_text("name: slow\ngop_seconds: 1\nsegment_seconds: 2\ncpu_preset: veryslow\n"
                    "rungs:\n  - {height: 360, bitrate_k: 800}\n  - {height: 240, bitrate_k: 400}\n")
    return path


@pytest.fixture(scope="session")
def long_source(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=12", "-c:v", "libx264", "-preset",
       "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", str(path))
    return path


@dataclass(frozen=True)
class Clips:
    files: dict[tuple[str, bool], Path]  # (variant, prores) -> file

    def for_case(self, case: Case) -> Path:
        return self.files[(case.variant, case.scenario == "gpu-hybrid")]


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Clips:
    d = tmp_path_factory.mktemp("gpu-clips")
    src = ("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=1")
    x264 = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "20")
    prores = ("-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le")
    files: dict[tuple[str, bool], Path] = {}
    for is_prores, ext, codec in ((False, "mp4", x264), (True, "mov", prores)):
        plain = d / f"rot0.{ext}"
        pix = () if is_prores else ("-pix_fmt", "yuv420p")
        ff(ffmpeg, *src, *codec, *pix, str(plain))
        files[("rot0", is_prores)] = plain
        for angle in (90, 180, 270):
            files[(f"rot{angle}", is_prores)] = d / f"rot{angle}.{ext}"
            ff(ffmpeg, "-display_rotation", str(angle), "-i", str(plain), "-c", "copy", str(d / f"rot{angle}.{ext}"))
        files[("interlaced", is_prores)] = d / f"interlaced.{ext}"
        ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=60:duration=1", "-vf",
           "tinterlace=mode=interleave_top,setfield=tff", *codec, *pix, "-flags", "+ildct+ilme",
           str(d / f"interlaced.{ext}"))
        files[("10bit", is_prores)] = d / f"10bit.{ext}"
        ff(ffmpeg, *src, *codec, *(() if is_prores else ("-pix_fmt", "yuv420p10le")), str(d / f"10bit.{ext}"))
        files[("hdr", is_prores)] = d / f"hdr.{ext}"
        hdr_codec = codec if is_prores else ("-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                                             "log-level=error", "-pix_fmt", "yuv420p10le")
        ff(ffmpeg, *src, "-vf", "setparams=color_trc=smpte2084:color_primaries=bt2020:colorspace=bt2020nc:range=tv",
           *hdr_codec, "-color_trc", "smpte2084", str(d / f"hdr.{ext}"))
    return Clips(files)
