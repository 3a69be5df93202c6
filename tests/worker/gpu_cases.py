"""The GPU-path matrix: scenario (which GPU, if any) x codec x source variant, shared by the golden argv tests and
the tests that hand the same commands to the real ffmpeg.

Scenarios: ``gpu`` (an L4: NVDEC and NVENC), ``gpu-hybrid`` (an L4 and a source NVDEC cannot decode: ProRes 4:2:2
10-bit), ``gpu-decode`` (an H100: NVDEC, no NVENC), ``cpu`` (no GPU). The path a case ends on is the planner's
answer, not the scenario's name: an HDR or a 10-bit H.264 source on the L4 goes hybrid, as it must.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from worker.capabilities import EncoderChoice, choose_encoder
from worker.ladder import Codec, Profile, Rung
from worker.media import SourceInfo
from worker.planning import assumed_scan

SCENARIOS: dict[str, str | None] = {"gpu": "L4", "gpu-hybrid": "L4", "gpu-decode": "H100", "cpu": None}
CODECS: tuple[Codec, ...] = ("h264", "hevc", "av1")
VARIANTS = ("rot0", "rot90", "rot180", "rot270", "interlaced", "10bit", "hdr")

BASE = SourceInfo(
    path="in.mp4", size_bytes=1_000_000, container="mov,mp4", codec="h264", duration=10.0, coded_width=1920,
    coded_height=1080, width=1920, height=1080, rotation=0, frame_rate=Fraction(30), nominal_frame_rate=Fraction(30),
    variable_frame_rate=False, frame_count=300, pix_fmt="yuv420p", bit_depth=8, color_transfer="bt709", hdr=False,
    interlaced=False, field_order="progressive", audio=(),
)


@dataclass(frozen=True)
class Case:
    scenario: str
    codec: Codec
    variant: str

    @property
    def key(self) -> str:
        return f"{self.scenario}-{self.codec}-{self.variant}"


CASES = [Case(s, c, v) for s in SCENARIOS for c in CODECS for v in VARIANTS]


def variant_source(variant: str, scenario: str, base: SourceInfo = BASE) -> SourceInfo:
    """The synthetic source of a variant (what ``probe_source`` reports for the files ``sources`` makes)."""
    s = base
    if variant.startswith("rot") and variant != "rot0":
        s = replace(s, rotation=int(variant[3:]))
        if s.rotation % 180:
            s = replace(s, width=s.height, height=s.width)
    elif variant == "interlaced":
        s = replace(s, interlaced=True, field_order="tt")
    elif variant == "10bit":
        s = replace(s, pix_fmt="yuv420p10le", bit_depth=10)
    elif variant == "hdr":
        s = replace(s, pix_fmt="yuv420p10le", bit_depth=10, color_transfer="smpte2084", hdr=True, codec="hevc")
    if scenario == "gpu-hybrid":
        s = replace(s, codec="prores", pix_fmt="yuv422p10le", bit_depth=10, container="mov,mp4")
    return s


def choice_for(case: Case, **kwargs: Any) -> EncoderChoice:
    model = SCENARIOS[case.scenario]
    if model is None:
        return choose_encoder("cpu", case.codec, None, sessions_needed=2, build=None)
    return choose_encoder("auto", case.codec, assumed_scan(model), sessions_needed=2, build=None, **kwargs)


def profile_for(codec: Codec, *, small: bool = False) -> Profile:
    if small:
        return Profile(name=f"small-{codec}", codec=codec, rungs=(Rung(height=240, bitrate_k=400),
                                                                  Rung(height=120, bitrate_k=150)),
                       gop_seconds=0.5, segment_seconds=1, cpu_preset="ultrafast", nvenc_preset="p1")
    return Profile(name=f"ladder-{codec}", codec=codec, rungs=(Rung(height=1080, bitrate_k=5000),
                                                               Rung(height=720, bitrate_k=3000, nvenc_preset="p5"),
                                                               Rung(height=360, bitrate_k=900, cpu_preset="faster")))
