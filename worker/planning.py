"""Everything decided before the encode starts: source facts, rungs, encoder, video path and the exact argv.

``plan_job`` is what the engine runs and what ``transcode --dry-run`` prints, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import quality
from worker.capabilities import CPU_ENCODERS, EncoderChoice, choose_encoder, ffmpeg_build, nvenc_smoke_test
from worker.command import EncodePlan, build_ladder_cmd, plan_encode, video_encoder_args
from worker.gpu import GpuInfo, GpuScan, scan_gpus
from worker.gpu_models import find_model
from worker.ladder import Profile, RungPlan, plan_ladder
from worker.ladder_caps import Adjustment, adjust_ladder
from worker.media import SourceInfo, check_limits, probe_source
from worker.settings import EngineSettings

__all__ = ["JobPlan", "assumed_scan", "cpu_replan", "plan_job", "with_rungs"]


@dataclass(frozen=True)
class JobPlan:
    ffmpeg: str
    source: SourceInfo
    profile: Profile
    rungs: tuple[RungPlan, ...]
    choice: EncoderChoice
    plan: EncodePlan
    argv: tuple[str, ...]
    input_formats: str | None = None
    adjustments: tuple[Adjustment, ...] = ()
    """What the caps and the de-duplication did to the profile's rungs (``worker.ladder_caps``)."""

    def encoders(self) -> list[list[str]]:
        """Per video output, its encoder arguments exactly as in ``argv``."""
        return video_encoder_args(self.rungs, self.profile, self.choice, self.plan)

    def to_dict(self) -> dict[str, Any]:
        return {"video_path": self.plan.path, "encoder": self.choice.encoder,
                "fallback_reason": self.choice.reason_text, "path_reason": self.plan.reason,
                "gpu_index": self.plan.gpu_index, "argv": list(self.argv), "encoders": self.encoders(),
                "adjustments": [a.to_dict() for a in self.adjustments]}


def assumed_scan(model_name: str) -> GpuScan:
    """A scan with one GPU of this model at index 0, idle, as the model table describes it."""
    model = find_model(model_name)
    if model is None:
        raise ValueError(f"unknown GPU model {model_name!r}")
    nvenc = model.nvenc_engines > 0
    gpu = GpuInfo(index=0, name=f"NVIDIA {model.name}", uuid=None, driver=None, memory_total_bytes=None,
                  memory_used_bytes=None, utilization_gpu=0, encoder_utilization=0, decoder_utilization=0,
                  encoder_sessions=0, encoder_capacity_h264=100 if nvenc else None, nvenc=nvenc,
                  nvenc_evidence="assumed")
    return GpuScan((gpu,), None)


def _choose(settings: EngineSettings, profile: Profile, rungs: list[RungPlan], ffmpeg: str,
            gpu_scan: GpuScan | None, smoke_test: bool) -> EncoderChoice:
    if settings.encoder == "cpu":
        return choose_encoder("cpu", profile.codec, None, sessions_needed=len(rungs), build=None)
    scan = gpu_scan if gpu_scan is not None else scan_gpus()
    smoke = (lambda enc, index: nvenc_smoke_test(ffmpeg, enc, index)) if smoke_test else None
    return choose_encoder(settings.encoder, profile.codec, scan, sessions_needed=len(rungs),
                          build=ffmpeg_build(ffmpeg), smoke=smoke)


def plan_job(input_path: str | Path, out_dir: str | Path, profile: Profile, settings: EngineSettings, *,
             gpu_scan: GpuScan | None = None, smoke_test: bool | None = None) -> JobPlan:
    """Probe, check the limits, choose the encoder and the path, and build the command (nothing is encoded).

    ``gpu_scan`` replaces NVML's (``assumed_scan`` for a dry run); ``smoke_test`` defaults to
    ``settings.nvenc_probe``.
    """
    source = probe_source(input_path, settings.input_formats, settings)
    check_limits(source, settings)
    ffmpeg = quality.resolve_ffmpeg(settings.ffmpeg_binary)
    rungs, adjustments = adjust_ladder(plan_ladder(source.width, source.height, profile), source.width,
                                       source.height, source.video_bitrate, profile)
    choice = _choose(settings, profile, rungs, ffmpeg, gpu_scan,
                     settings.nvenc_probe if smoke_test is None else smoke_test)
    plan = plan_encode(source, profile, choice, gpu_decode=settings.gpu_decode)
    argv = build_ladder_cmd(ffmpeg, source, rungs, profile, choice, plan, out_dir, formats=settings.input_formats)
    return JobPlan(ffmpeg, source, profile, tuple(rungs), choice, plan, tuple(argv), settings.input_formats,
                   tuple(adjustments))


def with_rungs(job: JobPlan, rungs: list[RungPlan], adjustments: list[Adjustment], out_dir: str | Path) -> JobPlan:
    """The same job (encoder, path) with other rungs: the content-aware analysis' choice."""
    argv = build_ladder_cmd(job.ffmpeg, job.source, rungs, job.profile, job.choice, job.plan, out_dir,
                            formats=job.input_formats)
    return replace(job, rungs=tuple(rungs), argv=tuple(argv), adjustments=tuple(adjustments))


def cpu_replan(job: JobPlan, detail: str, out_dir: str | Path) -> JobPlan:
    """The same job on the CPU path, after a GPU failure inside it (``fallback_reason: gpu-failed``)."""
    choice = EncoderChoice("cpu", CPU_ENCODERS[job.profile.codec], fallback_reason="gpu-failed", detail=detail)
    plan = plan_encode(job.source, job.profile, choice)
    argv = build_ladder_cmd(job.ffmpeg, job.source, job.rungs, job.profile, choice, plan, out_dir,
                            formats=job.input_formats)
    return replace(job, choice=choice, plan=plan, argv=tuple(argv))
