import json
import math
from pathlib import Path

import numpy as np
import pytest

from quality.results import parse_vmaf_log, percentile, pool, psnr_average

DATA = Path(__file__).parent.parent / "data"


def test_parse_vmaf_log_keeps_every_frame_and_libvmaf_pooled_figures() -> None:
    text = (DATA / "vmaf_log.json").read_text()
    raw = json.loads(text)
    parsed = parse_vmaf_log(text, pix_fmt="yuv420p")
    assert parsed["version"] == raw["version"]
    assert [row["frame"] for row in parsed["frames"]] == [0, 1, 2, 3, 4]
    assert parsed["frames"][2]["vmaf"] == raw["frames"][2]["metrics"]["vmaf"]
    assert parsed["frames"][2]["ssim"] == raw["frames"][2]["metrics"]["float_ssim"]
    vmaf = parsed["pooled"]["vmaf"]
    # mean/min/max/harmonic mean come from libvmaf at full precision
    for key in ("mean", "min", "max", "harmonic_mean"):
        assert vmaf[key] == raw["pooled_metrics"]["vmaf"][key]
    assert vmaf["count"] == 5
    values = [f["metrics"]["vmaf"] for f in raw["frames"]]
    assert vmaf["p5"] == pytest.approx(np.percentile(values, 5), abs=1e-9)
    assert vmaf["std"] == pytest.approx(np.std(values), abs=1e-9)
    assert set(parsed["pooled"]) == {"vmaf", "psnr_y", "psnr_cb", "psnr_cr", "psnr_avg", "ssim"}


def test_frame_base_shifts_frame_numbers_to_reference_numbering() -> None:
    parsed = parse_vmaf_log((DATA / "vmaf_log.json").read_text(), frame_base=7)
    assert [row["frame"] for row in parsed["frames"]] == [7, 8, 9, 10, 11]


def test_psnr_average_weights_planes_by_pixel_count() -> None:
    # equal PSNR on every plane averages to itself
    assert psnr_average(40.0, 40.0, 40.0) == pytest.approx(40.0)
    # 4:2:0: luma is 4/6 of the pixels; check against the MSE definition directly
    y, cb, cr = 30.0, 40.0, 50.0
    mse = (4 * 10 ** (-3.0) + 10 ** (-4.0) + 10 ** (-5.0)) / 6
    assert psnr_average(y, cb, cr, "420") == pytest.approx(-10 * math.log10(mse))
    # 4:4:4 weights the chroma more, so with better chroma the average is higher than in 4:2:0
    assert psnr_average(y, cb, cr, "444") > psnr_average(y, cb, cr, "420")


@pytest.mark.parametrize("q", [0, 1, 5, 50, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = sorted([3.0, 1.5, 9.0, 4.0, 4.0, 7.25, 0.5])
    assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_pool_without_libvmaf_figures() -> None:
    stats = pool([10.0, 20.0, 30.0])
    assert stats["mean"] == 20.0
    assert stats["min"] == 10.0 and stats["max"] == 30.0
    # libvmaf's harmonic mean: n / sum(1/(x+1)) - 1
    assert stats["harmonic_mean"] == pytest.approx(3 / (1 / 11 + 1 / 21 + 1 / 31) - 1)
    assert stats["count"] == 3
    assert pool([])["count"] == 0
