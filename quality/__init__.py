"""VMAF, PSNR and SSIM through libvmaf, with alignment checks, pooled statistics, reports and a pass/fail gate.

    >>> from quality import measure, MeasureOptions
    >>> report = measure("encoded.mp4", "source.mp4", MeasureOptions(subsample=2))
    >>> report.pooled["vmaf"]["mean"], report.alignment["status"]
"""

from __future__ import annotations

__version__ = "0.1.0"

from quality.errors import (
    AlignmentError,
    CorruptInput,
    EmptyVideo,
    FfmpegUnavailable,
    InputNotFound,
    InvalidInput,
    MeasurementFailed,
    NotAVideo,
    NoVideoStream,
    PartialRawFrame,
    QualityError,
    RawFormatRequired,
    TooSmallToScore,
)
from quality.gate import GateResult, Threshold, Verdict, evaluate_gate, evaluate_pooled, thresholds_from
from quality.measure import MeasurementPlan, measure, plan_measurement
from quality.options import FFMPEG_ENV, MeasureOptions, resolve_ffmpeg
from quality.probe import VideoInfo, probe_video
from quality.progress import Progress, ProgressBar
from quality.raw import RawFormat, RawVideoPath
from quality.report import SCHEMA, QualityReport
from quality.runner import RunResult, quoted, run_ffmpeg, run_ffmpeg_capture

__all__ = [
    "FFMPEG_ENV",
    "SCHEMA",
    "AlignmentError",
    "CorruptInput",
    "EmptyVideo",
    "FfmpegUnavailable",
    "GateResult",
    "InputNotFound",
    "InvalidInput",
    "MeasureOptions",
    "MeasurementFailed",
    "MeasurementPlan",
    "NoVideoStream",
    "NotAVideo",
    "PartialRawFrame",
    "Progress",
    "ProgressBar",
    "QualityError",
    "QualityReport",
    "RawFormat",
    "RawFormatRequired",
    "RawVideoPath",
    "RunResult",
    "Threshold",
    "TooSmallToScore",
    "Verdict",
    "VideoInfo",
    "__version__",
    "evaluate_gate",
    "evaluate_pooled",
    "measure",
    "plan_measurement",
    "probe_video",
    "quoted",
    "run_ffmpeg",
    "run_ffmpeg_capture",
    "resolve_ffmpeg",
    "thresholds_from",
]
