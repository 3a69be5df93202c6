"""``measure()``: probe, align, score in one ffmpeg pass, parse, report."""

from __future__ import annotations

import concurrent.futures
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from quality import __version__
from quality.alignment import AlignmentPlan, plan_alignment, rates_match
from quality.command import build_vmaf_cmd
from quality.errors import FfmpegUnavailable, InvalidInput, MeasurementFailed
from quality.options import MeasureOptions, model_spec, resolve_ffmpeg, select_model
from quality.probe import VideoInfo, probe_video
from quality.progress import Progress
from quality.report import QualityReport
from quality.results import parse_vmaf_log
from quality.runner import run_ffmpeg

__all__ = ["MeasurementPlan", "classify_failure", "measure", "plan_measurement"]

logger = logging.getLogger(__name__)

_VERSION_RE = re.compile(r"ffmpeg version (\S+)")


def _offset_plan(ffmpeg: str, dist: VideoInfo, ref: VideoInfo, options: MeasureOptions) -> AlignmentPlan:
    if not options.auto_offset:
        return plan_alignment(dist, ref, options)
    from quality.offset import estimate_offset

    resample = None
    if not rates_match(dist.frame_rate, ref.frame_rate, options.frame_rate_tolerance) \
            and options.on_frame_rate_mismatch == "resample":
        resample = f"{ref.frame_rate.numerator}/{ref.frame_rate.denominator}"
    estimate = estimate_offset(ffmpeg, dist, ref, options.auto_offset, resample_to=resample)
    logger.info("offset search: best %+d frames, confidence %.2f", estimate.offset, estimate.confidence)
    if estimate.confidence < options.min_offset_confidence:
        note = (f"automatic offset search was inconclusive (best {estimate.offset:+d} frames, confidence "
                f"{estimate.confidence:.2f} < {options.min_offset_confidence:.2f}); scored with offset 0, which "
                "may be misaligned")
        return plan_alignment(dist, ref, options, offset=0, offset_method="auto",
                              offset_confidence=estimate.confidence, extra_warnings=(note,))
    return plan_alignment(dist, ref, options, offset=estimate.offset, offset_method="auto",
                          offset_confidence=estimate.confidence)


@dataclass(frozen=True)
class MeasurementPlan:
    """Everything decided before ffmpeg runs: the probes, the alignment, the model and the command."""

    ffmpeg: str
    distorted: VideoInfo
    reference: VideoInfo
    alignment: AlignmentPlan
    model: str
    model_spec: str
    command: list[str]


def plan_measurement(distorted: str | Path, reference: str | Path, options: MeasureOptions | None = None,
                     *, log_path: str | Path = "vmaf.json") -> MeasurementPlan:
    """Probe both inputs and plan the run without scoring (what ``--dry-run`` prints)."""
    options = options or MeasureOptions()
    ffmpeg = resolve_ffmpeg(options.ffmpeg)
    # both probes demux a whole file; PyAV releases the GIL while reading, so they overlap
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        ref_job = pool.submit(probe_video, reference, formats=options.input_formats)
        dist_job = pool.submit(probe_video, distorted, formats=options.input_formats)
        ref = ref_job.result()
        dist = dist_job.result()
    alignment = _offset_plan(ffmpeg, dist, ref, options)
    model = select_model(options.model, ref.height)
    spec = model_spec(model)
    cmd = build_vmaf_cmd(ffmpeg, dist, ref, alignment, options, spec, log_path)
    return MeasurementPlan(ffmpeg, dist, ref, alignment, model, spec, cmd)


def classify_failure(cmd: list[str], returncode: int, stderr: str) -> Exception:
    lowered = stderr.lower()
    if "libvmaf_cuda" in lowered and ("no such filter" in lowered or "filter not found" in lowered):
        return FfmpegUnavailable(f"{cmd[0]} was built without libvmaf_cuda: score with device 'cpu', or use an "
                                 "ffmpeg configured with a CUDA libvmaf (Dockerfile.gpu, FFMPEG_SOURCE=build)")
    if "no such filter: 'libvmaf'" in lowered or ("filter not found" in lowered and "libvmaf" in lowered):
        return FfmpegUnavailable(
            f"{cmd[0]} was built without libvmaf; install the imageio-ffmpeg wheel (`pip install imageio-ffmpeg`)"
            " and unset FFMPEG_BINARY, or point FFMPEG_BINARY at a build configured with --enable-libvmaf"
        )
    if "could not initialize feature extractor" in lowered or "problem loading model" in lowered \
            or "could not load" in lowered or "model" in lowered and "error parsing" in lowered:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        return InvalidInput(f"libvmaf could not load the model or a feature ({last}); check --model: a built-in "
                            "version name, an alias (default, 4k, neg, phone) or a model .json path")
    return MeasurementFailed("ffmpeg failed while scoring", returncode=returncode, stderr_tail=stderr,
                             command=cmd)


def _settings(options: MeasureOptions, plan: MeasurementPlan) -> dict[str, object]:
    settings = asdict(options)
    settings.update(
        model=plan.model,
        model_spec=plan.model_spec,
        n_threads=options.threads,
        metrics=list(options.metrics),
        offset=plan.alignment.offset,
        ffmpeg=plan.ffmpeg,
    )
    return settings


def measure(distorted: str | Path, reference: str | Path, options: MeasureOptions | None = None,
            *, on_progress: Callable[[Progress], None] | None = None,
            timeout: float | None = None, stop: threading.Event | None = None) -> QualityReport:
    """Score ``distorted`` against ``reference``: per-frame VMAF, PSNR and SSIM in one libvmaf pass.

    Raises ``InputNotFound``, an ``InvalidInput`` subclass, ``AlignmentError``, ``FfmpegUnavailable`` or
    ``MeasurementFailed``. A pair that was scored but not fully aligned (truncated, resampled, uncertain offset)
    returns a report whose ``alignment.warnings`` say so. Setting ``stop`` ends the scoring with ``MeasurementFailed``
    whose ``stopped`` is true.
    """
    started = time.monotonic()
    options = options or MeasureOptions()
    with tempfile.TemporaryDirectory(prefix="vmaf-") as tmp:
        log_path = Path(tmp) / "vmaf.json"
        plan = plan_measurement(distorted, reference, options, log_path=log_path)
        total = plan.alignment.frames

        def forward(progress: Progress) -> None:
            if on_progress is not None:
                on_progress(replace(progress, total=total))

        result = run_ffmpeg(plan.command, on_progress=forward, timeout=timeout, stop=stop)
        if result.outcome == "stopped":
            raise MeasurementFailed("scoring was stopped", stderr_tail=result.stderr_tail, command=plan.command,
                                    stopped=True)
        if result.outcome == "timeout":
            raise MeasurementFailed(f"ffmpeg did not finish scoring within {timeout:.0f}s",
                                    stderr_tail=result.stderr_tail, command=plan.command)
        if result.returncode != 0 or not log_path.exists():
            raise classify_failure(plan.command, result.returncode, result.stderr_tail)
        parsed = parse_vmaf_log(log_path.read_text(encoding="utf-8"), pix_fmt=plan.reference.pix_fmt,
                                frame_base=plan.alignment.ref_start)
    if not parsed["frames"]:
        raise MeasurementFailed("libvmaf scored no frames", returncode=result.returncode,
                                stderr_tail=result.stderr_tail, command=plan.command)
    alignment = plan.alignment.to_dict(plan.reference.frame_rate)
    scored = len(parsed["frames"])
    expected = -(-plan.alignment.frames // options.subsample)
    if scored != expected:
        alignment["warnings"].append(
            f"libvmaf scored {scored} frames where {expected} were expected; the frame counts from the "
            "containers are not trustworthy and the pairing may be off"
        )
    match = _VERSION_RE.search(result.stderr_head)
    report = QualityReport(
        distorted=plan.distorted.to_dict(),
        reference=plan.reference.to_dict(),
        settings=_settings(options, plan),
        versions={"ffmpeg": match.group(1) if match else None, "libvmaf": parsed["version"],
                  "quality": __version__},
        alignment=alignment,
        pooled=parsed["pooled"],
        frames=parsed["frames"],
        elapsed_seconds=time.monotonic() - started,
        command=plan.command,
    )
    for warning in report.warnings:
        logger.warning("%s vs %s: %s", distorted, reference, warning)
    return report
