"""``python -m worker selftest``: what this node can do, one PASS / FAIL / SKIP line per capability, in minutes.

Checks, in order: the driver through NVML; NVDEC into CUDA frames; every CUDA filter the ladder commands use, with
the arguments they use; one short encode per NVENC codec at the ladder's presets; ``libvmaf_cuda`` where the build
has it; the default ladder on a generated 1080p clip on the path ``auto`` picks, and the fallback reason.

A check that needs a GPU is SKIP where there is none (FAIL with ``require_gpu``); NVENC checks are SKIP on a GPU
built without NVENC, with the reason, since the worker then falls back by design.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, cast

import quality
from worker.capabilities import NVENC_ENCODERS, choose_encoder, ffmpeg_build, gpu_env
from worker.command import CUDA_FILTERS
from worker.encoder_args import video_codec_args
from worker.gpu import GpuScan, scan_gpus
from worker.ladder import DEFAULT_PROFILE, Codec, RungPlan
from worker.settings import EngineSettings

__all__ = ["Check", "SelftestReport", "run_selftest"]

Status = Literal["PASS", "FAIL", "SKIP"]

# what each CUDA filter is given in the ladder commands (worker.command)
_FILTER_ARGS = {"bwdif_cuda": "bwdif_cuda=mode=send_frame:deint=interlaced",
                "transpose_cuda": "transpose_cuda=dir=reversal",
                "scale_cuda": "scale_cuda=w=640:h=360:interp_algo=bicubic:format=yuv420p", "hwupload_cuda": None}
_TIMEOUT = 90


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    seconds: float


@dataclass(frozen=True)
class SelftestReport:
    checks: tuple[Check, ...]
    fallback_reason: str | None
    video_path: str | None

    @property
    def ok(self) -> bool:
        return all(c.status != "FAIL" for c in self.checks)

    def lines(self) -> list[str]:
        rows = [f"{c.status:<4}  {c.name:<22} {c.detail}  ({c.seconds:.1f}s)" for c in self.checks]
        counts = {s: sum(c.status == s for c in self.checks) for s in ("PASS", "FAIL", "SKIP")}
        rows.append(f"selftest: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped; "
                    f"path {self.video_path}; fallback: {self.fallback_reason or 'none'}")
        return rows

    def to_json(self) -> str:
        return json.dumps({"ok": self.ok, "video_path": self.video_path, "fallback_reason": self.fallback_reason,
                           "checks": [asdict(c) for c in self.checks]}, indent=2)


def _ffmpeg_error(exc: quality.QualityError) -> str:
    lines = [line for line in str(getattr(exc, "stderr_tail", "") or exc).splitlines() if line.strip()]
    return lines[0][:300] if lines else str(exc)


class _Runner:
    def __init__(self, ffmpeg: str, require_gpu: bool) -> None:
        self.ffmpeg = ffmpeg
        self.require_gpu = require_gpu
        self.checks: list[Check] = []

    def add(self, name: str, status: Status, detail: str, started: float, *, no_gpu: bool = False) -> None:
        """``no_gpu``: skipped for want of a GPU, which ``require_gpu`` turns into a failure."""
        if status == "SKIP" and self.require_gpu and no_gpu:
            status = "FAIL"
        self.checks.append(Check(name, status, detail, round(time.monotonic() - started, 2)))

    def ffmpeg_check(self, name: str, args: list[str], ok_detail: str) -> bool:
        started = time.monotonic()
        try:
            quality.run_ffmpeg_capture([self.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", *args],
                                       timeout=_TIMEOUT, env=gpu_env())
        except quality.QualityError as exc:
            self.add(name, "FAIL", _ffmpeg_error(exc), started)
            return False
        self.add(name, "PASS", ok_detail, started)
        return True


def _clip(ffmpeg: str, folder: Path, size: str, seconds: float) -> Path:
    path = folder / f"clip-{size}.mp4"
    quality.run_ffmpeg_capture([ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                                f"testsrc2=size={size}:rate=30:duration={seconds}", "-c:v", "libx264", "-preset",
                                "ultrafast", "-pix_fmt", "yuv420p", str(path)], timeout=_TIMEOUT)
    return path


def _gpu_checks(r: _Runner, scan: GpuScan, clip: Path) -> None:
    gpu = scan.gpus[0]
    index = str(gpu.index)
    decode = ["-hwaccel", "cuda", "-hwaccel_device", index, "-hwaccel_output_format", "cuda", "-i", str(clip)]
    r.ffmpeg_check("nvdec", [*decode, "-f", "null", "-"], f"H.264 decoded into CUDA frames on GPU {index}")
    for name in CUDA_FILTERS:
        graph = f"hwupload_cuda=device={index}" + (f",{_FILTER_ARGS[name]}" if _FILTER_ARGS.get(name) else "")
        r.ffmpeg_check(f"filter {name}", ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=1", "-vf",
                                          f"format=yuv420p,{graph},hwdownload,format=yuv420p", "-f", "null", "-"],
                       _FILTER_ARGS.get(name) or "system memory to CUDA frames")
    rungs = {rung.nvenc_preset or DEFAULT_PROFILE.nvenc_preset for rung in DEFAULT_PROFILE.rungs}
    for codec, encoder in NVENC_ENCODERS.items():
        started = time.monotonic()
        choice = choose_encoder("auto", cast(Codec, codec), scan, sessions_needed=1, build=None)
        if choice.kind != "nvenc":
            r.add(f"nvenc {codec}", "SKIP", f"not used here: {choice.reason_text}", started)
            continue
        for preset in sorted(rungs):
            rung = RungPlan("check", 1280, 720, 3000, 3300, 6000, "veryfast", preset, None)
            args = video_codec_args(0, rung, choice, 60, gpu.index)
            r.ffmpeg_check(f"nvenc {codec} {preset}", [*decode, "-map", "0:v", "-vf", "scale_cuda=w=1280:h=720",
                                                      *args, "-g", "60", "-f", "null", "-"],
                           f"{encoder} at {preset}")


def _vmaf_cuda_check(r: _Runner, has_gpu: bool, clip: Path) -> None:
    started = time.monotonic()
    if "libvmaf_cuda" not in ffmpeg_build(r.ffmpeg).filters:
        r.add("libvmaf_cuda", "SKIP", "not in this ffmpeg build: VMAF runs on the CPU (libvmaf)", started)
        return
    if not has_gpu:
        r.add("libvmaf_cuda", "SKIP", "no GPU: VMAF runs on the CPU (libvmaf)", started, no_gpu=True)
        return
    up = "hwupload_cuda,scale_cuda=format=yuv420p"
    r.ffmpeg_check("libvmaf_cuda", ["-i", str(clip), "-i", str(clip), "-filter_complex",
                                    f"[0:v]format=yuv420p,{up}[d];[1:v]format=yuv420p,{up}[r];[d][r]libvmaf_cuda",
                                    "-f", "null", "-"], "VMAF on the GPU")


def _ladder_check(r: _Runner, settings: EngineSettings, folder: Path, scan: GpuScan) -> tuple[str | None, str | None]:
    from worker.engine import transcode

    started = time.monotonic()
    try:
        clip = _clip(r.ffmpeg, folder, "1920x1080", 2)
        manifest = transcode(clip, folder / "ladder", settings=settings.model_copy(
            update={"quality_policy": "off", "encoder": "auto"}), gpu_scan=scan)
    except Exception as exc:  # the selftest reports, it does not crash
        r.add("ladder 1080p", "FAIL", f"{type(exc).__name__}: {exc}", started)
        return None, None
    detail = (f"{len(manifest['renditions'])} renditions, path {manifest['video_path']}, {manifest['encoder']}, "
              f"encode {manifest['timings'].get('encode', 0):.1f}s for 2.0s of 1080p")
    r.add("ladder 1080p", "PASS", detail, started)
    reason = manifest["fallback_reason"]
    status: Status = "FAIL" if (r.require_gpu and manifest["video_path"] == "cpu") else "PASS"
    r.checks.append(Check("fallback", status, reason or "none: NVENC in use", 0.0))
    return reason, manifest["video_path"]


def run_selftest(settings: EngineSettings, *, require_gpu: bool = False,
                 scan: Callable[[], GpuScan] = scan_gpus) -> SelftestReport:
    """Every check, in order; never raises for a failing capability (the report says FAIL)."""
    ffmpeg = quality.resolve_ffmpeg(settings.ffmpeg_binary)
    r = _Runner(ffmpeg, require_gpu)
    started = time.monotonic()
    gpus = scan()
    if gpus.error is not None or not gpus.gpus:
        r.add("nvml", "SKIP", f"no GPU: {gpus.error or 'NVML sees no GPU'}", started, no_gpu=True)
    else:
        names = ", ".join(f"{g.index}: {g.name} (NVENC {'yes' if g.nvenc else 'no'}, {g.nvenc_evidence})"
                          for g in gpus.gpus)
        r.add("nvml", "PASS", f"driver {gpus.gpus[0].driver}; {names}", started)
    with tempfile.TemporaryDirectory(prefix="selftest-", dir=settings.scratch_dir) as tmp:
        folder = Path(tmp)
        clip = _clip(ffmpeg, folder, "1280x720", 1)
        if gpus.gpus:
            _gpu_checks(r, gpus, clip)
        else:
            started = time.monotonic()
            for name in ("nvdec", *(f"filter {f}" for f in CUDA_FILTERS), *(f"nvenc {c}" for c in NVENC_ENCODERS)):
                r.add(name, "SKIP", "no GPU on this node", started, no_gpu=True)
        _vmaf_cuda_check(r, bool(gpus.gpus), clip)
        reason, path = _ladder_check(r, settings, folder, gpus)
    return SelftestReport(tuple(r.checks), reason, path)

