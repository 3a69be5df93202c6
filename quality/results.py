"""Parse libvmaf's JSON log into per-frame rows and pooled statistics. Pure functions over text."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["METRIC_KEYS", "STATS", "parse_vmaf_log", "pool", "psnr_average"]

# report key -> libvmaf log key
METRIC_KEYS: dict[str, str] = {
    "vmaf": "vmaf",
    "psnr_y": "psnr_y",
    "psnr_cb": "psnr_cb",
    "psnr_cr": "psnr_cr",
    "ssim": "float_ssim",
}

STATS = ("mean", "harmonic_mean", "min", "max", "p1", "p5", "std", "count")

# Share of each plane in the pixel count, by chroma subsampling (used for the average PSNR)
PLANE_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "420": (4 / 6, 1 / 6, 1 / 6),
    "422": (2 / 4, 1 / 4, 1 / 4),
    "444": (1 / 3, 1 / 3, 1 / 3),
}


def chroma_family(pix_fmt: str | None) -> str:
    if pix_fmt:
        for family in ("422", "444"):
            if family in pix_fmt:
                return family
    return "420"


def psnr_average(y: float, cb: float, cr: float, family: str = "420") -> float:
    """PSNR over all planes from the pixel-weighted mean squared error (ffmpeg's ``psnr`` filter's 'average').

    Each plane's MSE relative to peak² is 10^(-psnr/10); the peak cancels because every plane has the same depth.
    """
    wy, wb, wr = PLANE_WEIGHTS[family]
    mse = wy * 10 ** (-y / 10) + wb * 10 ** (-cb / 10) + wr * 10 ** (-cr / 10)
    return -10 * math.log10(mse)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default ``linear`` method)."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def pool(values: Sequence[float], libvmaf_pooled: dict[str, float] | None = None) -> dict[str, float | int]:
    """Pooled statistics of one metric.

    ``mean``, ``harmonic_mean``, ``min`` and ``max`` are libvmaf's own figures when it computed them (full precision;
    the per-frame log is rounded to 6 decimals); the rest are computed here from the per-frame values. The harmonic
    mean is libvmaf's: ``n / Σ 1/(x+1) - 1``. ``std`` is the population standard deviation.
    """
    n = len(values)
    if n == 0:
        return {"count": 0}
    ordered = sorted(values)
    mean = math.fsum(values) / n
    stats: dict[str, float | int] = {
        "mean": mean,
        "harmonic_mean": n / math.fsum(1.0 / (v + 1.0) for v in values) - 1.0,
        "min": ordered[0],
        "max": ordered[-1],
        "p1": percentile(ordered, 1),
        "p5": percentile(ordered, 5),
        "std": math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n),
        "count": n,
    }
    if libvmaf_pooled:
        for key in ("mean", "harmonic_mean", "min", "max"):
            if key in libvmaf_pooled:
                stats[key] = float(libvmaf_pooled[key])
    return stats


def parse_vmaf_log(text: str, *, pix_fmt: str | None = None, frame_base: int = 0) -> dict[str, Any]:
    """Turn libvmaf's JSON log into ``{"version", "frames", "pooled"}``.

    ``frames`` rows carry ``frame`` (the reference frame number: libvmaf's index plus ``frame_base``) and one value
    per metric present: ``vmaf``, ``psnr_y``, ``psnr_cb``, ``psnr_cr``, ``psnr_avg``, ``ssim``.
    """
    data = json.loads(text)
    family = chroma_family(pix_fmt)
    frames: list[dict[str, float | int]] = []
    for entry in data.get("frames", []):
        metrics = entry.get("metrics", {})
        row: dict[str, float | int] = {"frame": int(entry["frameNum"]) + frame_base}
        for key, source in METRIC_KEYS.items():
            if source in metrics:
                row[key] = float(metrics[source])
        if {"psnr_y", "psnr_cb", "psnr_cr"} <= row.keys():
            row["psnr_avg"] = psnr_average(float(row["psnr_y"]), float(row["psnr_cb"]), float(row["psnr_cr"]),
                                           family)
        frames.append(row)
    pooled_src = data.get("pooled_metrics", {})
    pooled: dict[str, dict[str, float | int]] = {}
    if frames:
        for key in (*METRIC_KEYS, "psnr_avg"):
            if key in frames[0]:
                values = [float(row[key]) for row in frames]
                pooled[key] = pool(values, pooled_src.get(METRIC_KEYS.get(key, "")))
    return {"version": data.get("version"), "frames": frames, "pooled": pooled}
