"""The engine's settings: one typed object, read from ``WORKER_*`` environment variables once, in ``__main__``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["EncoderPolicy", "EngineSettings", "QualityPolicy"]

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
    nvenc_probe: bool = Field(default=True, description="run a one-frame NVENC test encode before using NVENC")
    ffmpeg_binary: str | None = Field(default=None, validation_alias="FFMPEG_BINARY")
    scratch_dir: Path | None = None
