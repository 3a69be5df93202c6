"""VMAF on the GPU (libvmaf_cuda) where the ffmpeg build has it, detected, never assumed; the CPU otherwise and
after a GPU failure."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

import quality
from quality.alignment import AlignmentPlan
from quality.command import build_vmaf_cmd
from worker import engine, quality_stage
from worker.capabilities import FfmpegBuild, ffmpeg_build
from worker.command import EncodePlan
from worker.planning import assumed_scan
from worker.settings import EngineSettings

from .conftest import Clips
from .gpu_cases import profile_for
from .gpu_emulation import emulate_on_cpu

GPU_PLAN = EncodePlan("gpu", Fraction(30), 60, False, hw_decode=True, cuda_frames=True, gpu_index=1)


def test_the_gpu_scorer_is_chosen_only_with_the_filter_and_a_gpu() -> None:
    assert engine.vmaf_device(frozenset({"libvmaf", "libvmaf_cuda"}), GPU_PLAN) == "cuda"
    assert engine.vmaf_device(frozenset({"libvmaf"}), GPU_PLAN) == "cpu"
    assert engine.vmaf_device(frozenset({"libvmaf", "libvmaf_cuda"}), replace(GPU_PLAN, path="cpu",
                                                                              gpu_index=None)) == "cpu"


def test_cuda_options_score_vmaf_alone() -> None:
    with pytest.raises(ValueError, match="VMAF only"):
        quality.MeasureOptions(device="cuda")
    with pytest.raises(ValueError, match="device"):
        quality.MeasureOptions(metrics=("vmaf",), device="tpu")  # type: ignore[arg-type]


@pytest.mark.ffmpeg
def test_the_cuda_command_uploads_both_sides_and_the_pinned_build_lacks_the_filter(ffmpeg: str,
                                                                                  tmp_path: Path) -> None:
    assert "libvmaf_cuda" not in ffmpeg_build(ffmpeg).filters  # so the worker must not assume it
    clip = tmp_path / "c.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=1",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    info = quality.probe_video(clip)
    plan = AlignmentPlan(frames=10, dist_start=0, ref_start=0, resample_to=None, scale_to=None, pix_fmt=None)
    cmd = build_vmaf_cmd(ffmpeg, info, info, plan, quality.MeasureOptions(metrics=("vmaf",), device="cuda"),
                         "version=vmaf_v0.6.1", tmp_path / "log.json")
    graph = cmd[cmd.index("-filter_complex") + 1]
    assert graph.count("format=yuv420p,hwupload_cuda,scale_cuda=format=yuv420p") == 2
    assert "[dist][ref]libvmaf_cuda=" in graph and "]libvmaf=" not in graph
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "libvmaf_cuda" in done.stderr


@pytest.mark.ffmpeg
def test_a_failing_gpu_scorer_falls_back_to_the_cpu_with_a_note(clips: Clips, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real = quality_stage.ffmpeg_build

    def with_vmaf_cuda(path: str) -> FfmpegBuild:
        build = real(path)
        return replace(build, filters=build.filters | {"libvmaf_cuda"})

    monkeypatch.setattr(quality_stage, "ffmpeg_build", with_vmaf_cuda)
    manifest = engine.transcode(clips.files[("rot0", False)], tmp_path / "pkg", profile=profile_for("h264", small=True),
                                gpu_scan=assumed_scan("L4"), adapt_command=emulate_on_cpu,
                                settings=EngineSettings(encoder="auto", quality_policy="flag", nvenc_probe=False))
    assert manifest["video_path"] == "gpu"
    for rendition in manifest["renditions"]:
        vmaf = rendition["vmaf"]
        assert vmaf["device"] == "cpu" and vmaf["mean"] > 50
        assert any("libvmaf_cuda failed" in w for w in vmaf["warnings"])
