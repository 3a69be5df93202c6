"""Prometheus metrics of the worker, in seconds, on a registry of its own; GPU figures read through NVML at scrape.

Without a GPU (no driver, no NVML) the GPU series are simply absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from worker.gpu import GpuScan, scan_gpus

__all__ = ["Metrics"]

_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, float("inf"))


class _GpuCollector(Collector):
    def __init__(self, scan: Callable[[], GpuScan]) -> None:
        self._scan = scan

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gpus = self._scan().gpus
        if not gpus:
            return
        families = {
            "utilization_gpu": GaugeMetricFamily("transcoder_gpu_utilization_ratio", "GPU busy ratio (0-1)",
                                                 labels=["gpu", "name"]),
            "encoder_utilization": GaugeMetricFamily("transcoder_gpu_encoder_utilization_ratio",
                                                     "NVENC busy ratio (0-1)", labels=["gpu", "name"]),
            "decoder_utilization": GaugeMetricFamily("transcoder_gpu_decoder_utilization_ratio",
                                                     "NVDEC busy ratio (0-1)", labels=["gpu", "name"]),
            "memory_used_bytes": GaugeMetricFamily("transcoder_gpu_memory_used_bytes", "GPU memory in use",
                                                   labels=["gpu", "name"]),
            "memory_total_bytes": GaugeMetricFamily("transcoder_gpu_memory_total_bytes", "GPU memory",
                                                    labels=["gpu", "name"]),
            "encoder_sessions": GaugeMetricFamily("transcoder_gpu_encoder_sessions", "open NVENC sessions",
                                                  labels=["gpu", "name"]),
        }
        for gpu in gpus:
            labels = [str(gpu.index), gpu.name]
            for field, family in families.items():
                value = getattr(gpu, field)
                if value is None:
                    continue
                family.add_metric(labels, value / 100 if field.endswith("utilization") or field == "utilization_gpu"
                                  else value)
        yield from (f for f in families.values() if f.samples)


class Metrics:
    def __init__(self, gpu_scan: Callable[[], GpuScan] | None = scan_gpus) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter("transcoder_jobs", "jobs finished, by outcome", ["outcome"], registry=r)
        self.retries = Counter("transcoder_retries", "jobs released for another attempt", registry=r)
        self.poisoned = Counter("transcoder_poisoned", "messages moved to the poison queue", ["reason"], registry=r)
        self.inprogress = Gauge("transcoder_jobs_inprogress", "jobs running now", registry=r)
        self.duration = Histogram("transcoder_job_duration_seconds", "job wall time, by outcome", ["outcome"],
                                  buckets=_DURATION_BUCKETS, registry=r)
        self.stage = Histogram("transcoder_stage_duration_seconds", "time per job stage", ["stage"],
                               buckets=_DURATION_BUCKETS, registry=r)
        self.queue_depth = Gauge("transcoder_queue_depth", "approximate messages in the job queue", registry=r)
        self.fallbacks = Counter("transcoder_encoder_fallbacks", "jobs encoded on the CPU, by reason", ["reason"],
                                 registry=r)
        self.slots = Gauge("transcoder_job_slots", "jobs this worker may run at once", registry=r)
        self.draining = Gauge("transcoder_draining", "1 while shutting down", registry=r)
        if gpu_scan is not None:
            r.register(_GpuCollector(gpu_scan))
        for outcome in ("succeeded", "failed", "retried", "poisoned", "skipped", "released"):
            self.jobs.labels(outcome)

    def render(self) -> bytes:
        data: Any = generate_latest(self.registry)
        return bytes(data)
