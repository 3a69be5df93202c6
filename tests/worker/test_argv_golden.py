"""Golden tests of the whole ladder command for every scenario x codec x source variant (tests/data/golden_argv.json).

A change to any argument shows here as a diff to review. Regenerate after an intended change with
``UPDATE_GOLDEN=1 pytest tests/worker/test_argv_golden.py`` and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from worker.command import build_ladder_cmd, plan_encode
from worker.ladder import plan_ladder
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


def test_golden_argv_for_every_case() -> None:
    rendered = {case.key: render(case) for case in CASES}
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
