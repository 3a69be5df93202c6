"""GPUs through NVML (``nvidia-ml-py``), one guarded call per field: unsupported fields are ``None``, never a crash."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from worker.gpu_models import GEFORCE_SESSION_LIMIT, find_model

__all__ = ["GpuInfo", "GpuScan", "has_nvenc", "nvenc_evidence", "scan_gpus", "session_limit"]

logger = logging.getLogger(__name__)


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
    nvenc_evidence: str = "model-table"
    """What ``nvenc`` rests on: ``nvml-capacity`` (NVML reports encoder capacity), ``nvml-not-supported`` (NVML
    says this GPU has no encoder to query), ``model-table`` (the GPU table), or ``assumed`` (an unknown model: the
    test encode decides)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GpuScan:
    gpus: tuple[GpuInfo, ...]
    error: str | None
    """Why NVML could not be used (no library, no driver), or ``None``."""


def has_nvenc(name: str) -> bool:
    """From the model table only: False for models built without NVENC (H100, H200, A100, B200, ...)."""
    model = find_model(name)
    return model is None or model.nvenc_engines > 0


def nvenc_evidence(name: str, capacity: int | None, not_supported: bool) -> tuple[bool, str]:
    """Whether the GPU has an NVENC engine, and what says so.

    NVML's encoder capacity is the remaining share of the encoder (0-100): above 0 proves an engine exists; "not
    supported" proves there is none. 0 is ambiguous (absent, or fully busy) and an error says nothing, so those
    two fall back to the model table, and an unknown model is given the benefit of the doubt (the one-frame test
    encode then decides).
    """
    if capacity is not None and capacity > 0:
        return True, "nvml-capacity"
    if not_supported:
        return False, "nvml-not-supported"
    model = find_model(name)
    if model is None:
        return True, "assumed"
    return model.nvenc_engines > 0, "model-table"


def session_limit(name: str) -> int | None:
    model = find_model(name)
    if model is not None:
        return model.session_limit
    return GEFORCE_SESSION_LIMIT if "GEFORCE" in name.upper() else None


def _call(nvml: Any, function: str, *args: Any) -> Any:
    """One NVML call; any NVMLError (unsupported on this GPU, no permission) becomes ``None``."""
    try:
        return getattr(nvml, function)(*args)
    except Exception:
        return None


def _not_supported(nvml: Any, exc: Exception) -> bool:
    code = getattr(nvml, "NVML_ERROR_NOT_SUPPORTED", 3)
    return getattr(exc, "value", None) == code or "NotSupported" in type(exc).__name__


def _capacity(nvml: Any, handle: Any) -> tuple[int | None, bool]:
    """(H.264 encoder capacity or None, whether NVML said the query is not supported on this GPU)."""
    try:
        return int(nvml.nvmlDeviceGetEncoderCapacity(handle, getattr(nvml, "NVML_ENCODER_QUERY_H264", 0))), False
    except Exception as exc:
        return None, _not_supported(nvml, exc)


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
    capacity, not_supported = _capacity(nvml, handle)
    name_text = _text(name) if name is not None else "unknown"
    nvenc, evidence = nvenc_evidence(name_text, capacity, not_supported)
    return GpuInfo(
        index=index, name=name_text, uuid=_text(uuid) if uuid is not None else None, driver=driver,
        memory_total_bytes=int(memory.total) if memory is not None else None,
        memory_used_bytes=int(memory.used) if memory is not None else None,
        utilization_gpu=int(util.gpu) if util is not None else None,
        encoder_utilization=int(enc[0]) if enc is not None else None,
        decoder_utilization=int(dec[0]) if dec is not None else None,
        encoder_sessions=len(sessions) if sessions is not None else None,
        encoder_capacity_h264=capacity, nvenc=nvenc, nvenc_evidence=evidence,
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

