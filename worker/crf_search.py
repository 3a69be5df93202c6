"""The interpolated CRF search of one resolution: which CRF (NVENC: ``-cq``) to probe next. Pure; no ffmpeg here.

VMAF falls as CRF rises, nearly linearly over the range that matters (about 1 to 2.5 points per CRF step), so:

1. the first probe is at ``start``;
2. while every probe is on one side of the target, the next is extrapolated past the target by ``overshoot`` VMAF,
   along the secant of the two nearest probes (or ``prior_slope`` with one probe; slopes clamped to 0.3..6 points
   per step, jumps to ``max_jump`` CRF), so that the next probe lands on the other side and brackets it;
3. once bracketed, the next probe is interpolated linearly between the two bracketing probes (regula falsi);
4. the search ends when a probe is within ``tolerance`` of the target, when the bracket is one CRF ``step`` wide,
   when the bound (``low`` or ``high``) on the needed side has been probed (the target is out of reach there), or
   after ``max_probes`` probes.

Every probe is a (bitrate, VMAF) point for the hull, so the probes that bracket the target are not wasted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CrfSearch"]


@dataclass
class CrfSearch:
    target: float
    start: float = 23.0
    low: float = 12.0
    high: float = 45.0
    max_probes: int = 4
    tolerance: float = 0.5
    prior_slope: float = 1.5
    """VMAF points lost per CRF step, assumed until two probes measure it."""
    overshoot: float = 1.0
    max_jump: float = 8.0
    """The furthest one extrapolated probe moves (8 CRF steps: about a third of the bitrate, or 2.5 times it)."""
    step: float = 1.0
    """The CRF resolution: probes are on multiples of it (NVENC's ``-cq`` takes whole numbers)."""
    tried: list[tuple[float, float]] = field(default_factory=list)
    """(crf, vmaf) of every probe, in the order run."""

    def add(self, crf: float, vmaf: float) -> None:
        self.tried.append((crf, vmaf))

    def bracket(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The two probes closest around the target: (highest CRF scoring at or above it, lowest CRF below it)."""
        above = [p for p in self.tried if p[1] >= self.target]
        below = [p for p in self.tried if p[1] < self.target]
        if not above or not below:
            return None
        a = max(above, key=lambda p: p[0])
        b = min(below, key=lambda p: p[0])
        return (a, b) if a[0] < b[0] else None

    def _round(self, crf: float) -> float:
        return round(round(crf / self.step) * self.step, 6)

    def _slope(self) -> float:
        points = sorted(self.tried)
        if len(points) >= 2:
            # the two probes nearest the target's side: the last two by CRF in the direction of travel
            (c1, v1), (c2, v2) = (points[-2], points[-1]) if points[-1][1] >= self.target else (points[0], points[1])
            if c2 != c1:
                return min(6.0, max(0.3, (v1 - v2) / (c2 - c1)))
        return self.prior_slope

    def next_crf(self) -> float | None:
        """The CRF to probe next, or ``None`` when the search is over."""
        if not self.tried:
            return self._round(self.start)
        if len(self.tried) >= self.max_probes:
            return None
        if any(abs(v - self.target) <= self.tolerance for _, v in self.tried):
            return None
        done = {c for c, _ in self.tried}
        pair = self.bracket()
        if pair is not None:
            (ca, va), (cb, vb) = pair
            if cb - ca <= self.step:
                return None
            guess = ca + (va - self.target) * (cb - ca) / (va - vb) if va != vb else (ca + cb) / 2
            crf = min(cb - self.step, max(ca + self.step, self._round(guess)))
            return None if crf in done else crf
        slope = self._slope()
        if all(v >= self.target for _, v in self.tried):  # still too good: a higher CRF, fewer bits
            c0, v0 = max(self.tried, key=lambda p: p[0])
            if c0 >= self.high:
                return None
            jump = min(self.max_jump, (v0 - self.target + self.overshoot) / slope)
            crf = min(self.high, max(c0 + self.step, self._round(c0 + jump)))
        else:  # still under the target: a lower CRF
            c0, v0 = min(self.tried, key=lambda p: p[0])
            if c0 <= self.low:
                return None
            jump = min(self.max_jump, (self.target + self.overshoot - v0) / slope)
            crf = max(self.low, min(c0 - self.step, self._round(c0 - jump)))
        return None if crf in done else crf
