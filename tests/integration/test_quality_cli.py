"""The CLI as users run it: a subprocess, exit codes, files written."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BadInputs, Clips

pytestmark = pytest.mark.ffmpeg


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quality", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_reports_and_gate(clips: Clips, tmp_path: Path) -> None:
    out_json, out_csv, out_png = tmp_path / "r.json", tmp_path / "f.csv", tmp_path / "p.png"
    proc = cli(str(clips.dist), str(clips.ref), "--json", str(out_json), "--csv", str(out_csv), "--plot",
               str(out_png), "--min-vmaf", "20", "--min-p5", "99")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("PASS vmaf.mean ") and line.endswith(">= 20.000") for line in lines)
    assert any(line.startswith("FAIL vmaf.p5 ") and line.endswith("< 99.000") for line in lines)
    report = json.loads(out_json.read_text())
    assert report["schema"] == "quality-report/1"
    assert set(report) >= {"frames", "pooled", "settings", "versions", "alignment", "distorted", "reference"}
    assert len(report["frames"]) == 60
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 60 and float(rows[3]["vmaf"]) == report["frames"][3]["vmaf"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 10_000


def test_json_to_stdout_and_passing_gate(clips: Clips) -> None:
    proc = cli(str(clips.dist_good), str(clips.ref), "--json", "-", "--metrics", "vmaf", "--min-vmaf", "50")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["pooled"]["vmaf"]["mean"] >= 50
    assert set(report["pooled"]) == {"vmaf"}
    assert "PASS vmaf.mean" in proc.stderr


def test_dry_run_prints_the_command_and_scores_nothing(clips: Clips, tmp_path: Path) -> None:
    proc = cli("-n", str(clips.dist_small), str(clips.ref), "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    assert "libvmaf=" in proc.stdout and "scale=320:180:flags=bicubic" in proc.stdout
    assert not (tmp_path / "r.json").exists()


def test_require_aligned_fails_a_truncated_pair(clips: Clips) -> None:
    proc = cli(str(clips.dist_short), str(clips.ref), "--metrics", "vmaf", "--on-frame-count-mismatch", "truncate",
               "--require-aligned")
    assert proc.returncode == 1
    assert "FAIL alignment: frame counts differ" in proc.stdout


@pytest.mark.parametrize(
    ("attr", "code", "words"),
    [
        ("missing", 3, "does not exist"),
        ("zero_bytes", 4, "file is empty"),
        ("text", 4, "not a media file"),
        ("truncated", 4, "damaged or truncated"),
        ("truncated_faststart", 4, "truncated"),
        ("audio_only", 4, "no video stream"),
        ("zero_frames", 4, "no frames"),
    ],
)
def test_bad_input_exit_codes(bad: BadInputs, clips: Clips, attr: str, code: int, words: str) -> None:
    proc = cli(str(getattr(bad, attr)), str(clips.ref))
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith("error: ") and words in proc.stderr
    assert "Traceback" not in proc.stderr


def test_misaligned_pair_exit_code(clips: Clips) -> None:
    proc = cli(str(clips.dist_25fps), str(clips.ref))
    assert proc.returncode == 5
    assert "frame rates differ" in proc.stderr and "--on-frame-rate-mismatch resample" in proc.stderr


def test_no_libvmaf_exit_code(clips: Clips, fake_ffmpeg_without_libvmaf: str) -> None:
    proc = cli(str(clips.dist), str(clips.ref), env={"FFMPEG_BINARY": fake_ffmpeg_without_libvmaf})
    assert proc.returncode == 6
    assert "without libvmaf" in proc.stderr and "pip install imageio-ffmpeg" in proc.stderr


def test_usage_errors_exit_2(clips: Clips) -> None:
    assert cli(str(clips.dist)).returncode == 2
    proc = cli(str(clips.dist), str(clips.ref), "--subsample", "0")
    assert proc.returncode == 2 and "subsample must be at least 1" in proc.stderr
