"""Parse libvmaf's JSON log into per-frame rows and pooled statistics. Pure functions over text."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BOOTSTRAP_SUFFIXES", "METRIC_KEYS", "STATS", "bootstrap_scores", "parse_vmaf_log", "pool",
           "psnr_average"]

# report key -> libvmaf log key
METRIC_KEYS: dict[str, str] = {
    "vmaf": "vmaf",
    "psnr_y": "psnr_y",
    "psnr_cb": "psnr_cb",
    "psnr_cr": "psnr_cr",
    "ssim": "float_ssim",
}

STATS = ("mean", "harmonic_mean", "min", "max", "p1", "p5", "std", "count")

EXTRA_MODEL = re.compile(r"vmaf_[A-Za-z0-9_.-]+")
"""Log keys of the extra models (``quality.options.model_key``): lower-case ``vmaf_`` then the model's name.
libvmaf's own features never start so (``VMAF_integer_feature_...`` is upper case)."""
BOOTSTRAP_MEMBER = re.compile(r"(?P<collection>.+)_bootstrap_(?P<index>\d+)")
"""Log keys of bootstrap sub-models (``quality.options.bootstrap_submodel_key``), logged unclipped."""
BOOTSTRAP_SUFFIXES = ("bagging", "stddev", "ci_p95_lo", "ci_p95_hi")
"""What a bootstrap collection adds per frame, as ``<collection>_<suffix>`` (libvmaf's own names)."""
BOOTSTRAP_CLIP = (0.0, 100.0)
"""The collection's ``score_clip``, applied after the statistics as libvmaf does."""

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


def _clip(value: float) -> float:
    return min(max(value, BOOTSTRAP_CLIP[0]), BOOTSTRAP_CLIP[1])


def bootstrap_scores(collection: str, scores: Sequence[float]) -> dict[str, float]:
    """One frame's collection figures from its sub-models' unclipped scores, as libvmaf's
    ``vmaf_bootstrap_predict_score_at_index`` computes them: the mean (``bagging``), the population standard
    deviation, and the 2.5th and 97.5th percentiles (linear between ranks), then clipped to 0..100; ``stddev`` is
    scaled by the clip's slope at the mean (0 where the mean is clipped)."""
    n = len(scores)
    mean = math.fsum(scores) / n
    stddev = math.sqrt(math.fsum((s - mean) ** 2 for s in scores) / n)
    ordered = sorted(scores)
    delta = 0.01
    slope = (_clip(mean + delta) - _clip(mean - delta)) / (2 * delta)
    return {
        f"{collection}_bagging": _clip(mean),
        f"{collection}_stddev": stddev * slope,
        f"{collection}_ci_p95_lo": _clip(percentile(ordered, 2.5)),
        f"{collection}_ci_p95_hi": _clip(percentile(ordered, 97.5)),
    }


def _model_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Extra models' scores and bootstrap collections' figures of one frame, in log order."""
    values: dict[str, float] = {}
    members: dict[str, list[float]] = {}
    for key, value in metrics.items():
        member = BOOTSTRAP_MEMBER.fullmatch(key)
        if member is not None:
            members.setdefault(member["collection"], []).append(float(value))
        elif EXTRA_MODEL.fullmatch(key):
            values[key] = float(value)
    for collection, scores in members.items():
        values.update(bootstrap_scores(collection, scores))
    return values


def parse_vmaf_log(text: str, *, pix_fmt: str | None = None, frame_base: int = 0) -> dict[str, Any]:
    """Turn libvmaf's JSON log into ``{"version", "frames", "pooled"}``.

    ``frames`` rows carry ``frame`` (the reference frame number: libvmaf's index plus ``frame_base``) and one value
    per metric present: ``vmaf``, ``psnr_y``, ``psnr_cb``, ``psnr_cr``, ``psnr_avg``, ``ssim``, then each extra
    model's score (``vmaf_neg``, ...) and each bootstrap collection's ``<name>_bagging``, ``_stddev``,
    ``_ci_p95_lo`` and ``_ci_p95_hi`` (its sub-models' own scores are folded into these and not listed). Pooled, a
    collection's ``mean`` of each of those is libvmaf's pooled collection score.
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
        row.update(_model_values(metrics))
        frames.append(row)
    pooled_src = data.get("pooled_metrics", {})
    pooled: dict[str, dict[str, float | int]] = {}
    if frames:
        for key in frames[0]:
            if key != "frame":
                values = [float(row[key]) for row in frames]
                pooled[key] = pool(values, pooled_src.get(METRIC_KEYS.get(key, key)))
    return {"version": data.get("version"), "frames": frames, "pooled": pooled}
