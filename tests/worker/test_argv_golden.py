"""Golden tests of the whole ladder command for every scenario x codec x source variant (tests/data/golden_argv.json).

A change to any argument shows here as a diff to review. Regenerate after an intended change with
``UPDATE_GOLDEN=1 pytest tests/worker/test_argv_golden.py`` and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from worker.analysis_plan import analysis_windows, candidate_sizes
from worker.command import build_ladder_cmd, plan_encode
from worker.content_aware import ContentAware
from worker.ladder import plan_ladder
from worker.probe_command import ProbeEncode, build_probe_cmd
from worker.settings import EngineSettings

from .gpu_cases import CASES, Case, choice_for, profile_for, variant_source

GOLDEN = Path(__file__).parent.parent / "data" / "golden_argv.json"


def render(case: Case) -> dict[str, str | None]:
    source = variant_source(case.variant, case.scenario)
    profile = profile_for(case.codec)
    choice = choice_for(case)
    plan = plan_encode(source, profile, choice)
    rungs = plan_ladder(source.width, source.height, profile)
    argv = build_ladder_cmd("ffmpeg", source, rungs, profile, choice, plan, "/out",
                            formats=EngineSettings().input_formats)
    return {"path": plan.path, "encoder": choice.encoder, "argv": shlex.join(argv)}


CONTENT_AWARE = ContentAware(heights=(1080, 720, 360))
PROBE_VARIANTS = ("rot0", "interlaced", "hdr")


def render_probe(case: Case) -> dict[str, str | None]:
    """The content-aware analysis' first round of probe encodes (CPU decode and scaling, the job's encoder)."""
    source = variant_source(case.variant, case.scenario)
    profile = profile_for(case.codec)
    choice = choice_for(case)
    plan = plan_encode(source, profile, choice)
    windows, whole = analysis_windows(source.duration, plan.frame_rate, profile.segment_seconds, CONTENT_AWARE,
                                      EngineSettings())
    probes = [ProbeEncode(w, h, CONTENT_AWARE.crf_start, Path(f"/out/.analysis/probe_0_{j}.mkv"))
              for j, (w, h) in enumerate(candidate_sizes(source.width, source.height, CONTENT_AWARE))]
    argv = build_probe_cmd("ffmpeg", source, windows, plan.frame_rate, probes, whole=whole,
                           encoder=choice.encoder, kind=choice.kind, cpu_preset=profile.cpu_preset,
                           nvenc_preset=profile.nvenc_preset, gop=plan.gop_frames,
                           gpu_index=plan.gpu_index if choice.kind == "nvenc" else None,
                           formats=EngineSettings().input_formats)
    return {"path": "probe", "encoder": choice.encoder, "argv": shlex.join(argv)}


def render_capped(case: Case) -> dict[str, str | None]:
    """A content-aware ladder: each rung at its chosen CRF (NVENC ``-cq``) under its peak rate."""
    source = variant_source(case.variant, case.scenario)
    profile = profile_for(case.codec)
    choice = choice_for(case)
    plan = plan_encode(source, profile, choice)
    rungs = [replace(r, crf=crf, maxrate_k=int(r.bitrate_k * 1.5), bufsize_k=r.bitrate_k * 3)
             for r, crf in zip(plan_ladder(source.width, source.height, profile), (21.5, 25.0, 30.25), strict=True)]
    argv = build_ladder_cmd("ffmpeg", source, rungs, profile, choice, plan, "/out",
                            formats=EngineSettings().input_formats)
    return {"path": plan.path, "encoder": choice.encoder, "argv": shlex.join(argv)}


def rendered_all() -> dict[str, dict[str, str | None]]:
    rendered = {case.key: render(case) for case in CASES}
    for case in CASES:
        if case.variant in PROBE_VARIANTS and case.scenario != "gpu-hybrid":
            rendered[f"probe-{case.key}"] = render_probe(case)
            rendered[f"capped-{case.key}"] = render_capped(case)
    return rendered


def test_golden_argv_for_every_case() -> None:
    rendered = rendered_all()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(rendered, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(golden) == sorted(rendered)
    for key, value in rendered.items():
        assert value == golden[key], key


@pytest.mark.parametrize(
    ("key", "path"),
    [("gpu-h264-rot0", "gpu"), ("gpu-h264-rot180", "gpu"), ("gpu-h264-interlaced", "gpu"),
     ("gpu-h264-10bit", "gpu-hybrid"), ("gpu-hevc-hdr", "gpu-hybrid"), ("gpu-h264-hdr", "gpu-hybrid"),
     ("gpu-hybrid-av1-rot90", "gpu-hybrid"), ("gpu-decode-hevc-rot270", "gpu-decode"),
     ("gpu-decode-h264-hdr", "cpu"), ("gpu-decode-h264-10bit", "cpu"), ("cpu-av1-rot90", "cpu")],
)
def test_the_planner_picks_the_path_from_what_the_gpu_can_do(key: str, path: str) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert golden[key]["path"] == path


def test_golden_gpu_argv_reads_as_intended() -> None:
    """The fixes, spelled out on the golden commands themselves."""
    golden = json.loads(GOLDEN.read_text())
    for key, value in golden.items():
        argv = shlex.split(value["argv"])
        assert "-autorotate" not in argv and "-strict_gop" not in " ".join(argv), key
        i = argv.index("-i")
        assert argv[i - 4: i] == ["-protocol_whitelist", "file", "-format_whitelist", EngineSettings().input_formats]
        if value["encoder"].endswith("_nvenc"):
            presets = [argv[i + 1] for i, a in enumerate(argv) if a.startswith("-preset:v:")]
            assert presets and all(p in {f"p{n}" for n in range(1, 8)} for p in presets), key
            assert sum(a.startswith("-gpu:v:") for a in argv) == sum(a.startswith("-c:v:") for a in argv), key
            assert sum(a.startswith("-rc-lookahead:v:") for a in argv) == sum(
                a.startswith("-no-scenecut:v:") for a in argv) > 0, key
        if value["encoder"] in ("hevc_nvenc", "libx265"):
            assert sum(a.startswith("-tag:v:") and argv[i + 1] == "hvc1" for i, a in enumerate(argv)) == 3, key
        if "-hwaccel_output_format" in argv and "-rot0" not in key and key.split("-")[-1].startswith("rot"):
            assert argv[argv.index("-i") - 6: argv.index("-i") - 4] == ["-display_rotation:v:0", "0"], key
    assert "transpose_cuda=dir=reversal" in golden["gpu-h264-rot180"]["argv"]
    assert "[0:v]transpose_cuda=dir=clock," in golden["gpu-decode-h264-rot270"]["argv"]
    assert "hwupload_cuda=device=0" in golden["gpu-hybrid-h264-rot0"]["argv"]
    nvenc_presets = shlex.split(golden["gpu-h264-rot0"]["argv"])
    assert [nvenc_presets[i + 1] for i, a in enumerate(nvenc_presets) if a.startswith("-preset:v:")] == [
        "p4", "p5", "p4"]
    cpu = shlex.split(golden["cpu-h264-rot0"]["argv"])
    assert [cpu[i + 1] for i, a in enumerate(cpu) if a.startswith("-preset:v:")] == ["veryfast", "veryfast", "faster"]


def test_golden_content_aware_argv_reads_as_intended() -> None:
    golden = json.loads(GOLDEN.read_text())
    probe = shlex.split(golden["probe-gpu-h264-rot0"]["argv"])
    # constant quality on NVENC: VBR with a -cq target and no average rate, one output per candidate
    assert [probe[i + 1] for i, a in enumerate(probe) if a == "-cq:v:0"] == ["23", "23", "23"]
    assert [probe[i + 1] for i, a in enumerate(probe) if a == "-b:v:0"] == ["0", "0", "0"]
    assert [probe[i + 1] for i, a in enumerate(probe) if a == "-rc:v:0"] == ["vbr", "vbr", "vbr"]
    assert "-hwaccel" not in probe and "scale_cuda" not in " ".join(probe)  # CPU decode and scaling
    assert [a for a in probe if a.endswith(".mkv")] == [f"/out/.analysis/probe_0_{j}.mkv" for j in range(3)]
    cpu = shlex.split(golden["probe-cpu-h264-rot0"]["argv"])
    assert [cpu[i + 1] for i, a in enumerate(cpu) if a == "-crf:v:0"] == ["23", "23", "23"]
    assert "bwdif=mode=send_frame:deint=interlaced" in golden["probe-gpu-h264-interlaced"]["argv"]
    capped = shlex.split(golden["capped-gpu-h264-rot0"]["argv"])
    assert [capped[i + 1] for i, a in enumerate(capped) if a.startswith("-cq:v:")] == ["22", "25", "30"]
    assert [capped[i + 1] for i, a in enumerate(capped) if a.startswith("-maxrate:v:")] == ["7500k", "4500k",
                                                                                             "1350k"]
    x264 = shlex.split(golden["capped-cpu-h264-rot0"]["argv"])
    assert [x264[i + 1] for i, a in enumerate(x264) if a.startswith("-crf:v:")] == ["21.5", "25", "30.25"]
    assert not any(a.startswith("-b:v:") for a in x264)
