"""Ladder profiles and the pure rule that turns a profile and a source into the rungs to encode.

Rules (``plan_ladder``):

- A rung's ``height`` is its short side, so a 1080 rung is 1920x1080 for landscape and 1080x1920 for portrait.
- Never upscale: rungs whose short side is above the source's are dropped. When the source falls between rungs,
  its own resolution (rounded down to even) becomes the top rung, with the dropped rung's bitrate scaled by the
  pixel ratio (never below the next rung's); a kept rung within 10% of the source's size is then left out as a
  near-duplicate. A source smaller than every rung gets one rung at its own size. A source above the top rung
  is capped at the top rung.
- The display aspect ratio is preserved; both sides are even (what 4:2:0 encoders require).
- The frame rate is kept, capped at ``max_fps``; variable-rate sources become constant-rate at their average rate.
- Keyframes every ``gop_seconds`` on every rung, scene-cut keyframes off: segments line up across rungs.

Then ``worker.ladder_caps`` caps each rung at what the source carries and removes near-duplicate bitrates.

Built-in profiles (``BUILTIN_PROFILES``, names ``load_profile`` and ``--profile`` accept besides a file): ``default``
(the fixed H.264 ladder) and ``content-aware`` (the same ladder as its fallback, rungs chosen per title by
``worker.analysis`` from a ``content_aware:`` block, ``worker.content_aware``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from worker.content_aware import Codec, ContentAware
from worker.errors import ProfileError

__all__ = ["BUILTIN_PROFILES", "CONTENT_AWARE_PROFILE", "DEFAULT_PROFILE", "DEFAULT_RUNGS", "Codec", "ContentAware",
           "Profile", "Rung", "RungPlan", "load_profile", "output_frame_rate", "plan_ladder", "rung_size"]

CpuPreset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
"""x264/x265 speed presets (libsvtav1 gets the matching numeric preset)."""

NvencPreset = Literal["p1", "p2", "p3", "p4", "p5", "p6", "p7"]
"""NVENC presets, fastest (p1) to best (p7). NVENC refuses the x264 names, so the two are kept apart."""

_NVENC_PRESETS = {f"p{n}" for n in range(1, 8)}


def _split_legacy_preset(data: object) -> object:
    """``preset:`` (one name for both encoders) becomes ``cpu_preset`` or ``nvenc_preset`` by its value."""
    if isinstance(data, dict) and "preset" in data:
        data = dict(data)
        value = data.pop("preset")
        if value is not None:
            data.setdefault("nvenc_preset" if str(value) in _NVENC_PRESETS else "cpu_preset", value)
    return data


class Rung(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    height: int = Field(ge=16, le=4320, description="short side in pixels")
    bitrate_k: int = Field(ge=16, description="target average bitrate, kbit/s")
    maxrate_k: int | None = Field(default=None, ge=16, description="peak rate; default 1.1 x bitrate")
    bufsize_k: int | None = Field(default=None, ge=16, description="VBV buffer; default 2 x bitrate")
    cpu_preset: CpuPreset | None = Field(default=None, description="overrides the profile's CPU preset")
    nvenc_preset: NvencPreset | None = Field(default=None, description="overrides the profile's NVENC preset")
    min_vmaf: float | None = Field(default=None, ge=0, le=100, description="quality threshold for this rung")

    _legacy = model_validator(mode="before")(_split_legacy_preset)


DEFAULT_RUNGS = (
    Rung(height=1080, bitrate_k=5000, min_vmaf=90),
    Rung(height=720, bitrate_k=3000, min_vmaf=85),
    Rung(height=540, bitrate_k=2000),
    Rung(height=360, bitrate_k=1000),
    Rung(height=240, bitrate_k=500),
)


def _content_aware_defaults(data: object) -> object:
    """A profile with a ``content_aware:`` block may leave out ``rungs`` (the default ladder is its fallback) and
    ``codec`` (the block's own ``codec``)."""
    if not isinstance(data, dict) or data.get("content_aware") is None:
        return data
    data = dict(data)
    block = data["content_aware"]
    data.setdefault("rungs", DEFAULT_RUNGS)
    codec = block.get("codec") if isinstance(block, dict) else getattr(block, "codec", None)
    if codec is not None:
        if data.get("codec") not in (None, codec):
            raise ValueError(f"content_aware.codec ({codec}) differs from the profile's codec ({data['codec']}): "
                             "set one, or both alike")
        data["codec"] = codec
    return data


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    codec: Codec = "h264"
    rungs: tuple[Rung, ...] = Field(min_length=1)
    content_aware: ContentAware | None = Field(default=None, description="choose the rungs per title "
                                                                          "(worker.analysis)")
    gop_seconds: float = Field(default=2.0, gt=0, le=10)
    segment_seconds: float = Field(default=4.0, gt=0, le=30)
    max_fps: float = Field(default=60.0, gt=0, le=240)
    cpu_preset: CpuPreset = "veryfast"
    nvenc_preset: NvencPreset = "p4"
    audio_bitrate_k: int = Field(default=128, ge=16, le=512)
    min_vmaf: float | None = Field(default=None, ge=0, le=100, description="threshold for rungs without their own")

    _content_aware = model_validator(mode="before")(_content_aware_defaults)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        ratio = self.segment_seconds / self.gop_seconds
        if abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(f"segment_seconds ({self.segment_seconds}) must be a multiple of gop_seconds "
                             f"({self.gop_seconds}) so that every segment starts on a keyframe")
        heights = [r.height for r in self.rungs]
        if len(set(heights)) != len(heights):
            raise ValueError(f"rung heights must be distinct, got {heights}")
        return self


DEFAULT_PROFILE = Profile(name="default-h264", rungs=DEFAULT_RUNGS)
CONTENT_AWARE_PROFILE = Profile(name="content-aware-h264", rungs=DEFAULT_RUNGS, content_aware=ContentAware())
BUILTIN_PROFILES: dict[str, Profile] = {"default": DEFAULT_PROFILE, "content-aware": CONTENT_AWARE_PROFILE}


def load_profile(path: str | Path) -> Profile:
    """A built-in profile by name (``BUILTIN_PROFILES``), or one read from YAML or JSON; errors name the file and
    the field."""
    if str(path) in BUILTIN_PROFILES and not Path(path).exists():
        return BUILTIN_PROFILES[str(path)]
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile {p}: {exc.strerror} (built-in profiles: "
                           f"{', '.join(BUILTIN_PROFILES)})") from exc
    import yaml

    is_json = p.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"profile {p} is not valid {'JSON' if is_json else 'YAML'}: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'profile'}: {e['msg']}" for e in exc.errors())
        raise ProfileError(f"profile {p} is invalid: {problems}") from exc


@dataclass(frozen=True)
class RungPlan:
    name: str
    width: int
    height: int
    bitrate_k: int
    maxrate_k: int
    bufsize_k: int
    cpu_preset: str
    nvenc_preset: str
    min_vmaf: float | None
    crf: float | None = None
    """Capped constant quality: encode at this CRF (NVENC ``-cq``), the peak held to ``maxrate_k`` by a
    ``bufsize_k`` buffer, instead of VBR at ``bitrate_k`` (the content-aware rungs)."""

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _even_down(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


STANDARD_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                  Fraction(50), Fraction(60000, 1001), Fraction(60), Fraction(120))


def standard_rate(rate: Fraction) -> Fraction:
    """The broadcast rate nearest to ``rate`` (for variable-rate sources, which need one constant rate)."""
    return min(STANDARD_RATES, key=lambda r: abs(float(r) - float(rate)))


def output_frame_rate(source_rate: Fraction, max_fps: float, *, variable: bool = False,
                      nominal: Fraction | None = None) -> Fraction:
    """The source's rate, or ``max_fps`` when the source is faster (or has no usable rate).

    A variable-rate source gets the standard rate nearest its nominal rate (the container's base rate, e.g. 30
    for a phone video that drops to 15 in the dark), so no frames of its fast parts are lost.
    """
    if variable:
        source_rate = standard_rate(nominal if nominal and float(nominal) <= 240 else source_rate)
    if not source_rate or float(source_rate) <= 0:
        return Fraction(max_fps).limit_denominator(1001)
    if float(source_rate) > max_fps:
        return Fraction(max_fps).limit_denominator(1001)
    return source_rate


def rung_size(short: int, width: int, height: int) -> tuple[int, int]:
    """Dimensions with ``short`` as the short side and the source's aspect ratio, both even."""
    if width >= height:
        return _even(short * width / height), short
    return short, _even(short * height / width)


def plan_ladder(width: int, height: int, profile: Profile) -> list[RungPlan]:
    """The rungs to encode for a source of ``width`` x ``height`` (display size), largest first."""
    source_short = min(width, height)
    rungs = sorted(profile.rungs, key=lambda r: r.height, reverse=True)
    kept = [r for r in rungs if r.height <= source_short]
    dropped = [r for r in rungs if r.height > source_short]
    plans: list[RungPlan] = []

    def add(name: str, w: int, h: int, rung: Rung, bitrate_k: int) -> None:
        if any((p.width, p.height) == (w, h) for p in plans):
            return
        plans.append(RungPlan(
            name=name, width=w, height=h, bitrate_k=bitrate_k,
            maxrate_k=rung.maxrate_k or int(bitrate_k * 1.1), bufsize_k=rung.bufsize_k or bitrate_k * 2,
            cpu_preset=rung.cpu_preset or profile.cpu_preset, nvenc_preset=rung.nvenc_preset or profile.nvenc_preset,
            min_vmaf=rung.min_vmaf if rung.min_vmaf is not None else profile.min_vmaf,
        ))

    top_short = kept[0].height if kept else 0
    if dropped and source_short > top_short:
        # the source sits between rungs (or under all of them): its own size becomes the top rung; a kept rung
        # within 10% of it would be a near-duplicate, so the source rung replaces it
        floor = kept[0].bitrate_k if kept else 16
        if kept and top_short >= 0.9 * source_short:
            kept = kept[1:]
        w, h = _even_down(width), _even_down(height)
        basis = dropped[-1]
        basis_w, basis_h = rung_size(basis.height, width, height)
        scaled = int(basis.bitrate_k * (w * h) / (basis_w * basis_h))
        add(f"{min(w, h)}p", w, h, basis, max(scaled, floor, 16))
    for rung in kept:
        w, h = rung_size(rung.height, width, height)
        add(f"{rung.height}p", w, h, rung, rung.bitrate_k)
    return plans
