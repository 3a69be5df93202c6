"""The quality stage: every rendition scored against one decode of the source, the gate applied by ``quality``'s rule.

Its scratch (libvmaf's logs, one pass at a time) lives in the package's staging folder under ``.quality`` and is
removed before the package is published; nothing goes to ``$TMPDIR``. The stage obeys the encode's stop event, hard
timeout and stall watchdog, and every ``quality`` error becomes a ``WorkerError`` of the right retry class.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import quality
from quality.ladder import RenditionParts, SamplingPolicy, ScoringPlan
from quality.ladder_scoring import LadderResult, RenditionScore, plan_scoring, score_ladder
from quality.options import VmafDevice
from worker.capabilities import ffmpeg_build
from worker.command import EncodePlan, reference_filters
from worker.errors import (
    EncodeCrashed,
    EncodeInterrupted,
    EncodeStalled,
    EncodeTimeout,
    InvalidSource,
    QualityBelowThreshold,
    WorkerError,
)
from worker.manifest import QualityRun, RenditionEntry, VmafScores, WindowEntry
from worker.media import SourceInfo
from worker.package import RenditionFiles
from worker.settings import EngineSettings

__all__ = ["QUALITY_SCRATCH", "SERIES_DIR", "apply_policy", "gpu_failure", "measure_renditions", "quality_error",
           "vmaf_device", "write_series"]

logger = logging.getLogger(__name__)

QUALITY_SCRATCH = ".quality"
"""The stage's scratch folder inside the staging folder (removed before publishing)."""
SERIES_DIR = "quality"
"""Published with the package: one per-frame series per rendition (``write_series``)."""

# what marks a failure as the GPU's (on a path that uses one): the job can still succeed on the CPU path
_GPU_WORDS = ("cuda", "nvenc", "nvdec", "cuvid", "openencodesessionex", "initializeencoder", "decoder surfaces",
              "device creation failed", "no device available", "impossible to convert")


def gpu_failure(tail: str) -> str | None:
    """The first line of ffmpeg's stderr that shows a GPU failure (CUDA, NVDEC, NVENC), or ``None``."""
    for line in tail.splitlines():
        if any(word in line.lower() for word in _GPU_WORDS):
            return line.strip()[:300]
    return None


def vmaf_device(filters: frozenset[str], plan: EncodePlan) -> VmafDevice:
    """``cuda`` where the ffmpeg build has ``libvmaf_cuda`` and the job has a GPU; else ``cpu``."""
    return "cuda" if "libvmaf_cuda" in filters and plan.gpu_index is not None else "cpu"


def quality_error(exc: quality.QualityError, *, stall_timeout: float, timeout: float) -> WorkerError:
    """The worker's error for a ``quality`` error raised while scoring a job: retry or poison, never a traceback."""
    if isinstance(exc, quality.MeasurementFailed):
        tail = exc.stderr_tail
        if exc.outcome == "stopped":
            return EncodeInterrupted("quality measurement stopped by shutdown", stderr_tail=tail)
        if exc.outcome == "stalled":
            return EncodeStalled(f"quality measurement made no progress for {stall_timeout:.0f}s; killed by the "
                                 "watchdog", stderr_tail=tail)
        if exc.outcome == "timeout":
            return EncodeTimeout(f"quality measurement did not finish within its {timeout:.0f}s limit",
                                 stderr_tail=tail)
        return EncodeCrashed(f"quality measurement failed: {exc.message}", stderr_tail=tail,
                             returncode=exc.returncode or 1)
    if isinstance(exc, quality.FfmpegUnavailable):  # this node's build: another node may have the right one
        return EncodeCrashed(f"quality measurement cannot run here: {exc.message}")
    if isinstance(exc, (quality.InvalidInput, quality.AlignmentError)):
        return InvalidSource(f"the source cannot be scored: {exc.message}")
    return EncodeCrashed(f"quality measurement failed: {exc}")


def _parts(folder: Path, entries: Sequence[RenditionEntry], files: Sequence[RenditionFiles]) -> list[RenditionParts]:
    return [RenditionParts(e.name, folder, f.init, f.segments, e.width, e.height)
            for e, f in zip(entries, files, strict=True)]


def _score(source: SourceInfo, parts: list[RenditionParts], plan: ScoringPlan,
           options: quality.MeasureOptions, scratch: Path, timeout: float, settings: EngineSettings,
           stop: threading.Event | None, report: Callable[[float], None]) -> tuple[LadderResult, str | None]:
    """Score on the chosen device; a GPU failure of ``libvmaf_cuda`` is scored again on the CPU, with a note."""
    # what ffmpeg decodes: the coded size, turned upright (autorotation), without the sample aspect ratio
    decoded = (source.coded_height, source.coded_width) if source.rotation % 180 == 90 else \
        (source.coded_width, source.coded_height)

    def attempt(device_options: quality.MeasureOptions) -> LadderResult:
        return score_ladder(source.path, parts, plan, device_options, scratch,
                            reference_formats=settings.input_formats, reference_size=decoded,
                            reference_pix_fmt=source.pix_fmt, timeout=timeout,
                            stall_timeout=settings.stall_timeout_s, stop=stop, on_progress=report)

    try:
        return attempt(options), None
    except quality.QualityError as exc:
        outcome = exc.outcome if isinstance(exc, quality.MeasurementFailed) else "failed"
        tail = exc.stderr_tail if isinstance(exc, quality.MeasurementFailed) else ""
        failure = gpu_failure(f"{exc.message}\n{tail}") if options.device == "cuda" else None
        if failure is None or outcome != "failed":
            raise
    logger.warning("libvmaf_cuda failed (%s); scoring on the CPU", failure)
    return attempt(replace(options, device="cpu")), f"libvmaf_cuda failed ({failure}); scored on the CPU"


def measure_renditions(folder: Path, entries: list[RenditionEntry], files: Sequence[RenditionFiles],
                       source: SourceInfo, plan: EncodePlan, settings: EngineSettings, *, timeout: float,
                       report: Callable[[float], None], stop: threading.Event | None,
                       policy: SamplingPolicy) -> QualityRun:
    """Score every rendition (setting each entry's ``vmaf`` and ``quality``) and say how it was scored."""
    device = vmaf_device(ffmpeg_build(quality.resolve_ffmpeg(settings.ffmpeg_binary)).filters, plan)
    options = quality.MeasureOptions(metrics=("vmaf",), subsample=settings.vmaf_subsample,
                                     n_threads=settings.vmaf_threads, ffmpeg=settings.ffmpeg_binary, device=device,
                                     input_formats=settings.input_formats)
    parts = _parts(folder, entries, files)
    stall = settings.stall_timeout_s
    report(0.0)
    try:
        scoring = plan_scoring(parts, rate=plan.frame_rate, display_size=(source.width, source.height),
                               options=options, policy=policy, reference_filters=reference_filters(source),
                               reference=source.path, reference_formats=settings.input_formats)
    except quality.TooSmallToScore as exc:
        for entry in entries:
            entry.quality = "not-measurable"
        logger.warning("quality not measured: %s", exc.message)
        return QualityRun(measured=False, reason=exc.message)
    except quality.QualityError as exc:
        raise quality_error(exc, stall_timeout=stall, timeout=timeout) from exc
    scratch = folder / QUALITY_SCRATCH
    try:
        result, note = _score(source, parts, scoring, options, scratch, timeout, settings, stop, report)
    except quality.QualityError as exc:
        raise quality_error(exc, stall_timeout=stall, timeout=timeout) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    used = "cpu" if note else device
    series_dir = folder / SERIES_DIR
    series_dir.mkdir(exist_ok=True)
    for entry, score in zip(entries, result.scores, strict=True):
        pooled = score.pooled["vmaf"]
        warnings = [*score.warnings, *([note] if note else [])]
        if source.hdr:
            warnings.append("the source is HDR: it was scored after the encode's own tone mapping to SDR, so the "
                            "score measures the encode, not the tone mapping")
        entry.vmaf = VmafScores(mean=float(pooled["mean"]), harmonic_mean=float(pooled["harmonic_mean"]),
                                p5=float(pooled["p5"]), min=float(pooled["min"]), count=int(pooled["count"]),
                                model=scoring.model, subsample=settings.vmaf_subsample, device=used,
                                alignment="partial" if score.warnings else "aligned", warnings=warnings,
                                series=write_series(series_dir, entry.name, score, scoring, settings.vmaf_subsample)
                                .relative_to(folder).as_posix())
        entry.quality = "no-threshold" if entry.min_vmaf is None else "pass"  # the gate decides below
    described = scoring.to_dict()
    return QualityRun(measured=True, sampling=scoring.sampling,
                      windows=[WindowEntry(**w) for w in described["windows"]],
                      frames_total=scoring.total_frames, frames_compared=scoring.frames_compared,
                      scoring_size=list(scoring.size), model=scoring.model, note=scoring.note,
                      reference=", ".join([*scoring.reference_filters,
                                           f"fps={plan.frame_rate.numerator}/{plan.frame_rate.denominator}"]))


def write_series(directory: Path, name: str, score: RenditionScore, plan: ScoringPlan, subsample: int) -> Path:
    """One rendition's per-frame VMAF, for the dashboard's chart: frame numbers on the ladder's timeline (windows
    leave gaps) and the scores, rounded to 1e-3 (the JSON of a 2-hour title at 30 fps, subsample 5, is about 300
    kB)."""
    rows = [row for row in score.frames if "vmaf" in row]
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"rendition": name, "model": plan.model, "subsample": subsample,
                                "sampling": plan.sampling, "index": [int(row["frame"]) for row in rows],
                                "frames": [round(float(row["vmaf"]), 3) for row in rows]}, separators=(",", ":")))
    return path


def apply_policy(entries: list[RenditionEntry], settings: EngineSettings) -> list[str]:
    """Each rendition's threshold through ``quality.evaluate_pooled`` (the CLI's rule); fail or flag by policy."""
    failures = []
    for entry in entries:
        if entry.vmaf is None or entry.min_vmaf is None:
            continue
        gate = quality.evaluate_pooled({"vmaf": {"mean": entry.vmaf.mean}},
                                       [quality.Threshold("vmaf", "mean", entry.min_vmaf)])
        entry.quality = "pass" if gate.passed else "below-threshold"
        if not gate.passed:
            failures.append(f"{entry.name} VMAF {entry.vmaf.mean:.2f} < {entry.min_vmaf:g}")
    if failures and settings.quality_policy == "fail":
        raise QualityBelowThreshold("renditions below their VMAF threshold: " + "; ".join(failures))
    if failures:
        logger.warning("flagged renditions below threshold: %s", "; ".join(failures))
    return [e.name for e in entries if e.quality == "below-threshold"]
