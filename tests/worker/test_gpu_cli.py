"""``transcode --dry-run [--assume-gpu] [--json]`` and ``selftest`` as a user runs them."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from worker.gpu import GpuScan, scan_gpus
from worker.ladder import ProfileError, Rung, load_profile
from worker.planning import assumed_scan
from worker.selftest import run_selftest
from worker.settings import EngineSettings

from .conftest import Sources
from .test_cli import worker

pytestmark = pytest.mark.ffmpeg


def test_dry_run_json_plans_for_an_assumed_gpu_and_runs_nothing(sources: Sources, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    proc = worker("transcode", str(sources.rotated), "--out", str(out), "--dry-run", "--assume-gpu", "T4", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"video_path", "encoder", "fallback_reason", "argv", "encoders"}
    assert (data["video_path"], data["encoder"], data["fallback_reason"]) == ("gpu", "h264_nvenc", None)
    argv = data["argv"]
    assert Path(argv[0]).name.startswith("ffmpeg") and argv[-1] == str(out / "poster.jpg")
    assert str(out / "manifest.mpd") in argv
    for args in data["encoders"]:  # each output's encoder arguments appear in argv exactly, in one run
        start = argv.index(args[0])
        assert argv[start: start + len(args)] == args
    assert data["encoders"][0][:2] == ["-c:v:0", "h264_nvenc"]
    assert "transpose_cuda=dir=cclock" in argv[argv.index("-filter_complex") + 1]
    assert not out.exists()


@pytest.mark.parametrize(("model", "path", "encoder", "reason"), [
    ("H100", "gpu-decode", "libx264", "gpu-without-nvenc"),
    ("a100", "gpu-decode", "libx264", "gpu-without-nvenc"),
    ("L4", "gpu-hybrid", "h264_nvenc", None),  # 10-bit H.264: NVDEC cannot, NVENC can
])
def test_dry_run_on_a_ten_bit_source(sources: Sources, tmp_path: Path, model: str, path: str, encoder: str,
                                     reason: str | None) -> None:
    source = sources.ten_bit if model == "L4" else sources.av
    proc = worker("transcode", str(source), "--out", str(tmp_path / "o"), "-n", "--assume-gpu", model, "--json")
    data = json.loads(proc.stdout)
    assert (data["video_path"], data["encoder"]) == (path, encoder)
    assert (data["fallback_reason"] or "").startswith(reason or "")
    if reason is None:
        assert data["fallback_reason"] is None


def test_dry_run_text_is_one_runnable_command(sources: Sources, tmp_path: Path) -> None:
    proc = worker("transcode", str(sources.av), "--out", str(tmp_path / "o"), "--dry-run")
    comment, command = proc.stdout.splitlines()
    assert comment.startswith("# path: cpu; encoder: libx264")
    assert shlex.split(command)[-1] == str(tmp_path / "o" / "poster.jpg")


def test_assume_gpu_refuses_unknown_models_and_real_runs(sources: Sources, tmp_path: Path) -> None:
    proc = worker("transcode", str(sources.av), "--out", str(tmp_path / "o"), "--dry-run", "--assume-gpu", "X9")
    assert proc.returncode == 2 and "T4" in proc.stderr and "not in the GPU table" in proc.stderr
    proc = worker("transcode", str(sources.av), "--out", str(tmp_path / "o"), "--assume-gpu", "T4")
    assert proc.returncode == 2 and "needs --dry-run" in proc.stderr


def test_rung_presets_are_kept_apart_and_validated(tmp_path: Path) -> None:
    assert Rung(height=720, bitrate_k=20, preset="p6").nvenc_preset == "p6"  # type: ignore[call-arg]
    assert Rung(height=720, bitrate_k=20, preset="slow").cpu_preset == "slow"  # type: ignore[call-arg]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rungs: [{height: 720, bitrate_k: 2000, nvenc_preset: veryfast}]\n")
    with pytest.raises(ProfileError, match="rungs.0.nvenc_preset"):
        load_profile(bad)
    bad.write_text("rungs: [{height: 720, bitrate_k: 2000}]\nnvenc_preset: medium\n")
    with pytest.raises(ProfileError, match="nvenc_preset"):
        load_profile(bad)


def test_selftest_here_passes_with_skips_and_states_the_fallback() -> None:
    if scan_gpus().gpus:
        pytest.skip("this machine has a GPU")
    proc = worker("selftest")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    status = {line[6:28].strip(): line[:4] for line in lines[:-1]}
    assert status["nvml"] == "SKIP" and status["nvenc h264"] == "SKIP" and status["filter scale_cuda"] == "SKIP"
    assert status["ladder 1080p"] == "PASS" and "5 renditions, path cpu" in proc.stdout
    assert lines[-1].startswith("selftest: 2 passed, 0 failed, 10 skipped") and "fallback: no-nvml" in lines[-1]
    strict = worker("selftest", "--require-gpu", "--json")
    assert strict.returncode == 1
    checks = {c["name"]: c["status"] for c in json.loads(strict.stdout)["checks"]}
    assert checks["nvml"] == "FAIL" and checks["fallback"] == "FAIL" and checks["libvmaf_cuda"] == "SKIP"


def test_selftest_reports_a_gpu_that_does_not_work_as_fail_lines(tmp_path: Path) -> None:
    """NVML claims an L4 that is not there: every GPU check must say FAIL with ffmpeg's reason, and the ladder
    still succeeds on the CPU after the GPU failure."""
    scan: GpuScan = assumed_scan("L4")
    report = run_selftest(EngineSettings(nvenc_probe=False, scratch_dir=tmp_path), scan=lambda: scan)
    status = {c.name: c for c in report.checks}
    assert status["nvml"].status == "PASS"
    assert status["nvdec"].status == "FAIL" and "libcuda" in status["nvdec"].detail
    assert status["filter scale_cuda"].status == "FAIL" and "libcuda" in status["filter scale_cuda"].detail
    assert status["nvenc h264 p4"].status == "FAIL" and status["nvenc av1 p4"].status == "FAIL"
    assert status["ladder 1080p"].status == "PASS" and report.fallback_reason is not None
    assert report.fallback_reason.startswith("gpu-failed: ") and not report.ok
