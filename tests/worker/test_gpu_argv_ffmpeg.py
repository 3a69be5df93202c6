"""The GPU commands handed to the real, pinned ffmpeg on a machine without a GPU.

ffmpeg parses every option, and checks encoder options, before it needs the driver, so each check below fails on
a wrong argument and passes only when the first thing that goes wrong is the missing GPU:

(a) the whole ladder command stops at CUDA device creation (decoder or upload), nothing earlier;
(b) each video output's encoder arguments, on a one-frame input, stop at "Cannot load libcuda.so.1";
(c) every CUDA filter's options exist, with valid values, in ``ffmpeg -h filter=NAME``.
Then the same graph with every CUDA step swapped for its CPU twin (``gpu_emulation``) makes a package that plays.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from worker.engine import transcode
from worker.errors import EncodeCrashed
from worker.planning import JobPlan, assumed_scan, plan_job
from worker.settings import EngineSettings

from .conftest import Clips
from .ffmpeg_help import check_filter_args, graph_filters
from .gpu_cases import CASES, SCENARIOS, VARIANTS, Case, profile_for
from .gpu_emulation import emulate_on_cpu
from .test_engine import decode, parse_master

pytestmark = pytest.mark.ffmpeg

CUDA_INIT = ("Device creation failed", "No device available for decoder", "Cannot load libcuda.so.1",
             "Could not dynamically load CUDA")


def plan_case(case: Case, clip: Path, out: Path) -> JobPlan:
    model = SCENARIOS[case.scenario]
    settings = EngineSettings(encoder="cpu" if model is None else "auto", quality_policy="off")
    return plan_job(clip, out, profile_for(case.codec, small=True), settings,
                    gpu_scan=assumed_scan(model) if model else None, smoke_test=False)


@pytest.fixture(scope="session")
def plans(clips: Clips, tmp_path_factory: pytest.TempPathFactory) -> dict[str, JobPlan]:
    out = tmp_path_factory.mktemp("gpu-out")
    return {case.key: plan_case(case, clips.for_case(case), out / case.key) for case in CASES}


def run(argv: list[str] | tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_every_case_plans_the_path_its_source_allows(plans: dict[str, JobPlan]) -> None:
    paths = {key: job.plan.path for key, job in plans.items()}
    assert {paths[f"gpu-h264-{v}"] for v in ("rot0", "rot90", "rot180", "rot270", "interlaced")} == {"gpu"}
    assert paths["gpu-h264-10bit"] == "gpu-hybrid"  # NVDEC (Ada) cannot decode H.264 High 10
    assert paths["gpu-h264-hdr"] == "gpu-hybrid"  # tone mapping on the CPU
    assert {paths[f"gpu-hybrid-{c}-{v}"] for c in ("h264", "hevc", "av1") for v in VARIANTS} == {"gpu-hybrid"}
    assert paths["gpu-decode-h264-rot90"] == "gpu-decode" and paths["gpu-decode-h264-10bit"] == "cpu"
    assert {p for k, p in paths.items() if k.startswith("cpu-")} == {"cpu"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.key)
def test_a_whole_command_fails_only_where_the_gpu_is_needed(case: Case, plans: dict[str, JobPlan]) -> None:
    job = plans[case.key]
    Path(job.argv[-1]).parent.mkdir(parents=True, exist_ok=True)
    done = run(job.argv)
    if job.plan.path == "cpu":
        assert done.returncode == 0, done.stderr[-2000:]
        assert Path(job.argv[-1]).parent.joinpath("manifest.mpd").exists()
        return
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors and any(marker in errors[0] for marker in CUDA_INIT), done.stderr[-2000:]


def test_b_encoder_arguments_fail_only_at_the_driver(plans: dict[str, JobPlan], ffmpeg: str) -> None:
    seen: set[tuple[str, ...]] = set()
    for key, job in plans.items():
        for args in job.encoders():
            flat = tuple(args)
            if flat in seen:
                continue
            seen.add(flat)
            stream = int(args[0].rsplit(":", 1)[1])
            cmd = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                   "color=c=gray:size=320x240:rate=30:duration=1", *(["-map", "0:v"] * (stream + 1)), *args,
                   "-frames:v", "1", "-f", "null", "-"]
            done = run(cmd)
            if args[1].endswith("_nvenc"):
                first = next((line for line in done.stderr.splitlines() if line.strip()), "")
                assert "Cannot load libcuda.so.1" in first, (key, args, done.stderr[-1500:])
            else:
                assert done.returncode == 0, (key, args, done.stderr[-1500:])
    assert any(a[1] == "av1_nvenc" for a in seen) and any(a[1] == "hevc_nvenc" for a in seen)


def test_b_catches_an_x264_preset_on_nvenc(ffmpeg: str) -> None:
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=size=64x64:duration=1",
           "-map", "0:v", "-c:v:0", "h264_nvenc", "-preset:v:0", "veryfast", "-frames:v", "1", "-f", "null", "-"]
    stderr = run(cmd).stderr
    assert "Error applying encoder options" in stderr and "libcuda" not in stderr


def test_c_cuda_filter_options_exist_in_the_pinned_build(plans: dict[str, JobPlan], ffmpeg: str) -> None:
    used: set[str] = set()
    for key, job in plans.items():
        graph = job.argv[job.argv.index("-filter_complex") + 1]
        for name, args in graph_filters(graph):
            if name.endswith("_cuda"):
                used.add(name)
                assert check_filter_args(ffmpeg, name, args) == [], key
    assert used == {"bwdif_cuda", "transpose_cuda", "scale_cuda", "hwupload_cuda"}
    assert check_filter_args(ffmpeg, "transpose_cuda", "dir=half") != []  # the checker can fail
    assert check_filter_args(ffmpeg, "scale_cuda", "w=2:h=2:interp=bicubic") != []


def first_frame(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="gray").astype(float), int(frame.rotation or 0)


@pytest.mark.parametrize("key", ["gpu-h264-rot90", "gpu-h264-rot180", "gpu-h264-rot270", "gpu-h264-interlaced",
                                 "gpu-hevc-rot90", "gpu-hybrid-h264-rot270", "gpu-decode-av1-rot180"])
def test_cpu_emulation_of_the_gpu_graph_makes_a_package_that_plays(key: str, clips: Clips,
                                                                   tmp_path: Path) -> None:
    case = next(c for c in CASES if c.key == key)
    clip = clips.for_case(case)
    profile = profile_for(case.codec, small=True)
    gpu = transcode(clip, tmp_path / "gpu", profile=profile, gpu_scan=assumed_scan(SCENARIOS[case.scenario] or ""),
                    settings=EngineSettings(encoder="auto", quality_policy="off", nvenc_probe=False),
                    adapt_command=emulate_on_cpu)
    assert gpu["video_path"] == case.scenario
    if case.scenario == "gpu-decode":  # the H100: CPU encoders, for want of NVENC, fed by NVDEC and scale_cuda
        assert gpu["fallback_reason"].startswith("gpu-without-nvenc") and gpu["encoder"].startswith("lib")
    else:  # the L4's NVENC, emulated: no fallback recorded
        assert gpu["fallback_reason"] is None and gpu["encoder"].endswith("_nvenc")
    cpu = transcode(clip, tmp_path / "cpu", profile=profile, settings=EngineSettings(encoder="cpu",
                                                                                     quality_policy="off"))
    variants = parse_master((tmp_path / "gpu" / "master.m3u8").read_text())
    assert [v["RESOLUTION"] for v in variants] == [f"{r['width']}x{r['height']}" for r in cpu["renditions"]]
    assert all(v["CODECS"].split(",")[0] for v in variants)  # no empty video codec
    codec_prefix = {"h264": "avc1.", "hevc": "hvc1.", "av1": "av01."}[case.codec]
    assert all(v["CODECS"].startswith(codec_prefix) for v in variants)
    mpd = (tmp_path / "gpu" / "manifest.mpd").read_text()
    assert re.findall(r'codecs="([^"]*)"', mpd) and all(re.findall(r'codecs="([^"]*)"', mpd))
    keyframes = []
    for v, rendition in zip(variants, gpu["renditions"], strict=True):
        width, height, frames, keys = decode(tmp_path / "gpu", v["URI"])
        assert (width, height) == (rendition["width"], rendition["height"])
        assert frames == 30
        keyframes.append(keys)
    assert keyframes[0] == keyframes[1] == [0.0, 0.5]
    top_gpu, rotation = first_frame(tmp_path / "gpu" / gpu["renditions"][0]["path"])
    top_cpu, _ = first_frame(tmp_path / "cpu" / cpu["renditions"][0]["path"])
    assert rotation == 0  # upright pixels, no rotation left for a player to apply again
    assert top_gpu.shape == top_cpu.shape
    assert np.abs(top_gpu - top_cpu).mean() < 4  # the picture ffmpeg's own autorotation gives
    assert np.abs(np.rot90(top_gpu, 2) - top_cpu).mean() > 20  # and a half-turn of it would not pass


def test_a_gpu_failure_under_auto_reruns_the_job_on_the_cpu(clips: Clips, tmp_path: Path) -> None:
    clip = clips.files[("rot90", False)]
    manifest = transcode(clip, tmp_path / "pkg", profile=profile_for("h264", small=True),
                         gpu_scan=assumed_scan("T4"),
                         settings=EngineSettings(encoder="auto", quality_policy="off", nvenc_probe=False))
    assert (manifest["video_path"], manifest["encoder"]) == ("cpu", "libx264")
    assert manifest["fallback_reason"].startswith("gpu-failed: ")
    assert any(marker in manifest["fallback_reason"] for marker in CUDA_INIT)
    assert [(r["width"], r["height"]) for r in manifest["renditions"]] == [(240, 320), (120, 160)]


def test_a_gpu_failure_under_gpu_policy_stays_transient(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(EncodeCrashed) as caught:
        transcode(clips.files[("rot0", False)], tmp_path / "pkg", profile=profile_for("h264", small=True),
                  gpu_scan=assumed_scan("T4"),
                  settings=EngineSettings(encoder="gpu", quality_policy="off", nvenc_probe=False))
    assert not caught.value.permanent and "GPU" in str(caught.value)
    assert not (tmp_path / "pkg").exists()
