"""The ``content_aware:`` block of a ladder profile: what the per-title analysis aims at and within which bounds.

    content_aware:
      top_vmaf: 93          # or vmaf_targets: [93, 87, 81]
      vmaf_step: 6
      max_rungs: 5
      heights: [1080, 720, 540, 360, 240]
      min_bitrate_k: 64
      max_bitrate_k: 8000

With it, the profile's ``rungs`` are only the fallback ladder (a source libvmaf cannot score); the rungs encoded are
the analysis' choice (``worker.analysis``), each with its target as ``min_vmaf``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Codec", "ContentAware", "RateControl"]

Codec = Literal["h264", "hevc", "av1"]
"""Video codecs a profile may ask for; each has an NVENC and a CPU encoder."""

RateControl = Literal["capped-crf", "vbr"]
"""How a chosen rung is encoded. ``capped-crf``: at the chosen point's CRF (NVENC ``-cq``), the peak held to
``maxrate_factor`` times the chosen bitrate by a buffer of ``bufsize_factor`` times it: the probes' own rate control,
so the prediction carries over, and the cap bounds the peak. ``vbr``: average bitrate = the chosen bitrate, with the
same peak and buffer (what the fixed ladder does). On a 3 s 320x240 generated clip one-pass VBR scored 2.9 to 4.3 VMAF
under the probes' prediction at the same bitrates, capped CRF 0 to 1.9 above it (docs/ladders.md)."""


class ContentAware(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    vmaf_targets: tuple[Annotated[float, Field(gt=0, le=100)], ...] | None = Field(
        default=None, min_length=1, description="VMAF target of each rung, top first (or top_vmaf and vmaf_step)")
    top_vmaf: float = Field(default=93.0, gt=0, le=100, description="the top rung's VMAF target")
    vmaf_step: float = Field(default=6.0, gt=0, le=50, description="each rung's target is this far under the one "
                                                                   "above (6: about one just-noticeable difference)")
    min_vmaf_target: float = Field(default=60.0, ge=0, le=100,
                                   description="targets made from top_vmaf and vmaf_step stop above this")
    max_rungs: int = Field(default=5, ge=1, le=12)
    heights: tuple[int, ...] = Field(default=(1080, 720, 540, 360, 240), min_length=1,
                                     description="resolutions the analysis may use, as short sides")
    min_bitrate_k: int = Field(default=64, ge=16, description="no rung below this, kbit/s")
    max_bitrate_k: int = Field(default=8000, ge=16, description="no rung above this, kbit/s")
    codec: Codec | None = Field(default=None, description="the profile's codec (set one or the other, or both alike)")
    vmaf_margin: float = Field(default=1.0, ge=0, le=10,
                               description="each rung aims this far above its target: the title is not only the "
                                           "windows, and a VBR encode is not the CRF probe")
    min_vmaf_gain: float = Field(default=2.0, ge=0, le=50,
                                 description="a rung must add this much VMAF over the rung below it, or one goes")
    crf_start: float = Field(default=23, ge=0, le=63, description="first probe's CRF (NVENC: -cq)")
    crf_min: float = Field(default=12, ge=0, le=63)
    crf_max: float = Field(default=45, ge=1, le=63)
    max_probes: int = Field(default=4, ge=2, le=4, description="probe encodes per resolution")
    analysis_seconds: float = Field(default=20.0, gt=0, le=600,
                                    description="seconds of the title the probes encode: the whole title when "
                                                "shorter, else this much of the quality gate's windows")
    vmaf_subsample: int = Field(default=10, ge=1, le=60,
                                description="the probes are scored on every Nth frame (a probe needs its mean only; "
                                            "scoring is most of the analysis' time)")
    rate_control: RateControl = "capped-crf"
    maxrate_factor: float = Field(default=1.5, ge=1, le=4, description="each rung's peak rate over its average")
    bufsize_factor: float = Field(default=3.0, ge=0.5, le=10, description="each rung's VBV buffer over its average")

    @model_validator(mode="after")
    def _check(self) -> ContentAware:
        fields = type(self).model_fields
        stepped = [name for name in ("top_vmaf", "vmaf_step", "min_vmaf_target")
                   if name in self.model_fields_set and getattr(self, name) != fields[name].default]
        if self.vmaf_targets is not None and stepped:
            raise ValueError(f"give vmaf_targets or top_vmaf/vmaf_step/min_vmaf_target, not both (got "
                             f"vmaf_targets and {', '.join(stepped)})")
        if self.vmaf_targets is not None:
            targets = self.vmaf_targets
            if any(b >= a for a, b in zip(targets, targets[1:], strict=False)):
                raise ValueError(f"vmaf_targets must fall strictly from the top rung down, got {list(targets)}")
            if len(targets) > self.max_rungs:
                raise ValueError(f"{len(targets)} vmaf_targets but max_rungs is {self.max_rungs}")
        elif self.top_vmaf <= self.min_vmaf_target:
            raise ValueError(f"top_vmaf ({self.top_vmaf:g}) must be above min_vmaf_target "
                             f"({self.min_vmaf_target:g})")
        if len(set(self.heights)) != len(self.heights) or any(not 16 <= h <= 4320 for h in self.heights):
            raise ValueError(f"heights must be distinct short sides from 16 to 4320, got {list(self.heights)}")
        if self.min_bitrate_k >= self.max_bitrate_k:
            raise ValueError(f"min_bitrate_k ({self.min_bitrate_k}) must be under max_bitrate_k "
                             f"({self.max_bitrate_k})")
        if not self.crf_min <= self.crf_start <= self.crf_max or self.crf_min >= self.crf_max:
            raise ValueError(f"need crf_min <= crf_start <= crf_max with crf_min < crf_max, got {self.crf_min:g}, "
                             f"{self.crf_start:g}, {self.crf_max:g}")
        return self

    @property
    def targets(self) -> tuple[float, ...]:
        """The VMAF target of each rung, top first."""
        if self.vmaf_targets is not None:
            return self.vmaf_targets
        out: list[float] = []
        value = self.top_vmaf
        while value > self.min_vmaf_target and len(out) < self.max_rungs:
            out.append(round(value, 3))
            value -= self.vmaf_step
        return tuple(out)
