"""The engine's settings: one typed object, read from ``WORKER_*`` environment variables once, in ``__main__``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from quality.ladder import SamplingPolicy

__all__ = ["EncoderPolicy", "EngineSettings", "LogFormat", "QualityPolicy", "ServiceSettings"]

EncoderPolicy = Literal["auto", "gpu", "cpu"]
"""``auto``: NVENC when usable, else the CPU encoders with the reason recorded. ``gpu``: fail without NVENC.
``cpu``: never touch the GPU."""

QualityPolicy = Literal["fail", "flag", "off"]
"""What a rendition under its VMAF threshold does: fail the job, be flagged in the manifest, or not be measured."""


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WORKER_", frozen=True, extra="ignore")

    encoder: EncoderPolicy = "auto"
    max_pixels: int = Field(default=3840 * 2160, ge=1, description="largest source frame (display w*h) accepted")
    max_duration_s: float = Field(default=4 * 3600, gt=0, description="longest source accepted, seconds")
    max_file_bytes: int = Field(default=50 * 1024**3, ge=1, description="largest source file accepted")
    min_dimension: int = Field(default=16, ge=2, description="smallest source width or height accepted")
    stall_timeout_s: float = Field(default=120, gt=0, description="watchdog: kill an encode with no progress")
    timeout_factor: float = Field(default=10, gt=0, description="hard timeout = floor + factor * duration")
    timeout_floor_s: float = Field(default=300, gt=0)
    quality_policy: QualityPolicy = "flag"
    vmaf_subsample: int = Field(default=5, ge=1, description="score every Nth frame of each rendition")
    vmaf_threads: int | None = Field(default=None, ge=1)
    input_formats: str = Field(default="mov,matroska,avi,mpegts,mxf,mpeg,mpegvideo",
                               description="demuxers allowed to open a source (ffmpeg names): the containers the "
                                           "upload rules accept; images, playlists and concat scripts are refused")
    nvenc_probe: bool = Field(default=True, description="run a one-frame NVENC test encode before using NVENC")
    gpu_decode: bool = Field(default=True, description="on a GPU without NVENC, decode and scale on it anyway "
                                                       "(NVDEC + scale_cuda feeding the CPU encoders)")
    ffmpeg_binary: str | None = Field(default=None, validation_alias="FFMPEG_BINARY")
    scratch_dir: Path | None = None
    scratch_limit: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?([KMGTPE]i?|k)?$",
                                      description="size limit of the scratch volume, a Kubernetes quantity "
                                                  "(100Gi): statvfs shows the node's disk, not an emptyDir's limit")
    max_decode_error_rate: float = Field(default=0.01, ge=0, le=1,
                                         description="share of a source's frames that may be undecodable; above "
                                                     "it the source is refused as damaged")
    quality_sampling: Literal["auto", "full", "windows"] = Field(
        default="auto", description="score whole titles (full), sampled windows, or windows above "
                                    "quality_full_below_s (auto)")
    quality_full_below_s: float = Field(default=300.0, ge=0, description="auto: titles shorter than this are "
                                                                           "scored in full")
    quality_window_s: float = Field(default=4.0, gt=0, description="length of one sampled window (whole segments)")
    quality_spacing_s: float = Field(default=20.0, gt=0, description="one window per this much of the title")

    @property
    def scratch_limit_bytes(self) -> int | None:
        """``scratch_limit`` in bytes (binary suffixes Ki..Ei, decimal k..E)."""
        if self.scratch_limit is None:
            return None
        text = self.scratch_limit
        units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
                 "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
        for suffix in sorted(units, key=len, reverse=True):
            if text.endswith(suffix):
                return int(float(text[: -len(suffix)]) * units[suffix])
        return int(float(text))

    def sampling_policy(self) -> SamplingPolicy:
        return SamplingPolicy(mode=self.quality_sampling, full_below_s=self.quality_full_below_s,
                              window_s=self.quality_window_s, spacing_s=self.quality_spacing_s)


LogFormat = Literal["json", "text"]


class ServiceSettings(EngineSettings):
    """Settings of ``python -m worker run``: the engine's, plus storage, queue, lease, drain and HTTP.

    Storage is exactly one of a connection string (Azurite, or keys where policy allows them) or the blob account URL,
    with which the worker signs in through ``DefaultAzureCredential`` (workload identity on AKS); the queue and table
    endpoints are derived from the blob URL unless given.
    """

    storage_connection_string: SecretStr | None = None
    storage_account_url: str | None = Field(default=None, description="https://ACCOUNT.blob.core.windows.net")
    queue_account_url: str | None = None
    table_account_url: str | None = None
    jobs_queue: str = Field(default="transcode-jobs", pattern=r"^[a-z0-9][a-z0-9-]{1,55}[a-z0-9]$")
    jobs_table: str = Field(default="jobs", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    outputs_container: str = Field(default="outputs", pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    uploads_container: str = Field(default="uploads", pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
                                   description="the only container a job's source may come from")
    max_dequeue: int = Field(default=5, ge=1, le=100, description="deliveries before a message goes to poison")
    visibility_timeout_s: float = Field(default=90, ge=5, le=7 * 24 * 3600,
                                        description="lease length: a job whose worker died is picked up again "
                                                    "this long after its last renewal")
    renew_interval_s: float | None = Field(default=None, gt=0, description="lease renewal period (visibility / 3)")
    backoff_base_s: float = Field(default=15, ge=0, description="first retry delay; doubles per delivery")
    backoff_max_s: float = Field(default=900, ge=0)
    drain_seconds: float = Field(default=900, ge=0, description="how long a SIGTERM lets running jobs finish")
    concurrency: int = Field(default=1, ge=1, le=64, description="jobs at once (also bounded by encoder sessions)")
    max_jobs: int = Field(default=0, ge=0, description="exit after this many jobs (0: never)")
    idle_exit_s: float = Field(default=0, ge=0, description="exit after this long with no message (0: never)")
    poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    poll_max_interval_s: float = Field(default=1.0, gt=0, le=300, description="idle polling slows to this")
    progress_step: float = Field(default=5.0, gt=0, le=100, description="job record progress step, percent")
    progress_interval_s: float = Field(default=30.0, gt=0, description="job record progress at least this often")
    upload_concurrency: int = Field(default=8, ge=1, le=64)
    download_concurrency: int = Field(default=4, ge=1, le=64)
    min_free_bytes: int = Field(default=1024**3, ge=0, description="scratch space to keep free beyond a job's need")
    http_port: int = Field(default=8080, ge=0, le=65535, description="/healthz, /readyz, /metrics (0: off)")
    http_host: str = "0.0.0.0"
    profile: Path | None = Field(default=None, description="ladder profile: a built-in name (default, "
                                                           "content-aware) or a YAML or JSON file (default: default)")
    log_format: LogFormat = "text"
    worker_id: str | None = Field(default=None, description="name in job records (default: host name and pid)")

    @field_validator("jobs_queue", "outputs_container", "uploads_container")
    @classmethod
    def _no_double_dash(cls, value: str) -> str:
        if "--" in value:
            raise ValueError("queue and container names cannot contain '--'")
        return value

    @model_validator(mode="after")
    def _one_storage(self) -> ServiceSettings:
        if self.uploads_container == self.outputs_container:
            raise ValueError("WORKER_UPLOADS_CONTAINER and WORKER_OUTPUTS_CONTAINER must differ: a package's "
                             "stale-file sweep would otherwise reach uploads")
        if (self.storage_connection_string is None) == (self.storage_account_url is None):
            raise ValueError("set exactly one of WORKER_STORAGE_CONNECTION_STRING or WORKER_STORAGE_ACCOUNT_URL")
        if self.storage_account_url is not None and not self.storage_account_url.startswith(("https://", "http://")):
            raise ValueError("WORKER_STORAGE_ACCOUNT_URL must be a URL such as https://ACCOUNT.blob.core.windows.net")
        return self

    @property
    def renew_every_s(self) -> float:
        return self.renew_interval_s if self.renew_interval_s is not None else self.visibility_timeout_s / 3

    @property
    def poison_queue(self) -> str:
        return f"{self.jobs_queue}-poison"

    def endpoint(self, service: Literal["queue", "table"]) -> str:
        """The queue or table endpoint of the account (identity-based access only)."""
        given = self.queue_account_url if service == "queue" else self.table_account_url
        if given:
            return given
        assert self.storage_account_url is not None
        return self.storage_account_url.replace(".blob.", f".{service}.", 1)
