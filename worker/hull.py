"""Rate-quality points, their convex hull across resolutions, and the rungs chosen on it. Pure; no ffmpeg here.

**Hull.** The upper-left convex hull of VMAF against log bitrate over every probe of every resolution: first the
Pareto front (no other point has fewer bits and a higher score), then the points under a chord of their neighbours
removed (monotone chain), so the hull is increasing and concave, as Netflix's per-title encoding draws it.

**Choice.** For each target, top first, each resolution's own probes, as a curve (its Pareto front, bitrate
interpolated linearly in log rate between two probes), give the bitrate at which that resolution reaches
``target + margin``, or, where its probes within its cap (``max_bitrate`` and what the source carries at that size,
``worker.ladder_caps``) top out between the target and that, its highest score. The choice is the resolution that
gets there with the fewest bits. That is the hull where the hull can be encoded: a hull chord between two
resolutions has no encoder setting under it, a point on one resolution's curve has. A resolution whose cheapest
probe is already above the aim offers that probe (no extrapolation below the probes). Never below ``min_bitrate``.
When no resolution reaches the target within its cap, the rung takes the highest score any resolution gives within
its cap (a point within a resolution's probes before one extrapolated under them) and says why (``limited``:
``source-bitrate`` or ``max-bitrate`` when that cap binds; ``quality`` when the resolution's probes end under the
cap, that is when even its lowest CRF probed scored under the target).

**Drop rule.** Top down, a rung goes when (1) its bitrate is within ``MIN_STEP`` (15 %) of the rung above, or above
it (one bandwidth level to a player), or (2) the rung above adds less than ``min_gain`` VMAF over it (the two are one
quality level at two prices): of such a pair the lower rung goes, unless the upper one could not reach its own
target (``limited``), in which case the upper goes, because it spends its extra bits for less than ``min_gain``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.ladder_caps import MIN_STEP

__all__ = ["GAIN_PER_DOUBLING", "Choice", "Limit", "RatePoint", "choose_rungs", "curve", "drop_rungs", "rate_at",
           "upper_hull", "vmaf_at"]

GAIN_PER_DOUBLING = 9.0
"""VMAF gained per doubling of bitrate near the targets, the prior where one probe cannot say (x264: about 1.5
points per CRF step, 6 steps per doubling)."""

Limit = str
"""Why a rung scores under its target: ``source-bitrate``, ``max-bitrate`` or ``quality``."""


@dataclass(frozen=True)
class RatePoint:
    """One probe encode: a resolution, its CRF, and the bitrate (bit/s) and VMAF it gave."""

    width: int
    height: int
    crf: float
    bitrate: int
    vmaf: float

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True)
class Choice:
    """A rung chosen for a target: where on which resolution's curve, and what it should score."""

    target: float
    width: int
    height: int
    bitrate: int
    crf: float
    predicted: float
    limited: Limit | None = None


def _pareto(points: Sequence[RatePoint]) -> list[RatePoint]:
    front: list[RatePoint] = []
    for p in sorted(points, key=lambda q: (q.bitrate, -q.vmaf)):
        if p.bitrate > 0 and (not front or p.vmaf > front[-1].vmaf):
            front.append(p)
    return front


def upper_hull(points: Sequence[RatePoint]) -> list[RatePoint]:
    """The upper-left convex hull of VMAF against log bitrate, cheapest first."""
    hull: list[RatePoint] = []
    for p in _pareto(points):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            xa, xb, xp = math.log(a.bitrate), math.log(b.bitrate), math.log(p.bitrate)
            # b is dropped when it lies on or under the chord from a to p
            if (xb - xa) * (p.vmaf - a.vmaf) - (b.vmaf - a.vmaf) * (xp - xa) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def curve(points: Sequence[RatePoint], size: tuple[int, int]) -> list[RatePoint]:
    """One resolution's probes as a rising curve (its Pareto front), cheapest first."""
    return _pareto([p for p in points if p.size == size])


def rate_at(line: Sequence[RatePoint], vmaf: float) -> tuple[float, float] | None:
    """(bitrate, crf) where ``line`` reaches ``vmaf``, interpolated in log rate; ``None`` outside its range."""
    for a, b in zip(line, line[1:], strict=False):
        if a.vmaf <= vmaf <= b.vmaf:
            t = (vmaf - a.vmaf) / (b.vmaf - a.vmaf) if b.vmaf != a.vmaf else 0.0
            rate = math.exp(math.log(a.bitrate) + t * (math.log(b.bitrate) - math.log(a.bitrate)))
            return rate, a.crf + t * (b.crf - a.crf)
    if line and abs(line[-1].vmaf - vmaf) < 1e-9:
        return float(line[-1].bitrate), line[-1].crf
    return None


def vmaf_at(line: Sequence[RatePoint], bitrate: float) -> tuple[float, float]:
    """(vmaf, crf) of ``line`` at ``bitrate``: interpolated in log rate; past the last probe, that probe's score;
    under the cheapest probe, extrapolated along the first segment, or for a one-probe line at
    ``GAIN_PER_DOUBLING`` points (and 6 CRF steps) per halving."""
    if bitrate >= line[-1].bitrate:
        return line[-1].vmaf, line[-1].crf
    if len(line) == 1:
        halvings = math.log2(line[0].bitrate / bitrate)
        return max(0.0, line[0].vmaf - GAIN_PER_DOUBLING * halvings), line[0].crf + 6 * halvings
    pairs = list(zip(line, line[1:], strict=False))
    a, b = next(((a, b) for a, b in pairs if bitrate <= b.bitrate), pairs[-1])
    t = (math.log(bitrate) - math.log(a.bitrate)) / (math.log(b.bitrate) - math.log(a.bitrate))
    return max(0.0, a.vmaf + t * (b.vmaf - a.vmaf)), a.crf + t * (b.crf - a.crf)


def _reach(lines: dict[tuple[int, int], list[RatePoint]], target: float, margin: float,
           cap: Callable[[int, int], tuple[int, str]], min_bitrate: int) \
        -> tuple[float, tuple[int, int], float, float] | None:
    """(bitrate, size, crf, predicted) of the cheapest resolution that reaches ``target`` within its cap, aiming
    ``margin`` above it as far as the resolution's probes reach."""
    best: tuple[float, tuple[int, int], float, float] | None = None
    for size, line in lines.items():
        limit = cap(*size)[0]
        most, _ = vmaf_at(line, min(float(limit), float(line[-1].bitrate)))
        aim = min(100.0, target + margin, most)
        if aim < target:
            continue
        found = rate_at(line, aim)
        if aim <= line[0].vmaf or found is None:  # the cheapest probe is already there: no extrapolation below it
            rate, crf, predicted = float(line[0].bitrate), line[0].crf, line[0].vmaf
        else:
            (rate, crf), predicted = found, aim
        if rate > limit:
            continue
        if rate < min_bitrate:
            rate = float(min_bitrate)
            predicted, crf = vmaf_at(line, rate)
            predicted = max(predicted, aim)
        if best is None or (rate, -size[0] * size[1]) < (best[0], -best[1][0] * best[1][1]):
            best = (rate, size, crf, predicted)
    return best


def choose_rungs(points: Sequence[RatePoint], targets: Sequence[float], *, margin: float, min_bitrate: int,
                 cap: Callable[[int, int], tuple[int, str]]) -> list[Choice]:
    """One choice per target (top first); ``cap(width, height)`` is (the most bit/s, the limit's name)."""
    lines = {p.size: curve(points, p.size) for p in points}
    lines = {size: line for size, line in lines.items() if line}
    if not lines:
        raise ValueError("no probe points to choose from")
    choices = []
    for target in targets:
        found = _reach(lines, target, margin, cap, min_bitrate)
        if found is not None:
            rate, size, crf, predicted = found
            choices.append(Choice(target, size[0], size[1], round(rate), round(crf, 2), round(predicted, 3)))
            continue
        # out of reach: the highest score within each resolution's cap
        options = []
        for size, line in lines.items():
            limit, why = cap(*size)
            rate = max(float(min_bitrate), min(float(limit), float(line[-1].bitrate)))
            score, crf = vmaf_at(line, rate)
            reason = why if rate >= limit else "quality"  # the cap binds, or the probes never reached it
            options.append((rate >= line[0].bitrate, score, -rate, size, crf, reason))
        _, score, neg_rate, size, crf, reason = max(options)  # within a candidate's probes before extrapolated
        choices.append(Choice(target, size[0], size[1], round(-neg_rate), round(crf, 2), round(score, 3), reason))
    return choices


def drop_rungs(choices: Sequence[Choice], *, min_gain: float) -> tuple[list[Choice], list[tuple[Choice, str]]]:
    """The drop rule (module docstring): the rungs kept, and each one dropped with the reason."""
    kept: list[Choice] = []
    dropped: list[tuple[Choice, str]] = []
    for choice in choices:
        if not kept:
            kept.append(choice)
            continue
        up = kept[-1]
        if up.bitrate < choice.bitrate * MIN_STEP:
            dropped.append((choice, f"{choice.bitrate / 1000:.0f}k is within {MIN_STEP - 1:.0%} of the rung above "
                                    f"({up.bitrate / 1000:.0f}k) or over it"))
        elif up.predicted - choice.predicted < min_gain:
            gain = up.predicted - choice.predicted
            if up.limited is not None:
                kept[-1] = choice
                dropped.append((up, f"adds {gain:.1f} VMAF (under {min_gain:g}) over the rung below for "
                                    f"{up.bitrate / choice.bitrate:.2f}x its bitrate, and cannot reach its target "
                                    f"({up.limited})"))
            else:
                dropped.append((choice, f"the rung above adds only {gain:.1f} VMAF (under {min_gain:g}) over it"))
        else:
            kept.append(choice)
    return kept, dropped
