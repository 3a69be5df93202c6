"""The engine: source file in, playable package and ``manifest.json`` out. No queue or storage code here.

Stages: probe → choose encoder → plan ladder → encode (one ffmpeg) → package → quality → manifest → publish.
The package is built in a staging folder and renamed into place only when complete.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import quality
from quality.options import VmafDevice
from worker.capabilities import ffmpeg_build, gpu_env
from worker.command import HLS_MASTER_NAME, MPD_NAME, POSTER_NAME, EncodePlan
from worker.errors import (
    EncodeCrashed,
    EncodeInterrupted,
    EncodeRejected,
    EncodeStalled,
    EncodeTimeout,
    QualityBelowThreshold,
    WorkerError,
)
from worker.gpu import GpuScan
from worker.ladder import DEFAULT_PROFILE, Profile
from worker.media import SourceInfo
from worker.package import (
    RenditionFiles,
    collect_renditions,
    concat_rendition,
    master_playlist,
    read_codecs,
    staging_dir,
    write_master,
)
from worker.planning import JobPlan, cpu_replan, plan_job
from worker.settings import EngineSettings

__all__ = ["MANIFEST_NAME", "MANIFEST_SCHEMA", "JobPlan", "JobProgress", "classify_failure", "encode_timeout",
           "gpu_failure", "plan_job", "transcode", "vmaf_device"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "transcode-manifest/1"
WORKER_VERSION = "0.1.0"

# ffmpeg messages that mean the input or the options are at fault: retrying cannot help
_REJECTED = ("Invalid data found when processing input", "Error opening input", "does not contain any stream",
             "Invalid argument", "Error parsing", "No such filter", "Unrecognized option")
# GPU resource problems: another attempt, maybe on another node, may succeed
_GPU_TRANSIENT = ("OpenEncodeSessionEx failed", "CUDA_ERROR", "No decoder surfaces left", "out of memory",
                  "Cannot load libcuda", "NVENC capable devices", "cuInit", "cuCtxCreate", "InitializeEncoder failed",
                  "Device creation failed", "No device available for decoder", "Could not dynamically load CUDA")
# what marks a failure as the GPU's (on a path that uses one): the job can still succeed on the CPU path
_GPU_WORDS = ("cuda", "nvenc", "nvdec", "cuvid", "openencodesessionex", "initializeencoder", "decoder surfaces",
              "device creation failed", "no device available", "impossible to convert")


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


def gpu_failure(tail: str) -> str | None:
    """The first line of ffmpeg's stderr that shows a GPU failure (CUDA, NVDEC, NVENC), or ``None``."""
    for line in tail.splitlines():
        if any(word in line.lower() for word in _GPU_WORDS):
            return line.strip()[:300]
    return None


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


def _run_encode(job: JobPlan, settings: EngineSettings, report: Callable[[JobProgress], None],
                stop: threading.Event | None,
                adapt_command: Callable[[list[str]], list[str]] | None) -> tuple[quality.RunResult, float]:
    cmd = list(job.argv) if adapt_command is None else adapt_command(list(job.argv))
    logger.debug("encode command: %s", quality.quoted(cmd))
    duration = job.source.duration
    total_us = max(duration, 0.001) * 1e6

    def progress(p: quality.Progress) -> None:
        done = (p.out_time_s or 0) * 1e6
        percent = min(100.0, 100 * done / total_us)
        eta = (duration - (p.out_time_s or 0)) / p.speed if p.speed else None
        report(JobProgress("encode", percent, p.fps, p.speed, eta))

    timeout = encode_timeout(duration, settings)
    env = gpu_env() if job.plan.gpu_index is not None else None
    result = quality.run_ffmpeg(cmd, on_progress=progress, timeout=timeout, stall_timeout=settings.stall_timeout_s,
                                stop=stop, env=env)
    return result, timeout


def _encode(job: JobPlan, folder: Path, settings: EngineSettings, report: Callable[[JobProgress], None],
            stop: threading.Event | None, adapt_command: Callable[[list[str]], list[str]] | None) -> JobPlan:
    """Run the encode; under ``auto``, a GPU failure re-runs the job on the CPU path in the same attempt."""
    result, timeout = _run_encode(job, settings, report, stop, adapt_command)
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
            result, timeout = _run_encode(job, settings, report, stop, adapt_command)
    if result.outcome != "ok":
        raise classify_failure(result, stall_timeout=settings.stall_timeout_s, timeout=timeout)
    return job


def vmaf_device(filters: frozenset[str], plan: EncodePlan) -> VmafDevice:
    """``cuda`` where the ffmpeg build has ``libvmaf_cuda`` and the job has a GPU; else ``cpu``."""
    return "cuda" if "libvmaf_cuda" in filters and plan.gpu_index is not None else "cpu"


def _score(dist: Path, ref: str, options: quality.MeasureOptions,
           stop: threading.Event | None) -> tuple[quality.QualityReport, str | None]:
    """One rendition's scores; a GPU failure of ``libvmaf_cuda`` is scored again on the CPU, with a note."""
    try:
        return quality.measure(dist, ref, options, stop=stop), None
    except quality.QualityError as exc:
        if isinstance(exc, quality.MeasurementFailed) and exc.stopped:
            raise EncodeInterrupted("quality measurement stopped by shutdown") from exc
        text = f"{exc}\n{getattr(exc, 'stderr_tail', '')}"
        failure = gpu_failure(text) if options.device == "cuda" else None
        if failure is None:
            raise
    logger.warning("libvmaf_cuda failed (%s); scoring on the CPU", failure)
    note = f"libvmaf_cuda failed ({failure}); scored on the CPU"
    return quality.measure(dist, ref, replace(options, device="cpu"), stop=stop), note


def _measure(folder: Path, renditions: list[dict[str, Any]], files: list[RenditionFiles], source: SourceInfo,
             plan: EncodePlan, settings: EngineSettings, report: Callable[[JobProgress], None],
             stop: threading.Event | None) -> None:
    """Score every rendition against the source; record VMAF and apply the quality policy."""
    device = vmaf_device(ffmpeg_build(quality.resolve_ffmpeg(settings.ffmpeg_binary)).filters, plan)
    options = quality.MeasureOptions(
        metrics=("vmaf",), subsample=settings.vmaf_subsample, n_threads=settings.vmaf_threads,
        ffmpeg=settings.ffmpeg_binary, device=device, input_formats=settings.input_formats,
        on_frame_rate_mismatch="resample" if plan.resample else "refuse",
        on_frame_count_mismatch="truncate" if plan.resample else "refuse",
    )
    failures = []
    note: str | None = None
    with tempfile.TemporaryDirectory(prefix="vmaf-renditions-") as tmp:
        for n, (entry, rendition_files) in enumerate(zip(renditions, files, strict=True)):
            report(JobProgress("quality", 100 * n / len(renditions)))
            if stop is not None and stop.is_set():
                raise EncodeInterrupted("quality measurement stopped by shutdown")
            joined = concat_rendition(folder, rendition_files, Path(tmp) / f"rendition_{n}.mp4")
            result, failed = _score(joined, source.path, options, stop)
            if failed is not None:
                note = failed
                options = replace(options, device="cpu")  # the GPU scorer failed once: the CPU for the rest
            pooled = result.pooled["vmaf"]
            entry["vmaf"] = {k: pooled[k] for k in ("mean", "harmonic_mean", "p5", "min", "count")}
            warnings = list(result.warnings) + ([note] if note else [])
            if source.hdr:
                warnings.append("the source is HDR and the rendition tone-mapped SDR: VMAF compares them as if "
                                "both were SDR, so the score understates or overstates the real quality")
            entry["vmaf"].update(model=result.settings["model"], subsample=settings.vmaf_subsample,
                                 device=options.device,
                                 alignment=result.alignment["status"], warnings=warnings)
            threshold = entry.get("min_vmaf")
            if threshold is None:
                entry["quality"] = "no-threshold"
            elif float(pooled["mean"]) >= threshold:
                entry["quality"] = "pass"
            else:
                entry["quality"] = "below-threshold"
                failures.append(f"{entry['name']} VMAF {float(pooled['mean']):.2f} < {threshold:g}")
    if failures and settings.quality_policy == "fail":
        raise QualityBelowThreshold("renditions below their VMAF threshold: " + "; ".join(failures))
    if failures:
        logger.warning("flagged renditions below threshold: %s", "; ".join(failures))


def transcode(input_path: str | Path, out_dir: str | Path, *, profile: Profile = DEFAULT_PROFILE,
              settings: EngineSettings | None = None, on_progress: Callable[[JobProgress], None] | None = None,
              stop: threading.Event | None = None, gpu_scan: GpuScan | None = None,
              adapt_command: Callable[[list[str]], list[str]] | None = None) -> dict[str, Any]:
    """Encode ``input_path`` into a package at ``out_dir`` and return its manifest (also written as JSON).

    ``gpu_scan`` replaces NVML's view of the GPUs; ``adapt_command`` rewrites the encode command before it runs
    (the CPU emulation of the GPU graph in the tests).
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
        job = _encode(job, folder, settings, report, stop, adapt_command)
        choice, plan, rungs, ffmpeg = job.choice, job.plan, list(job.rungs), job.ffmpeg
        t = lap("encode", t)

        files = collect_renditions(folder, len(rungs) + (1 if source.has_audio else 0), duration=source.duration,
                                   segment_seconds=profile.segment_seconds)
        video_files, audio_files = files[: len(rungs)], (files[len(rungs)] if source.has_audio else None)
        codecs = read_codecs(folder / HLS_MASTER_NAME)
        audio = (audio_files, codecs.get("audio", "mp4a.40.2")) if audio_files else None
        triples = [(r, f, codecs.get(f.playlist, "avc1")) for r, f in zip(rungs, video_files, strict=True)]
        write_master(folder, master_playlist(triples, plan.frame_rate, audio))
        renditions: list[dict[str, Any]] = [
            {"name": r.name, "path": f.playlist, "init": f.init, "segments": len(f.segments), "codec": c,
             "encoder": choice.encoder, "width": r.width, "height": r.height,
             "frame_rate": f"{plan.frame_rate.numerator}/{plan.frame_rate.denominator}",
             "target_bitrate": r.bitrate_k * 1000, "max_bitrate": r.maxrate_k * 1000,
             "measured_bitrate": f.average_bitrate, "peak_bitrate": f.peak_bitrate, "size_bytes": f.size_bytes,
             "min_vmaf": r.min_vmaf, "vmaf": None, "quality": "unchecked"}
            for r, f, c in triples
        ]
        t = lap("package", t)
        if settings.quality_policy != "off":
            _measure(folder, renditions, video_files, source, plan, settings, report, stop)
            t = lap("quality", t)
        build = ffmpeg_build(ffmpeg)
        manifest: dict[str, Any] = {
            "schema": MANIFEST_SCHEMA,
            "source": {k: v for k, v in source.to_dict().items() if k != "path"},  # no local paths published
            "profile": profile.name,
            "codec": profile.codec,
            "encoder": choice.encoder,
            "encoder_kind": choice.kind,
            "video_path": plan.path,
            "path_reason": plan.reason,
            "fallback_reason": choice.reason_text,
            "gpu_index": plan.gpu_index,
            "gop_frames": plan.gop_frames,
            "segment_seconds": profile.segment_seconds,
            "hls": HLS_MASTER_NAME,
            "dash": MPD_NAME,
            "poster": POSTER_NAME if (folder / POSTER_NAME).exists() else None,
            "renditions": renditions,
            "audio": None if audio_files is None else {
                "path": audio_files.playlist, "codec": codecs.get("audio", "mp4a.40.2"),
                "bitrate": profile.audio_bitrate_k * 1000, "measured_bitrate": audio_files.average_bitrate,
                "size_bytes": audio_files.size_bytes},
            "quality_policy": settings.quality_policy,
            "flagged": [r["name"] for r in renditions if r["quality"] == "below-threshold"],
            "timings": timings,
            "versions": {"worker": WORKER_VERSION, "quality": quality.__version__, "ffmpeg": build.version},
        }
        timings["total"] = round(time.monotonic() - started, 4)
        text = json.dumps(manifest, indent=2) + "\n"
        (folder / MANIFEST_NAME).write_text(text)
    report(JobProgress("done", 100.0))
    logger.info("transcoded %s into %d renditions with %s in %.1fs", Path(input_path).name, len(rungs),
                choice.encoder, timings["total"])
    loaded: dict[str, Any] = json.loads(text)  # exactly what was written: lists, not tuples
    return loaded
