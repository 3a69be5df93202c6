"""The content-aware commands for NVENC handed to the real ffmpeg on a machine without a GPU: each must get as far
as loading the driver and stop there (ffmpeg checks every option and encoder option before that), and the same
commands for the CPU encoders must run."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from worker.analysis import first_probe_cmd
from worker.capabilities import EncoderChoice
from worker.content_aware import ContentAware
from worker.encoder_args import video_codec_args
from worker.ladder import Codec, Profile, Rung, RungPlan
from worker.planning import assumed_scan, plan_job
from worker.settings import EngineSettings

from .conftest import Sources

pytestmark = pytest.mark.ffmpeg

CODECS: tuple[Codec, ...] = ("h264", "hevc", "av1")


def profile(codec: Codec) -> Profile:
    return Profile(name=f"ca-{codec}", codec=codec, rungs=(Rung(height=240, bitrate_k=400),), gop_seconds=1,
                   segment_seconds=2, cpu_preset="ultrafast", nvenc_preset="p1",
                   content_aware=ContentAware(heights=(240, 120)))


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("codec", CODECS)
def test_nvenc_probe_encodes_stop_only_at_the_driver(codec: Codec, sources: Sources, tmp_path: Path) -> None:
    settings = EngineSettings(encoder="auto", quality_policy="off")
    job = plan_job(sources.silent, tmp_path, profile(codec), settings, gpu_scan=assumed_scan("L40S"),
                   smoke_test=False)
    assert job.choice.kind == "nvenc"
    argv = first_probe_cmd(job, settings, tmp_path)
    assert argv.count("-cq:v:0") == 2 and f"{codec}_nvenc" in argv
    (tmp_path / ".analysis").mkdir()
    done = run(argv)
    first = next((line for line in done.stderr.splitlines() if line.strip()), "")
    assert done.returncode != 0 and "Cannot load libcuda.so.1" in first, done.stderr[-1500:]


@pytest.mark.parametrize("codec", CODECS)
def test_cpu_probe_encodes_run(codec: Codec, sources: Sources, tmp_path: Path) -> None:
    settings = EngineSettings(encoder="cpu", quality_policy="off")
    job = plan_job(sources.silent, tmp_path, profile(codec), settings)
    (tmp_path / ".analysis").mkdir()
    done = run(first_probe_cmd(job, settings, tmp_path))
    assert done.returncode == 0, done.stderr[-1500:]
    assert sorted(p.name for p in (tmp_path / ".analysis").iterdir()) == ["probe_0_0.mkv", "probe_0_1.mkv"]


@pytest.mark.parametrize(("encoder", "kind"), [("h264_nvenc", "nvenc"), ("hevc_nvenc", "nvenc"),
                                               ("av1_nvenc", "nvenc"), ("libx264", "cpu"), ("libx265", "cpu"),
                                               ("libsvtav1", "cpu")])
def test_capped_quality_rung_arguments(encoder: str, kind: str, ffmpeg: str) -> None:
    rung = RungPlan("240p", 320, 240, 300, 450, 900, "ultrafast", "p1", 90.0, crf=27.4)
    choice = EncoderChoice(kind, encoder, gpu_index=0 if kind == "nvenc" else None)  # type: ignore[arg-type]
    args = video_codec_args(0, rung, choice, 30, choice.gpu_index)
    assert args[args.index("-maxrate:v:0") + 1] == "450k" and args[args.index("-bufsize:v:0") + 1] == "900k"
    assert ("-cq:v:0" in args) == (kind == "nvenc") and ("-crf:v:0" in args) == (kind == "cpu")
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
           "testsrc2=size=320x240:rate=30:duration=1", "-map", "0:v", *args, "-frames:v", "10", "-f", "null", "-"]
    done = run(cmd)
    if kind == "nvenc":
        first = next((line for line in done.stderr.splitlines() if line.strip()), "")
        assert "Cannot load libcuda.so.1" in first, done.stderr[-1500:]
    else:
        assert done.returncode == 0, done.stderr[-1500:]
    vbr = video_codec_args(0, replace(rung, crf=None), choice, 30, choice.gpu_index)
    assert vbr[vbr.index("-b:v:0") + 1] == "300k" and "-crf:v:0" not in vbr and "-cq:v:0" not in vbr
