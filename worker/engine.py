"""The engine: source file in, playable package and ``manifest.json`` out. No queue or storage code here.

Stages: probe → choose encoder → plan ladder → encode (one ffmpeg) → package → quality → manifest → publish.
The package is built in a staging folder and renamed into place only when complete.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import quality
from quality.ladder import SamplingPolicy
from worker.capabilities import ffmpeg_build, gpu_env
from worker.command import HLS_MASTER_NAME, MPD_NAME, POSTER_NAME
from worker.errors import (
    EncodeCrashed,
    EncodeInterrupted,
    EncodeRejected,
    EncodeStalled,
    EncodeTimeout,
    InvalidSource,
    WorkerError,
)
from worker.gpu import GpuScan
from worker.ladder import DEFAULT_PROFILE, Profile
from worker.manifest import (
    MANIFEST_NAME,
    MANIFEST_SCHEMA,
    AdjustmentEntry,
    AnalysisRecord,
    AudioEntry,
    DecodeErrors,
    Manifest,
    QualityRun,
    RenditionEntry,
)
from worker.package import collect_renditions, master_playlist, read_codecs, staging_dir, write_master
from worker.planning import JobPlan, cpu_replan, plan_job, with_rungs
from worker.quality_stage import apply_policy, gpu_failure, measure_renditions, vmaf_device
from worker.scratch import analysis_scratch_estimate, check_space, package_estimate, quality_scratch_estimate
from worker.settings import EngineSettings

__all__ = ["MANIFEST_NAME", "MANIFEST_SCHEMA", "DecodeErrorLog", "JobPlan", "JobProgress", "classify_failure",
           "encode_timeout", "gpu_failure", "package_estimate", "plan_job", "transcode", "vmaf_device"]

logger = logging.getLogger(__name__)

WORKER_VERSION = "0.1.0"

# ffmpeg messages that mean the input or the options are at fault: retrying cannot help
_REJECTED = ("Invalid data found when processing input", "Error opening input", "does not contain any stream",
             "Invalid argument", "Error parsing", "No such filter", "Unrecognized option")
# GPU resource problems: another attempt, maybe on another node, may succeed
_GPU_TRANSIENT = ("OpenEncodeSessionEx failed", "CUDA_ERROR", "No decoder surfaces left", "out of memory",
                  "Cannot load libcuda", "NVENC capable devices", "cuInit", "cuCtxCreate", "InitializeEncoder failed",
                  "Device creation failed", "No device available for decoder", "Could not dynamically load CUDA")
# decoder messages (at -loglevel error) that mean a packet of the source could not be decoded
_DECODE_ERRORS = ("Error submitting packet to decoder", "Decoding error", "corrupt decoded frame")


@dataclass(frozen=True)
class JobProgress:
    stage: str
    percent: float
    fps: float | None = None
    speed: float | None = None
    eta_s: float | None = None


def encode_timeout(duration: float, settings: EngineSettings) -> float:
    """Hard limit for one encode: a floor plus a multiple of the source duration."""
    return settings.timeout_floor_s + settings.timeout_factor * duration


def classify_failure(result: quality.RunResult, *, stall_timeout: float, timeout: float) -> WorkerError:
    """Turn a failed run into the error that decides retry or poison."""
    tail = result.stderr_tail
    if result.outcome == "stalled":
        return EncodeStalled(f"encode made no progress for {stall_timeout:.0f}s; killed by the watchdog",
                             stderr_tail=tail)
    if result.outcome == "timeout":
        return EncodeTimeout(f"encode did not finish within its {timeout:.0f}s limit", stderr_tail=tail)
    if result.outcome == "stopped":
        return EncodeInterrupted("encode stopped by shutdown", stderr_tail=tail)
    if result.returncode < 0:
        return EncodeCrashed(f"ffmpeg was killed by signal {-result.returncode}", stderr_tail=tail,
                             returncode=result.returncode)
    if any(marker in tail for marker in _GPU_TRANSIENT):
        return EncodeCrashed("ffmpeg failed on a GPU resource", stderr_tail=tail, returncode=result.returncode)
    if any(marker in tail for marker in _REJECTED):
        return EncodeRejected("ffmpeg rejected the source or the encode options", stderr_tail=tail,
                              returncode=result.returncode)
    return EncodeCrashed("ffmpeg failed", stderr_tail=tail, returncode=result.returncode)


@dataclass
class DecodeErrorLog:
    """Counts the decoder's complaints about the source while the encode runs, with where they happened."""

    position_s: float = 0.0
    count: int = 0
    near_s: list[float] = field(default_factory=list)
    KEEP = 20

    def line(self, text: str) -> None:
        if any(marker in text for marker in _DECODE_ERRORS):
            self.count += 1
            if len(self.near_s) < self.KEEP:
                self.near_s.append(round(self.position_s, 1))

    def check(self, source_frames: int, max_rate: float) -> DecodeErrors:
        """The record for the manifest; ``InvalidSource`` when more than ``max_rate`` of the frames were lost."""
        rate = self.count / max(source_frames, 1)
        if self.count and rate > max_rate:
            raise InvalidSource(f"the source is damaged: {self.count} packets could not be decoded "
                                f"({rate:.1%} of {source_frames} frames, more than WORKER_MAX_DECODE_ERROR_RATE "
                                f"{max_rate:.1%}), first near {self.near_s[0]:.1f}s")
        if self.count:
            logger.warning("the source had %d undecodable packets, near %s s; the gaps were filled by the encode's "
                           "frame-rate normalisation", self.count, self.near_s)
        return DecodeErrors(count=self.count, near_s=self.near_s)


def _run_encode(job: JobPlan, settings: EngineSettings, report: Callable[[JobProgress], None],
                stop: threading.Event | None, adapt_command: Callable[[list[str]], list[str]] | None,
                errors: DecodeErrorLog) -> tuple[quality.RunResult, float]:
    cmd = list(job.argv) if adapt_command is None else adapt_command(list(job.argv))
    logger.debug("encode command: %s", quality.quoted(cmd))
    duration = job.source.duration
    total_us = max(duration, 0.001) * 1e6

    def progress(p: quality.Progress) -> None:
        errors.position_s = p.out_time_s or errors.position_s
        done = (p.out_time_s or 0) * 1e6
        percent = min(100.0, 100 * done / total_us)
        eta = (duration - (p.out_time_s or 0)) / p.speed if p.speed else None
        report(JobProgress("encode", percent, p.fps, p.speed, eta))

    timeout = encode_timeout(duration, settings)
    env = gpu_env() if job.plan.gpu_index is not None else None
    result = quality.run_ffmpeg(cmd, on_progress=progress, timeout=timeout, stall_timeout=settings.stall_timeout_s,
                                stop=stop, env=env, on_stderr=errors.line)
    return result, timeout


def _encode(job: JobPlan, folder: Path, settings: EngineSettings, report: Callable[[JobProgress], None],
            stop: threading.Event | None, adapt_command: Callable[[list[str]], list[str]] | None,
            errors: DecodeErrorLog) -> JobPlan:
    """Run the encode; under ``auto``, a GPU failure re-runs the job on the CPU path in the same attempt."""
    result, timeout = _run_encode(job, settings, report, stop, adapt_command, errors)
    if result.outcome == "failed" and job.plan.path != "cpu" and settings.encoder == "auto":
        detail = gpu_failure(result.stderr_tail)
        if detail is not None:
            logger.warning("the %s path failed on the GPU (%s); encoding again on the CPU", job.plan.path, detail)
            for leftover in folder.iterdir():
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
            job = cpu_replan(job, detail, folder)
            errors.count, errors.near_s = 0, []
            result, timeout = _run_encode(job, settings, report, stop, adapt_command, errors)
    if result.outcome != "ok":
        raise classify_failure(result, stall_timeout=settings.stall_timeout_s, timeout=timeout)
    return job


def content_aware(job: JobPlan, folder: Path, settings: EngineSettings, report: Callable[[JobProgress], None],
                  stop: threading.Event | None) -> tuple[JobPlan, AnalysisRecord]:
    """The analysis (``worker.analysis``), then the job with the rungs it chose."""
    from worker.analysis import analyse
    from worker.analysis_plan import analysis_windows, candidate_sizes

    ca = job.profile.content_aware
    assert ca is not None
    windows, _ = analysis_windows(job.source.duration, job.plan.frame_rate, job.profile.segment_seconds, ca, settings)
    seconds = sum(w.frames for w in windows) / float(job.plan.frame_rate)
    need = analysis_scratch_estimate(seconds, len(candidate_sizes(job.source.width, job.source.height, ca)),
                                     ca.max_bitrate_k)
    check_space(folder, need, f"content-aware probes {need / 1e6:.0f} MB", settings)
    result = analyse(job, folder, settings, report=lambda f: report(JobProgress("analysis", 100 * f)), stop=stop)
    if not result.record.performed:
        return job, result.record
    return with_rungs(job, result.rungs, result.adjustments, folder), result.record


def transcode(input_path: str | Path, out_dir: str | Path, *, profile: Profile = DEFAULT_PROFILE,
              settings: EngineSettings | None = None, on_progress: Callable[[JobProgress], None] | None = None,
              stop: threading.Event | None = None, gpu_scan: GpuScan | None = None,
              adapt_command: Callable[[list[str]], list[str]] | None = None,
              sampling: SamplingPolicy | None = None) -> dict[str, Any]:
    """Encode ``input_path`` into a package at ``out_dir`` and return its manifest (also written as JSON).

    ``gpu_scan`` replaces NVML's view of the GPUs; ``adapt_command`` rewrites the encode command before it runs
    (the CPU emulation of the GPU graph in the tests); ``sampling`` overrides the settings' quality sampling.
    """
    settings = settings or EngineSettings()
    report = on_progress or (lambda _: None)
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(stage: str, since: float) -> float:
        now = time.monotonic()
        timings[stage] = round(now - since, 4)
        return now

    with staging_dir(Path(out_dir)) as folder:
        job = plan_job(input_path, folder, profile, settings, gpu_scan=gpu_scan)
        source = job.source
        t = lap("probe", started)
        analysis = None
        if profile.content_aware is not None:
            job, analysis = content_aware(job, folder, settings, report, stop)
            t = lap("analysis", t)
        package_bytes = package_estimate(source.duration, profile, [r.maxrate_k for r in job.rungs])
        quality_bytes = 0 if settings.quality_policy == "off" else \
            quality_scratch_estimate(source.duration, len(job.rungs), settings.vmaf_subsample)
        check_space(folder, package_bytes + quality_bytes,
                    f"package {package_bytes / 1e6:.0f} MB + quality scratch {quality_bytes / 1e6:.0f} MB", settings)
        errors = DecodeErrorLog()
        job = _encode(job, folder, settings, report, stop, adapt_command, errors)
        decode_errors = errors.check(source.frame_count, settings.max_decode_error_rate)
        choice, plan, rungs, ffmpeg = job.choice, job.plan, list(job.rungs), job.ffmpeg
        t = lap("encode", t)

        files = collect_renditions(folder, len(rungs) + (1 if source.has_audio else 0), duration=source.duration,
                                   segment_seconds=profile.segment_seconds)
        video_files, audio_files = files[: len(rungs)], (files[len(rungs)] if source.has_audio else None)
        codecs = read_codecs(folder / HLS_MASTER_NAME)
        audio = (audio_files, codecs.get("audio", "mp4a.40.2")) if audio_files else None
        triples = [(r, f, codecs.get(f.playlist, "avc1")) for r, f in zip(rungs, video_files, strict=True)]
        write_master(folder, master_playlist(triples, plan.frame_rate, audio))
        renditions = [
            RenditionEntry(name=r.name, path=f.playlist, init=f.init, segments=len(f.segments), codec=c,
                           encoder=choice.encoder, width=r.width, height=r.height,
                           frame_rate=f"{plan.frame_rate.numerator}/{plan.frame_rate.denominator}",
                           target_bitrate=r.bitrate_k * 1000, max_bitrate=r.maxrate_k * 1000,
                           measured_bitrate=f.average_bitrate, peak_bitrate=f.peak_bitrate, size_bytes=f.size_bytes,
                           min_vmaf=r.min_vmaf)
            for r, f, c in triples
        ]
        t = lap("package", t)
        quality_run = QualityRun(measured=False, reason="WORKER_QUALITY_POLICY is off")
        if settings.quality_policy != "off":
            def progress(fraction: float) -> None:
                report(JobProgress("quality", 100 * fraction))

            quality_run = measure_renditions(
                folder, renditions, video_files, source, plan, settings, timeout=encode_timeout(source.duration,
                                                                                                 settings),
                report=progress, stop=stop, policy=sampling or settings.sampling_policy())
            apply_policy(renditions, settings)
            t = lap("quality", t)
        if analysis is not None:
            measured = {r.name: r.vmaf.mean for r in renditions if r.vmaf is not None}
            for chosen in analysis.chosen:
                chosen.measured_vmaf = measured.get(chosen.rung)
        build = ffmpeg_build(ffmpeg)
        manifest = Manifest(
            schema=MANIFEST_SCHEMA,
            source={k: v for k, v in source.to_dict().items() if k != "path"},  # no local paths published
            profile=profile.name, codec=profile.codec, encoder=choice.encoder, encoder_kind=choice.kind,
            video_path=plan.path, path_reason=plan.reason, fallback_reason=choice.reason_text,
            gpu_index=plan.gpu_index, gop_frames=plan.gop_frames, segment_seconds=profile.segment_seconds,
            hls=HLS_MASTER_NAME, dash=MPD_NAME, poster=POSTER_NAME if (folder / POSTER_NAME).exists() else None,
            renditions=renditions,
            audio=None if audio_files is None else AudioEntry(
                path=audio_files.playlist, codec=codecs.get("audio", "mp4a.40.2"),
                bitrate=profile.audio_bitrate_k * 1000, measured_bitrate=audio_files.average_bitrate,
                size_bytes=audio_files.size_bytes),
            quality_policy=settings.quality_policy, quality=quality_run, source_decode_errors=decode_errors,
            flagged=[r.name for r in renditions if r.quality == "below-threshold"],
            adjustments=[AdjustmentEntry.model_validate(a.to_dict()) for a in job.adjustments], analysis=analysis,
            timings=timings,
            versions={"worker": WORKER_VERSION, "quality": quality.__version__, "ffmpeg": build.version},
        )
        manifest.timings["total"] = round(time.monotonic() - started, 4)
        data = manifest.to_json_dict()
        (folder / MANIFEST_NAME).write_text(json.dumps(data, indent=2) + "\n")
    report(JobProgress("done", 100.0))
    logger.info("transcoded %s into %d renditions with %s in %.1fs", Path(input_path).name, len(rungs),
                choice.encoder, manifest.timings["total"])
    return data
