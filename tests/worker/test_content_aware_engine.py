"""The content-aware ladder through the engine on real ffmpeg: the analysis recorded, the gate, stop, the CLI."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from worker.__main__ import RET_OK, run
from worker.analysis import ANALYSIS_SCRATCH
from worker.content_aware import ContentAware
from worker.engine import JobProgress, transcode
from worker.errors import EncodeInterrupted
from worker.hull import RatePoint, upper_hull
from worker.ladder import Profile, Rung
from worker.manifest import Manifest
from worker.settings import EngineSettings

from .conftest import Sources, ff

pytestmark = pytest.mark.ffmpeg

CA = Profile(name="ca-test", rungs=(Rung(height=240, bitrate_k=400), Rung(height=120, bitrate_k=150)),
             gop_seconds=1, segment_seconds=2, cpu_preset="ultrafast",
             content_aware=ContentAware(vmaf_targets=(92, 80), heights=(240, 120), max_rungs=2, min_bitrate_k=32))


def measuring(**overrides: object) -> EngineSettings:
    values: dict[str, object] = {"encoder": "cpu", "quality_policy": "flag", "vmaf_subsample": 2,
                                 "stall_timeout_s": 60}
    values.update(overrides)
    return EngineSettings(**values)  # type: ignore[arg-type]


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ANALYSIS_SCRATCH in p.parts]


def test_a_content_aware_transcode_records_its_analysis_and_meets_its_targets(sources: Sources,
                                                                              tmp_path: Path) -> None:
    stages: list[str] = []
    manifest = transcode(sources.av, tmp_path / "pkg", profile=CA, settings=measuring(),
                         on_progress=lambda p: stages.append(p.stage))
    assert Manifest.model_validate(manifest).to_json_dict() == manifest
    assert "analysis" in stages and stages.index("analysis") < stages.index("encode")
    assert manifest["timings"]["analysis"] > 0
    analysis = manifest["analysis"]
    assert analysis["performed"] and analysis["encoder"] == "libx264"
    assert analysis["sampling"] == "full" and analysis["frames"] == 90
    assert analysis["windows"] == [{"start_s": 0.0, "duration_s": 3.0, "start_frame": 0, "frames": 90}]
    assert analysis["candidates"] == [[320, 240], [160, 120]] and analysis["targets"] == [92, 80]
    assert analysis["scoring_size"] == [320, 240] and analysis["model"] == "vmaf_v0.6.1"
    probes = analysis["probes"]
    for size in analysis["candidates"]:
        mine = [p for p in probes if [p["width"], p["height"]] == size]
        assert 1 <= len(mine) <= 4 and len({p["crf"] for p in mine}) == len(mine)
    assert all(p["bitrate"] > 0 and 0 <= p["vmaf"] <= 100 for p in probes)
    points = [RatePoint(p["width"], p["height"], p["crf"], p["bitrate"], p["vmaf"]) for p in probes]
    assert analysis["hull"] == [{"width": p.width, "height": p.height, "crf": p.crf, "bitrate": p.bitrate,
                                 "vmaf": p.vmaf} for p in upper_hull(points)]
    chosen = analysis["chosen"]
    renditions = manifest["renditions"]
    assert [c["rung"] for c in chosen] == [r["name"] for r in renditions] and 1 <= len(chosen) <= 2
    for c, r in zip(chosen, renditions, strict=True):
        assert (c["width"], c["height"]) == (r["width"], r["height"])
        assert r["target_bitrate"] == c["bitrate"] and r["max_bitrate"] == round(c["bitrate"] / 1000 * 1.5) * 1000
        assert r["min_vmaf"] == c["min_vmaf"] == c["target_vmaf"] and c["limited"] is None
        assert c["predicted_vmaf"] >= c["target_vmaf"]
        assert c["measured_vmaf"] == r["vmaf"]["mean"]
        # the gate verified the rung against its target: it meets it, or it is flagged
        assert (r["quality"] == "pass") == (c["measured_vmaf"] >= c["target_vmaf"])
        assert r["quality"] == "pass" or r["name"] in manifest["flagged"]
    assert chosen[0]["measured_vmaf"] >= 92  # the top rung meets its target on this clip
    assert len(renditions) < 2 or renditions[0]["target_bitrate"] >= 1.15 * renditions[1]["target_bitrate"]
    assert leftovers(tmp_path) == []


def test_stop_during_the_analysis_ends_it_as_a_stopped_encode(sources: Sources, tmp_path: Path) -> None:
    stop = threading.Event()
    seen: list[JobProgress] = []

    def progress(p: JobProgress) -> None:
        seen.append(p)
        if p.stage == "analysis":
            stop.set()

    with pytest.raises(EncodeInterrupted, match="analysis stopped by shutdown"):
        transcode(sources.av, tmp_path / "pkg", profile=CA, settings=measuring(), on_progress=progress, stop=stop)
    assert {p.stage for p in seen} == {"analysis"}  # nothing was encoded
    assert not (tmp_path / "pkg").exists() and leftovers(tmp_path) == []


def test_a_long_title_is_analysed_on_the_quality_gates_windows(tmp_path: Path, ffmpeg: str) -> None:
    source = tmp_path / "long.mp4"
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=192x108:rate=30:duration=16", "-c:v", "libx264", "-preset",
       "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p", str(source))
    profile = Profile(name="ca-windows", rungs=(Rung(height=108, bitrate_k=300),), gop_seconds=0.5,
                      segment_seconds=0.5, cpu_preset="ultrafast",
                      content_aware=ContentAware(vmaf_targets=(90,), heights=(108,), analysis_seconds=2))
    settings = measuring(quality_sampling="windows", quality_window_s=1, quality_spacing_s=2, vmaf_subsample=3)
    manifest = transcode(source, tmp_path / "pkg", profile=profile, settings=settings)
    analysis, gate = manifest["analysis"], manifest["quality"]
    assert analysis["sampling"] == "windows" and gate["sampling"] == "windows" and len(gate["windows"]) == 15
    starts = [w["start_frame"] for w in analysis["windows"]]
    assert len(starts) == 2 and all(w["frames"] == 30 for w in analysis["windows"]) and analysis["frames"] == 60
    assert set(starts) <= {w["start_frame"] for w in gate["windows"]}  # the gate's own windows
    assert starts[0] < 240 < starts[1]  # spread over the title
    assert len(analysis["probes"]) <= 4 and manifest["renditions"][0]["min_vmaf"] == 90


def test_the_cli_takes_the_built_in_content_aware_profile(sources: Sources, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pkg"
    assert run(["transcode", str(sources.silent), "--out", str(out), "--profile", "content-aware", "--encoder",
                "cpu", "-q"]) == RET_OK
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["profile"] == "content-aware-h264" and manifest["analysis"]["performed"]
    assert manifest["analysis"]["targets"] == [93, 87, 81, 75, 69]
    assert all(r["min_vmaf"] is not None for r in manifest["renditions"])
    capsys.readouterr()
    assert run(["transcode", str(sources.silent), "--out", str(tmp_path / "dry"), "--profile", "content-aware",
                "--dry-run", "--json", "--assume-gpu", "L4"]) == RET_OK
    planned = json.loads(capsys.readouterr().out)
    probe = planned["content_aware_probe_argv"]
    assert probe[probe.index("-c:v:0") + 1] == "h264_nvenc" and probe[probe.index("-cq:v:0") + 1] == "23"
    assert not (tmp_path / "dry").exists()


def test_a_source_libvmaf_cannot_score_gets_the_fallback_ladder(sources: Sources, tmp_path: Path) -> None:
    manifest = transcode(sources.tiny, tmp_path / "pkg", profile=CA, settings=measuring())
    assert manifest["analysis"]["performed"] is False and "18 pixels" in manifest["analysis"]["reason"]
    assert [r["width"] for r in manifest["renditions"]] == [16]
