"""The quality report, its stable JSON schema, and its CSV and text renderings.

JSON schema ``quality-report/1`` (documented in docs/quality-report.md; fields are only ever added):

- ``schema``: ``"quality-report/1"``
- ``distorted``, ``reference``: what was probed (path, codec, width, height, pix_fmt, frame_rate, frame_count, ...)
- ``settings``: every setting that changes a score (model and its libvmaf string, metrics, n_threads,
  subsample, scaler, offset, policies, ffmpeg binary)
- ``versions``: ``ffmpeg``, ``libvmaf``, ``quality``
- ``alignment``: ``status`` (aligned | truncated | resampled), frames compared, offset (frames, seconds, method,
  confidence), scaling and pixel format conversion, ``warnings``
- ``pooled.<metric>.<stat>``: metrics ``vmaf``, ``psnr_y``, ``psnr_cb``, ``psnr_cr``, ``psnr_avg``, ``ssim``,
  one per extra model (``vmaf_neg``, ...), and with a confidence interval ``vmaf_b_v0.6.3_bagging``, ``_stddev``,
  ``_ci_p95_lo``, ``_ci_p95_hi``; stats ``mean``, ``harmonic_mean``, ``min``, ``max``, ``p1``, ``p5``, ``std``,
  ``count``
- ``frames``: one object per scored frame: ``frame`` (reference frame number) and the metrics
- ``elapsed_seconds``, ``command`` (the ffmpeg argv, to reproduce the run)
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA", "QualityReport", "atomic_write_text"]

_BAGGING = "_bagging"

SCHEMA = "quality-report/1"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class QualityReport:
    distorted: dict[str, Any]
    reference: dict[str, Any]
    settings: dict[str, Any]
    versions: dict[str, Any]
    alignment: dict[str, Any]
    pooled: dict[str, dict[str, float | int]]
    frames: list[dict[str, float | int]]
    elapsed_seconds: float = 0.0
    command: list[str] = field(default_factory=list)

    @property
    def vmaf(self) -> float:
        """Pooled mean VMAF."""
        return float(self.pooled["vmaf"]["mean"])

    def confidence_intervals(self) -> dict[str, tuple[float, float, float]]:
        """Per bootstrap collection: pooled (mean, 95% low, 95% high), libvmaf's pooled collection score."""
        found: dict[str, tuple[float, float, float]] = {}
        for key in self.pooled:
            if key.endswith(_BAGGING):
                name = key[: -len(_BAGGING)]
                mean, low, high = (float(self.pooled[name + suffix]["mean"])
                                   for suffix in (_BAGGING, "_ci_p95_lo", "_ci_p95_hi"))
                found[name] = (mean, low, high)
        return found

    @property
    def warnings(self) -> list[str]:
        return list(self.alignment.get("warnings", []))

    @property
    def fully_aligned(self) -> bool:
        """True when every frame of both inputs was paired without truncation, resampling or doubt."""
        return self.alignment.get("status") == "aligned" and not self.warnings

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "distorted": self.distorted,
            "reference": self.reference,
            "settings": self.settings,
            "versions": self.versions,
            "alignment": self.alignment,
            "pooled": self.pooled,
            "frames": self.frames,
            "elapsed_seconds": round(self.elapsed_seconds, 4),
            "command": self.command,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"

    def to_csv(self) -> str:
        columns = ["frame", *(k for k in self.pooled)]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.frames)
        return buf.getvalue()

    def write_json(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_json())

    def write_csv(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_csv())

    def summary(self) -> str:
        """A few human lines: the pooled figures per metric, then alignment notes."""
        lines = [
            f"distorted: {self.distorted['path']} ({self.distorted['width']}x{self.distorted['height']})",
            f"reference: {self.reference['path']} ({self.reference['width']}x{self.reference['height']})",
            f"model: {self.settings['model']}, frames compared: {self.alignment['frames_compared']}"
            f" (subsample {self.settings['subsample']}), alignment: {self.alignment['status']}",
        ]
        width = max(9, *(len(metric) + 1 for metric in self.pooled))
        lines.append(f"{'metric':<{width}}{'mean':>9}{'harm':>9}{'min':>9}{'p1':>9}{'p5':>9}{'max':>9}{'std':>8}")
        for metric, s in self.pooled.items():
            lines.append(f"{metric:<{width}}" + "".join(f"{float(s[k]):>9.3f}" for k in ("mean", "harmonic_mean",
                                                                                        "min", "p1", "p5", "max"))
                         + f"{float(s['std']):>8.3f}")
        for name, (mean, low, high) in self.confidence_intervals().items():
            lines.append(f"{name}: {mean:.3f}, 95% interval {low:.3f} to {high:.3f} (bootstrap)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)
