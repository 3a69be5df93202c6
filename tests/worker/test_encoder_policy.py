"""The encoder decision and the NVML scan, with NVML faked by scenario (no GPU here or in CI)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from worker.capabilities import FfmpegBuild, choose_encoder, nvenc_smoke_cmd
from worker.errors import GpuUnavailable
from worker.gpu import GpuInfo, GpuScan, has_nvenc, scan_gpus

BUILD = FfmpegBuild("ffmpeg", "9.0", frozenset({"h264_nvenc", "hevc_nvenc", "av1_nvenc", "libx264", "libx265",
                                                "libsvtav1"}), frozenset(), ("cuda",))


def gpu(name: str, sessions: int = 0, index: int = 0, util: int = 0) -> GpuInfo:
    return GpuInfo(index, name, None, "550.54", 16 << 30, 1 << 30, 5, util, 0, sessions, 100, has_nvenc(name))


def ok_smoke(encoder: str, index: int) -> tuple[bool, str]:
    return True, "ok"


def test_cpu_policy_never_touches_the_gpu() -> None:
    choice = choose_encoder("cpu", "h264", None, sessions_needed=4, build=None)
    assert (choice.kind, choice.encoder, choice.fallback_reason) == ("cpu", "libx264", "cpu-requested")


@pytest.mark.parametrize(
    ("scan", "reason", "words"),
    [
        (GpuScan((), "NVML unavailable (NVMLError_LibraryNotFound)"), "no-nvml", "LibraryNotFound"),
        (GpuScan((), None), "no-gpu", "no GPU"),
        (GpuScan((gpu("NVIDIA H100 80GB HBM3"),), None), "gpu-without-nvenc", "H100 80GB HBM3 has no NVENC"),
        (GpuScan((gpu("NVIDIA H200"), gpu("NVIDIA A100-SXM4-40GB", index=1)), None), "gpu-without-nvenc", "A100"),
        (GpuScan((gpu("NVIDIA GeForce RTX 4090", sessions=6),), None), "session-limit", "6 of 8 NVENC sessions"),
    ],
)
def test_auto_falls_back_with_the_reason_and_gpu_fails_with_it(scan: GpuScan, reason: str, words: str) -> None:
    choice = choose_encoder("auto", "h264", scan, sessions_needed=4, build=BUILD, smoke=ok_smoke)
    assert choice.kind == "cpu" and choice.encoder == "libx264"
    assert choice.fallback_reason == reason
    assert words in (choice.reason_text or "")
    with pytest.raises(GpuUnavailable, match=reason):
        choose_encoder("gpu", "h264", scan, sessions_needed=4, build=BUILD, smoke=ok_smoke)


def test_failed_test_encode_falls_back() -> None:
    scan = GpuScan((gpu("Tesla T4"),), None)
    choice = choose_encoder("auto", "hevc", scan, sessions_needed=3, build=BUILD,
                            smoke=lambda enc, index: (False, "OpenEncodeSessionEx failed: out of memory (10)"))
    assert (choice.kind, choice.encoder, choice.fallback_reason) == ("cpu", "libx265", "test-encode-failed")
    assert "out of memory" in (choice.reason_text or "")


def test_listed_but_missing_encoder_in_build() -> None:
    build = FfmpegBuild("ffmpeg", "5.1", frozenset({"libx264"}), frozenset(), ())
    choice = choose_encoder("auto", "h264", GpuScan((gpu("NVIDIA L4"),), None), sessions_needed=1, build=build)
    assert choice.fallback_reason == "nvenc-not-in-build"


def test_usable_nvenc_picks_the_least_busy_gpu_with_free_sessions() -> None:
    scan = GpuScan((gpu("NVIDIA H100 PCIe", index=0), gpu("NVIDIA L4", index=1, util=70),
                    gpu("NVIDIA L4", index=2, util=10)), None)
    seen: list[tuple[str, int]] = []
    choice = choose_encoder("gpu", "av1", scan, sessions_needed=5, build=BUILD,
                            smoke=lambda enc, index: (seen.append((enc, index)) or True, "ok"))
    assert (choice.kind, choice.encoder, choice.gpu_index, choice.fallback_reason) == ("nvenc", "av1_nvenc", 2, None)
    assert seen == [("av1_nvenc", 2)]  # the test encode runs on the GPU that was chosen, not on the first one


def test_nvenc_without_the_codec_falls_back_and_keeps_the_gpu_for_decoding() -> None:
    choice = choose_encoder("auto", "av1", GpuScan((gpu("Tesla T4", index=3),), None), sessions_needed=2,
                            build=BUILD, smoke=ok_smoke)
    assert (choice.kind, choice.encoder, choice.fallback_reason) == ("cpu", "libsvtav1", "nvenc-codec-unsupported")
    assert choice.gpu_index == 3 and "T4 cannot encode av1" in (choice.reason_text or "")


def test_smoke_command_names_the_gpu() -> None:
    cmd = nvenc_smoke_cmd("ffmpeg", "hevc_nvenc", 2)
    assert cmd[cmd.index("-gpu") + 1] == "2" and cmd[cmd.index("-c:v") + 1] == "hevc_nvenc"


def test_geforce_with_room_is_used() -> None:
    choice = choose_encoder("auto", "h264", GpuScan((gpu("NVIDIA GeForce RTX 3060", sessions=2),), None),
                            sessions_needed=5, build=BUILD, smoke=ok_smoke)
    assert choice.kind == "nvenc"


class FakeNvml:
    """pynvml's surface as the scan uses it; ``fail`` lists functions that raise like an unsupported field."""

    NVML_ENCODER_QUERY_H264 = 0

    def __init__(self, names: list[str], *, init_error: Exception | None = None, fail: set[str] | None = None,
                 capacity: dict[str, int | None] | None = None):
        self.names = names
        self.capacity = capacity or {}
        self.init_error = init_error
        self.fail = fail or set()
        self.shutdown = False

    def __getattribute__(self, item: str) -> Any:
        if item.startswith("nvml") and item in object.__getattribute__(self, "fail"):
            def unsupported(*args: Any) -> Any:
                raise RuntimeError("NVMLError_NotSupported")
            return unsupported
        return object.__getattribute__(self, item)

    def nvmlInit(self) -> None:
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self.shutdown = True

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"550.54.15"

    def nvmlDeviceGetCount(self) -> int:
        return len(self.names)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> str:
        return self.names[h]

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return f"GPU-{h}"

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return SimpleNamespace(total=24 << 30, used=2 << 30)

    def nvmlDeviceGetUtilizationRates(self, h: int) -> Any:
        return SimpleNamespace(gpu=33, memory=10)

    def nvmlDeviceGetEncoderUtilization(self, h: int) -> list[int]:
        return [41, 167000]

    def nvmlDeviceGetDecoderUtilization(self, h: int) -> list[int]:
        return [12, 167000]

    def nvmlDeviceGetEncoderSessions(self, h: int) -> list[object]:
        return [object(), object()]

    def nvmlDeviceGetEncoderCapacity(self, h: int, kind: int) -> int:
        value = self.capacity.get(self.names[h], 80)
        if value is None:
            raise NotSupported()
        return value


class NotSupported(Exception):
    """What pynvml raises for NVML_ERROR_NOT_SUPPORTED (its class carries ``value`` 3)."""

    value = 3


def test_scan_reads_every_field() -> None:
    nvml = FakeNvml(["NVIDIA L4", "NVIDIA H100 80GB HBM3"], capacity={"NVIDIA H100 80GB HBM3": None})
    scan = scan_gpus(nvml)
    assert scan.error is None and nvml.shutdown
    l4, h100 = scan.gpus
    assert (l4.name, l4.driver, l4.encoder_utilization, l4.decoder_utilization, l4.encoder_sessions) == (
        "NVIDIA L4", "550.54.15", 41, 12, 2)
    assert l4.memory_total_bytes == 24 << 30 and l4.encoder_capacity_h264 == 80
    assert l4.nvenc and not h100.nvenc
    assert (l4.nvenc_evidence, h100.nvenc_evidence) == ("nvml-capacity", "nvml-not-supported")


@pytest.mark.parametrize(
    ("name", "capacity", "nvenc", "evidence"),
    [
        ("NVIDIA Future GPU 9000", None, False, "nvml-not-supported"),  # not in any list: NVML decides
        ("NVIDIA H100 PCIe", 100, True, "nvml-capacity"),  # NVML's word beats the model list
        ("Tesla T4", 0, True, "model-table"),  # 0 is a busy encoder or none: the table says T4 has one
        ("NVIDIA A100-SXM4-40GB", 0, False, "model-table"),
    ],
)
def test_nvenc_presence_comes_from_nvml_capacity_first(name: str, capacity: int | None, nvenc: bool,
                                                       evidence: str) -> None:
    (info,) = scan_gpus(FakeNvml([name], capacity={name: capacity})).gpus
    assert (info.nvenc, info.nvenc_evidence) == (nvenc, evidence)


def test_unsupported_fields_become_none() -> None:
    nvml = FakeNvml(["Tesla T4"], fail={"nvmlDeviceGetEncoderUtilization", "nvmlDeviceGetEncoderSessions",
                                        "nvmlDeviceGetMemoryInfo"})
    (t4,) = scan_gpus(nvml).gpus
    assert t4.encoder_utilization is None and t4.encoder_sessions is None and t4.memory_total_bytes is None
    assert t4.decoder_utilization == 12


def test_no_driver_is_an_answer_not_a_crash() -> None:
    scan = scan_gpus(FakeNvml([], init_error=RuntimeError("NVML Shared Library Not Found")))
    assert scan.gpus == () and "Shared Library Not Found" in (scan.error or "")


def test_real_nvml_here_reports_no_driver() -> None:
    scan = scan_gpus()
    if scan.gpus:
        pytest.skip("this machine has an NVIDIA GPU")
    assert scan.error is not None
