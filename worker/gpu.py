"""GPUs through NVML (``nvidia-ml-py``), one guarded call per field: unsupported fields are ``None``, never a crash."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["GpuInfo", "GpuScan", "NO_NVENC_MODELS", "has_nvenc", "scan_gpus", "session_limit"]

logger = logging.getLogger(__name__)

# Data-centre GPUs built without NVENC (they keep NVDEC): encoding on them must fall back to the CPU.
NO_NVENC_MODELS = ("A100", "A30", "A800", "H100", "H200", "H800", "H20", "GH200", "B100", "B200", "GB200")

# GeForce drivers cap concurrent NVENC sessions per system; data-centre cards are limited by capacity only.
GEFORCE_SESSION_LIMIT = 8


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    uuid: str | None
    driver: str | None
    memory_total_bytes: int | None
    memory_used_bytes: int | None
    utilization_gpu: int | None
    encoder_utilization: int | None
    decoder_utilization: int | None
    encoder_sessions: int | None
    encoder_capacity_h264: int | None
    nvenc: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GpuScan:
    gpus: tuple[GpuInfo, ...]
    error: str | None
    """Why NVML could not be used (no library, no driver), or ``None``."""


_NO_NVENC_RE = re.compile(r"\b(" + "|".join(NO_NVENC_MODELS) + r")\b", re.IGNORECASE)


def has_nvenc(name: str) -> bool:
    """False for the GPU models built without an NVENC engine (H100, H200, A100, B200, ...)."""
    return _NO_NVENC_RE.search(name) is None


def session_limit(name: str) -> int | None:
    return GEFORCE_SESSION_LIMIT if "GEFORCE" in name.upper() else None


def _call(nvml: Any, function: str, *args: Any) -> Any:
    """One NVML call; any NVMLError (unsupported on this GPU, no permission) becomes ``None``."""
    try:
        return getattr(nvml, function)(*args)
    except Exception:
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _gpu(nvml: Any, index: int, driver: str | None) -> GpuInfo:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = _call(nvml, "nvmlDeviceGetName", handle)
    uuid = _call(nvml, "nvmlDeviceGetUUID", handle)
    memory = _call(nvml, "nvmlDeviceGetMemoryInfo", handle)
    util = _call(nvml, "nvmlDeviceGetUtilizationRates", handle)
    enc = _call(nvml, "nvmlDeviceGetEncoderUtilization", handle)
    dec = _call(nvml, "nvmlDeviceGetDecoderUtilization", handle)
    sessions = _call(nvml, "nvmlDeviceGetEncoderSessions", handle)
    capacity = _call(nvml, "nvmlDeviceGetEncoderCapacity", handle, getattr(nvml, "NVML_ENCODER_QUERY_H264", 0))
    name_text = _text(name) if name is not None else "unknown"
    return GpuInfo(
        index=index, name=name_text, uuid=_text(uuid) if uuid is not None else None, driver=driver,
        memory_total_bytes=int(memory.total) if memory is not None else None,
        memory_used_bytes=int(memory.used) if memory is not None else None,
        utilization_gpu=int(util.gpu) if util is not None else None,
        encoder_utilization=int(enc[0]) if enc is not None else None,
        decoder_utilization=int(dec[0]) if dec is not None else None,
        encoder_sessions=len(sessions) if sessions is not None else None,
        encoder_capacity_h264=int(capacity) if capacity is not None else None,
        nvenc=has_nvenc(name_text),
    )


def scan_gpus(nvml: Any = None) -> GpuScan:
    """Every GPU NVML sees. ``nvml`` is the ``pynvml`` module (injectable for tests)."""
    if nvml is None:
        try:
            import pynvml
        except ImportError as exc:  # pragma: no cover - it is a dependency
            return GpuScan((), f"nvidia-ml-py is not installed: {exc}")
        nvml = pynvml
    try:
        nvml.nvmlInit()
    except Exception as exc:
        return GpuScan((), f"NVML unavailable ({type(exc).__name__}: {exc}); no NVIDIA driver on this machine")
    try:
        driver = _call(nvml, "nvmlSystemGetDriverVersion")
        count = _call(nvml, "nvmlDeviceGetCount") or 0
        return GpuScan(tuple(_gpu(nvml, i, _text(driver) if driver is not None else None) for i in range(count)),
                       None)
    finally:
        _call(nvml, "nvmlShutdown")

