from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.gpu import scan_gpus

from .conftest import Sources

pytestmark = pytest.mark.ffmpeg


def worker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_probe_prints_capabilities_and_tests_nvenc() -> None:
    proc = worker("probe")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ffmpeg"]["version"] and "libx264" in data["ffmpeg"]["encoders"]
    assert "cuda" in data["ffmpeg"]["hwaccels"] and "scale_cuda" in data["ffmpeg"]["filters"]
    assert set(data["nvenc"]) == {"h264", "hevc", "av1"}
    if scan_gpus().gpus:
        pytest.skip("GPU present: the NVENC answers depend on the card")
    assert data["gpus"] == [] and "NVML" in data["nvml_error"]
    for codec in data["nvenc"].values():
        # listed by this ffmpeg build, and still not usable: that is the point of the test encode
        assert codec["listed"] is True and codec["usable"] is False and codec["detail"]
    assert worker("probe", "--require-nvenc").returncode == 1


def test_transcode_cli(sources: Sources, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("name: cli\ngop_seconds: 1\nsegment_seconds: 2\ncpu_preset: ultrafast\n"
                       "rungs:\n  - {height: 240, bitrate_k: 300, min_vmaf: 10}\n")
    proc = worker("transcode", str(sources.av), "--out", str(tmp_path / "out"), "--profile", str(profile),
                  "--encoder", "auto", "-q", env={"WORKER_VMAF_SUBSAMPLE": "10"})
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["renditions"][0]["quality"] == "pass"
    if not scan_gpus().gpus:
        assert manifest["fallback_reason"].startswith("no-nvml")
        assert "fallback: no-nvml" in proc.stdout
    assert "240p 320x240" in proc.stdout


def test_transcode_cli_errors(sources: Sources, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    proc = worker("transcode", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 3 and "not a media file" in proc.stderr and "Traceback" not in proc.stderr
    if not scan_gpus().gpus:
        proc = worker("transcode", str(sources.av), "--out", str(tmp_path / "o"), "--encoder", "gpu")
        assert proc.returncode == 4
        assert "NVENC is not usable for h264 (no-nvml)" in proc.stderr
    proc = worker("transcode", str(sources.av), "--out", str(tmp_path / "o"), env={"WORKER_MAX_PIXELS": "lots"})
    assert proc.returncode != 0 and "WORKER_MAX_PIXELS" in proc.stderr
    assert not (tmp_path / "o").exists()
