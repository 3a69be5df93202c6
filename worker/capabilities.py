"""What this machine can encode with: the ffmpeg build, NVENC test encodes, and the encoder decision.

"Listed by ffmpeg" is not "usable": every ffmpeg build here lists ``h264_nvenc``. NVENC counts as usable only when
NVML shows a GPU with an NVENC engine, its sessions are not exhausted, and a one-frame test encode succeeds.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import quality
from worker.errors import GpuUnavailable
from worker.gpu import GpuInfo, GpuScan, session_limit
from worker.gpu_models import find_model
from worker.ladder import Codec
from worker.settings import EncoderPolicy

__all__ = ["CPU_ENCODERS", "NVENC_ENCODERS", "EncoderChoice", "FfmpegBuild", "choose_encoder", "ffmpeg_build",
           "nvenc_smoke_cmd", "nvenc_smoke_test"]

logger = logging.getLogger(__name__)

NVENC_ENCODERS: dict[str, str] = {"h264": "h264_nvenc", "hevc": "hevc_nvenc", "av1": "av1_nvenc"}
CPU_ENCODERS: dict[str, str] = {"h264": "libx264", "hevc": "libx265", "av1": "libsvtav1"}

FallbackReason = Literal["cpu-requested", "no-nvml", "no-gpu", "gpu-without-nvenc", "nvenc-codec-unsupported",
                         "session-limit", "test-encode-failed", "nvenc-not-in-build", "gpu-failed"]
"""Why the CPU encoders were used instead of NVENC."""


@dataclass(frozen=True)
class FfmpegBuild:
    path: str
    version: str
    encoders: frozenset[str]
    filters: frozenset[str]
    hwaccels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        wanted = set(NVENC_ENCODERS.values()) | set(CPU_ENCODERS.values()) | {"aac"}
        return {
            "path": self.path, "version": self.version, "hwaccels": list(self.hwaccels),
            "encoders": sorted(self.encoders & wanted),
            "filters": sorted(f for f in self.filters if f.endswith("_cuda") or f in {"libvmaf", "scale", "split",
                                                                                        "bwdif", "zscale", "tonemap"}),
        }


def _listing(ffmpeg: str, what: str) -> str:
    return quality.run_ffmpeg_capture([ffmpeg, "-hide_banner", "-nostdin", f"-{what}"], timeout=60).decode()


_ROW = re.compile(r"^\s*[A-Z.|]{2,8}\s+(\S+)\s", re.MULTILINE)


@functools.lru_cache(maxsize=4)
def ffmpeg_build(ffmpeg: str) -> FfmpegBuild:
    """Version, encoders, filters and hwaccels of an ffmpeg binary (cached per path)."""
    version_text = _listing(ffmpeg, "version")
    match = re.search(r"ffmpeg version (\S+)", version_text)
    encoders = frozenset(_ROW.findall(_listing(ffmpeg, "encoders").split("------", 1)[-1]))
    filters = frozenset(_ROW.findall(_listing(ffmpeg, "filters").split("------", 1)[-1]))
    hw_text = _listing(ffmpeg, "hwaccels")
    hwaccels = tuple(line.strip() for line in hw_text.splitlines()[1:] if line.strip() and " " not in line.strip())
    return FfmpegBuild(ffmpeg, match.group(1) if match else "unknown", encoders, filters, hwaccels)


def nvenc_smoke_cmd(ffmpeg: str, encoder: str, gpu_index: int = 0) -> list[str]:
    """Encode one 256x144 frame with ``encoder`` on GPU ``gpu_index`` and throw it away."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
            "color=c=gray:size=256x144:rate=1:duration=1", "-frames:v", "1", "-c:v", encoder, "-gpu", str(gpu_index),
            "-f", "null", "-"]


def nvenc_smoke_test(ffmpeg: str, encoder: str, gpu_index: int = 0) -> tuple[bool, str]:
    """(usable, detail): ffmpeg's own last error line when the test encode fails."""
    try:
        quality.run_ffmpeg_capture(nvenc_smoke_cmd(ffmpeg, encoder, gpu_index), timeout=60, env=gpu_env())
    except quality.QualityError as exc:
        lines = [line for line in str(getattr(exc, "stderr_tail", "") or exc).splitlines() if line.strip()]
        own = [line.split("]", 1)[-1].strip() for line in lines if f"[{encoder} @" in line]
        return False, own[0] if own else (lines[-1] if lines else str(exc))
    return True, "ok"


def gpu_env() -> dict[str, str]:
    """The environment for ffmpeg: CUDA numbers GPUs in PCI bus order, as NVML does, so an NVML index is a CUDA
    index (CUDA's default order puts the fastest GPU first)."""
    return {**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


@dataclass(frozen=True)
class EncoderChoice:
    kind: Literal["nvenc", "cpu"]
    encoder: str
    gpu_index: int | None = None
    """The GPU to use: NVENC's, or (CPU encoders) the GPU that may still decode and scale."""
    fallback_reason: FallbackReason | None = None
    detail: str | None = None
    gpu_name: str | None = None

    @property
    def reason_text(self) -> str | None:
        if self.fallback_reason is None:
            return None
        return f"{self.fallback_reason}: {self.detail}" if self.detail else self.fallback_reason


def choose_encoder(policy: EncoderPolicy, codec: Codec, scan: GpuScan | None, *, sessions_needed: int,
                   build: FfmpegBuild | None,
                   smoke: Callable[[str, int], tuple[bool, str]] | None = None) -> EncoderChoice:
    """Apply the encoder policy. ``smoke(encoder, gpu_index) -> (ok, detail)`` runs the test encode (injectable).

    A CPU choice keeps the index and name of a GPU that is present, so that decoding and scaling may still use it.

    ``cpu`` never looks at the GPU (``scan`` may be ``None``). ``gpu`` raises ``GpuUnavailable`` with the reason
    where ``auto`` would fall back.
    """
    nvenc, cpu = NVENC_ENCODERS[codec], CPU_ENCODERS[codec]
    if policy == "cpu":
        return EncoderChoice("cpu", cpu, fallback_reason="cpu-requested", detail="encoder policy is cpu")

    def fallback(reason: FallbackReason, detail: str, gpu: GpuInfo | None = None) -> EncoderChoice:
        if policy == "gpu":
            raise GpuUnavailable(f"NVENC is not usable for {codec} ({reason}): {detail}")
        logger.info("encoding on the CPU with %s: %s (%s)", cpu, reason, detail)
        return EncoderChoice("cpu", cpu, fallback_reason=reason, detail=detail,
                             gpu_index=gpu.index if gpu is not None else None,
                             gpu_name=gpu.name if gpu is not None else None)

    if build is not None and nvenc not in build.encoders:
        return fallback("nvenc-not-in-build", f"{build.path} has no {nvenc} encoder")
    if scan is None or scan.error is not None:
        return fallback("no-nvml", scan.error if scan is not None and scan.error else "GPU scan skipped")
    if not scan.gpus:
        return fallback("no-gpu", "NVML sees no GPU")
    candidates = [g for g in scan.gpus if g.nvenc]
    if not candidates:  # the GPU with the least busy decoder may still decode and scale
        names = ", ".join(sorted({g.name for g in scan.gpus}))
        decoder = min(scan.gpus, key=lambda g: (g.decoder_utilization or 0, g.index))
        return fallback("gpu-without-nvenc", f"{names} has no NVENC engine", decoder)
    able = [g for g in candidates if codec in _nvenc_codecs(g)]
    if not able:
        gpu = candidates[0]
        return fallback("nvenc-codec-unsupported", f"NVENC on {gpu.name} cannot encode {codec}", gpu)
    free = []
    for gpu in able:
        limit = session_limit(gpu.name)
        in_use = gpu.encoder_sessions or 0
        if limit is None or in_use + sessions_needed <= limit:
            free.append(gpu)
    if not free:
        gpu = able[0]
        return fallback("session-limit", f"{gpu.name} has {gpu.encoder_sessions} of {session_limit(gpu.name)} "
                                         f"NVENC sessions in use; this job needs {sessions_needed}", gpu)
    gpu = min(free, key=lambda g: (g.encoder_utilization or 0, g.encoder_sessions or 0))
    ok, detail = (smoke or (lambda enc, index: (True, "not run")))(nvenc, gpu.index)
    if not ok:
        return fallback("test-encode-failed", f"one-frame {nvenc} test encode on GPU {gpu.index} failed: {detail}",
                        gpu)
    return EncoderChoice("nvenc", nvenc, gpu_index=gpu.index, gpu_name=gpu.name)


def _nvenc_codecs(gpu: GpuInfo) -> frozenset[str]:
    """The codecs NVENC on this GPU encodes: from the model table; an unknown model is tried for all three."""
    model = find_model(gpu.name)
    return model.nvenc_codecs if model is not None and model.nvenc_engines else frozenset(NVENC_ENCODERS)
