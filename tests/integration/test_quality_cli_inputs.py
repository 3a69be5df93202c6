"""The CLI on headerless and Y4M inputs, with several models in one pass and the bootstrap interval (real ffmpeg)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Clips, run

pytestmark = pytest.mark.ffmpeg

RAW = ("--width", "320", "--height", "180", "--pix-fmt", "yuv420p")
CI = "vmaf_b_v0.6.3"
# The same decoded pixels give the same libvmaf scores whatever the container: only rounding of the JSON log could
# differ, and the pooled mean is libvmaf's own full-precision figure.
SAME = 1e-6


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quality", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def scored(*args: str) -> dict[str, Any]:
    proc = cli(*args, "--json", "-", "-q")
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


@dataclass(frozen=True)
class Decoded:
    dist_yuv: Path
    ref_yuv: Path
    dist_y4m: Path
    ref_y4m: Path


@pytest.fixture(scope="module")
def decoded(clips: Clips, ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Decoded:
    d = tmp_path_factory.mktemp("decoded")
    out = Decoded(d / "dist.yuv", d / "ref.yuv", d / "dist.y4m", d / "ref.y4m")
    for src, yuv, y4m in ((clips.dist, out.dist_yuv, out.dist_y4m), (clips.ref, out.ref_yuv, out.ref_y4m)):
        run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-pix_fmt", "yuv420p", "-f", "rawvideo",
             str(yuv)])
        run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-pix_fmt", "yuv420p", str(y4m)])
    return out


def test_raw_yuv_pair_scores_like_the_same_pair_as_y4m_and_mp4(clips: Clips, decoded: Decoded) -> None:
    assert decoded.ref_yuv.stat().st_size == 60 * 320 * 180 * 3 // 2
    raw = scored(str(decoded.dist_yuv), str(decoded.ref_yuv), *RAW, "--fps", "30")
    y4m = scored(str(decoded.dist_y4m), str(decoded.ref_y4m))
    mp4 = scored(str(clips.dist), str(clips.ref))
    assert raw["alignment"]["frames_compared"] == 60 and raw["alignment"]["status"] == "aligned"
    assert abs(raw["pooled"]["vmaf"]["mean"] - y4m["pooled"]["vmaf"]["mean"]) <= SAME
    assert abs(raw["pooled"]["vmaf"]["mean"] - mp4["pooled"]["vmaf"]["mean"]) <= SAME
    assert abs(raw["pooled"]["psnr_y"]["mean"] - mp4["pooled"]["psnr_y"]["mean"]) <= SAME
    assert raw["reference"]["container"] == "rawvideo" and raw["reference"]["frame_count"] == 60
    assert raw["reference"]["raw"] == {"width": 320, "height": 180, "pix_fmt": "yuv420p", "frame_rate": "30/1",
                                       "frame_size": 86400}
    assert y4m["reference"]["container"] == "yuv4mpegpipe" and y4m["reference"]["raw"] is None
    cmd = raw["command"]
    i = cmd.index(str(decoded.dist_yuv))
    assert cmd[i - 13: i] == ["-protocol_whitelist", "file", "-format_whitelist", "rawvideo", "-f", "rawvideo",
                              "-pix_fmt", "yuv420p", "-video_size", "320x180", "-framerate", "30/1", "-i"]
    # one raw side without a rate against an mp4: frames are paired by count
    mixed = scored(str(decoded.dist_yuv), str(clips.ref), *RAW)
    assert abs(mixed["pooled"]["vmaf"]["mean"] - mp4["pooled"]["vmaf"]["mean"]) <= SAME


def test_raw_input_that_is_not_whole_frames_exits_4_naming_the_cause(decoded: Decoded, tmp_path: Path) -> None:
    cut = tmp_path / "cut.yuv"
    cut.write_bytes(decoded.dist_yuv.read_bytes()[:-1000])
    proc = cli(str(cut), str(decoded.ref_yuv), *RAW)
    assert proc.returncode == 4, proc.stderr
    assert "not a whole number of 320x180 yuv420p frames" in proc.stderr
    assert "59 frames and 85400 bytes over" in proc.stderr


def test_raw_input_without_its_width_exits_4_naming_the_option(decoded: Decoded) -> None:
    proc = cli(str(decoded.dist_yuv), str(decoded.ref_y4m), "--height", "180", "--pix-fmt", "yuv420p")
    assert proc.returncode == 4, proc.stderr
    assert "needs --width " in proc.stderr and "--height" not in proc.stderr


def test_two_models_in_one_pass(clips: Clips) -> None:
    single = scored(str(clips.dist), str(clips.ref), "--metrics", "vmaf")
    both = scored(str(clips.dist), str(clips.ref), "--metrics", "vmaf", "-m", "vmaf_v0.6.1", "-m", "neg")
    assert both["pooled"]["vmaf"] == single["pooled"]["vmaf"]
    assert [f["vmaf"] for f in both["frames"]] == [f["vmaf"] for f in single["frames"]]
    neg = both["pooled"]["vmaf_neg"]
    assert neg["count"] == 60 and 0 < neg["mean"] < both["pooled"]["vmaf"]["mean"]
    assert all(f["vmaf_neg"] <= f["vmaf"] for f in both["frames"])
    assert both["settings"]["extra_models"] == ["neg"]
    assert list(both["pooled"]) == ["vmaf", "vmaf_neg"]


def test_confidence_interval_brackets_its_mean(clips: Clips, tmp_path: Path) -> None:
    out_csv = tmp_path / "f.csv"
    plain = scored(str(clips.dist), str(clips.ref), "--metrics", "vmaf")
    report = scored(str(clips.dist), str(clips.ref), "--metrics", "vmaf", "--ci", "--csv", str(out_csv))
    assert report["pooled"]["vmaf"] == plain["pooled"]["vmaf"]  # the gated score does not change
    mean = report["pooled"][f"{CI}_bagging"]["mean"]
    low, high = report["pooled"][f"{CI}_ci_p95_lo"]["mean"], report["pooled"][f"{CI}_ci_p95_hi"]["mean"]
    assert 0 < low < mean < high < 100
    assert high - low > 1  # 21 differently trained models disagree by points on an 80 kb/s encode
    assert abs(mean - plain["pooled"]["vmaf"]["mean"]) < 5  # v0.6.3 retrains v0.6.1: close, not equal
    for frame in report["frames"]:
        assert frame[f"{CI}_ci_p95_lo"] <= frame[f"{CI}_bagging"] <= frame[f"{CI}_ci_p95_hi"]
        assert frame[f"{CI}_stddev"] > 0
        assert not any("bootstrap_" in key for key in frame)
    assert out_csv.read_text().splitlines()[0] == (
        f"frame,vmaf,{CI}_bagging,{CI}_stddev,{CI}_ci_p95_lo,{CI}_ci_p95_hi")
    text = cli(str(clips.dist), str(clips.ref), "--metrics", "vmaf", "--ci")
    assert f"{CI}: {mean:.3f}, 95% interval {low:.3f} to {high:.3f} (bootstrap)" in text.stdout
