"""Rules that keep every ladder (fixed or content-aware) honest to its source. Pure functions.

**Cap.** A rung never gets more bits than the source itself carries at the rung's size::

    cap_k = source video kbit/s x (rung pixels / source pixels) ** CAP_EXPONENT x CAP_MARGIN

``CAP_EXPONENT = 0.75``: at equal quality, bits grow more slowly than pixels (a larger picture has more spatial
redundancy per pixel). The default ladder's own rungs imply exponents of 0.73 (1080p 5000k over 360p 1000k: 9x the
pixels for 5x the bits) to 0.79 (720p 3000k over 360p 1000k: 4x the pixels for 3x the bits), and Apple's HLS
authoring table the same (1080p 6000k over 540p 2000k: 0.79); 0.75 sits between them. Below 1, a smaller rung's cap
is a larger share of the source's rate than its share of the pixels, so the cap errs on the generous side for the
low rungs. ``CAP_MARGIN = 1.0``: at the source's own size the cap is exactly the source's rate. A re-encode given
more bits than its source only copies the source's artefacts more exactly: the score against the source rises, the
picture does not get better.

**Rate control of a capped rung.** A capped rung is encoded at its codec's default constant quality
(``CAPPED_CRF``: x264 23, x265 28, SVT-AV1 35; NVENC ``-cq`` the same number) with its peak held to the cap
(``maxrate`` = cap, ``bufsize`` = 2 x cap), not at an average rate: one-pass ABR at a source's low rate starves the
keyframes of static content (generated slides at 640x360, 110 kb/s source: ABR at 110k gave 61 kb/s and VMAF 53.7,
capped CRF 23 gave 82 kb/s and VMAF 91.2). Where the content needs more, the peak cap binds and it spends the cap.

**Distinct levels.** Two rungs whose bitrates are within ``MIN_STEP`` (15 %) of each other are one bandwidth level
to a player (its throughput estimate moves by more than that between segments), so one of them goes:

- a source-sized rung (a source between two profile heights, ``plan_ladder``) that lands within 15 % of the rung
  below is first re-priced by interpolating between its two neighbouring profile rungs, on log bitrate against log
  pixels (``interpolated``); only if that still leaves it too close does the next rule apply;
- of two rungs still within 15 %, the smaller picture is dropped (``dropped``): the ladder keeps the larger picture
  at nearly the same rate, and its floor rises by at most 15 %.

Every change is returned as an ``Adjustment`` (the manifest's ``adjustments``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from worker.ladder import Profile, RungPlan, rung_size

__all__ = ["CAPPED_CRF", "CAP_EXPONENT", "CAP_MARGIN", "MIN_STEP", "AdjustAction", "Adjustment", "adjust_ladder",
           "source_cap_k"]

CAP_EXPONENT = 0.75
CAP_MARGIN = 1.0
MIN_STEP = 1.15
"""Adjacent rungs' bitrates differ by at least this ratio."""
CAPPED_CRF: dict[str, float] = {"h264": 23, "hevc": 28, "av1": 35}
"""The constant quality of a capped rung, per codec: each CPU encoder's own default."""

AdjustAction = Literal["capped", "dropped", "interpolated"]
"""What was done to a rung of the ladder (``Adjustment.action``)."""


@dataclass(frozen=True)
class Adjustment:
    """One change to a rung: bitrates in bit/s (``to`` is ``None`` for a dropped rung)."""

    rung: str
    action: AdjustAction
    from_bitrate: int | None
    to_bitrate: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"rung": self.rung, "action": self.action, "from": self.from_bitrate, "to": self.to_bitrate,
                "reason": self.reason}


def source_cap_k(video_bitrate: int | None, source_pixels: int, pixels: int) -> int | None:
    """The most kbit/s a rung of ``pixels`` may get from a source of ``source_pixels`` at ``video_bitrate`` bit/s
    (``None``: the source's rate is unknown, no cap). Never under 16 kbit/s, the smallest rung rate."""
    if not video_bitrate or source_pixels <= 0:
        return None
    ratio = min(1.0, pixels / source_pixels)
    return max(16, int(video_bitrate / 1000 * ratio ** CAP_EXPONENT * CAP_MARGIN))


def _scaled(rung: RungPlan, bitrate_k: int) -> RungPlan:
    """The rung at a new average rate, its peak and buffer scaled in proportion."""
    factor = bitrate_k / rung.bitrate_k
    return replace(rung, bitrate_k=bitrate_k, maxrate_k=max(16, round(rung.maxrate_k * factor)),
                   bufsize_k=max(16, round(rung.bufsize_k * factor)))


def _capped(rung: RungPlan, cap_k: int, codec: str) -> RungPlan:
    """The rung under the cap: capped constant quality, the peak at the cap."""
    return replace(rung, bitrate_k=cap_k, maxrate_k=cap_k, bufsize_k=2 * cap_k, crf=CAPPED_CRF[codec])


def _interpolated_k(top: RungPlan, below: RungPlan, width: int, height: int, profile: Profile) -> int | None:
    """The bitrate of a source-sized rung between the profile rung above it and the rung below, or ``None`` when
    it is not a source-sized rung or has no profile rung above it."""
    heights = {r.height for r in profile.rungs}
    short = min(top.width, top.height)
    above = sorted((r for r in profile.rungs if r.height > short), key=lambda r: r.height)
    if short in heights or not above:
        return None
    up = above[0]
    up_w, up_h = rung_size(up.height, width, height)
    up_px, low_px = up_w * up_h, below.pixels
    if up_px <= low_px or top.pixels <= low_px:
        return None
    t = math.log(top.pixels / low_px) / math.log(up_px / low_px)
    return int(below.bitrate_k * (up.bitrate_k / below.bitrate_k) ** t)


def adjust_ladder(rungs: Sequence[RungPlan], width: int, height: int, video_bitrate: int | None,
                  profile: Profile) -> tuple[list[RungPlan], list[Adjustment]]:
    """Interpolate, cap and de-duplicate ``rungs`` (largest first) for a ``width`` x ``height`` source whose video
    runs at ``video_bitrate`` bit/s; returns the rungs kept and what was done."""
    plans = list(rungs)
    notes: list[Adjustment] = []
    if len(plans) >= 2 and plans[0].bitrate_k < plans[1].bitrate_k * MIN_STEP:
        value = _interpolated_k(plans[0], plans[1], width, height, profile)
        if value is not None and value >= plans[1].bitrate_k * MIN_STEP:
            notes.append(Adjustment(plans[0].name, "interpolated", plans[0].bitrate_k * 1000, value * 1000,
                                    f"within {MIN_STEP - 1:.0%} of {plans[1].name} ({plans[1].bitrate_k}k): "
                                    "re-priced between its neighbouring profile rungs (log rate on log pixels)"))
            plans[0] = _scaled(plans[0], value)
    source_px = width * height
    for i, rung in enumerate(plans):
        cap = source_cap_k(video_bitrate, source_px, rung.pixels)
        if cap is not None and rung.bitrate_k > cap:
            assert video_bitrate is not None
            notes.append(Adjustment(rung.name, "capped", rung.bitrate_k * 1000, cap * 1000,
                                    f"the source's video is {video_bitrate / 1000:.0f}k at {width}x{height}: at "
                                    f"most {cap}k at {rung.width}x{rung.height} (scaled by the pixel ratio to the "
                                    f"power {CAP_EXPONENT:g}); encoded at CRF {CAPPED_CRF[profile.codec]:g} under a "
                                    f"{cap}k peak"))
            plans[i] = _capped(rung, cap, profile.codec)
    kept: list[RungPlan] = []
    for rung in plans:
        if kept and kept[-1].bitrate_k < rung.bitrate_k * MIN_STEP:
            above = kept[-1]
            notes.append(Adjustment(rung.name, "dropped", rung.bitrate_k * 1000, None,
                                    f"{rung.bitrate_k}k is within {MIN_STEP - 1:.0%} of {above.name} "
                                    f"({above.bitrate_k}k): one bandwidth level to a player, the larger picture "
                                    "is kept"))
            continue
        kept.append(rung)
    return kept, notes
