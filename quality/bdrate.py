"""Bjøntegaard delta rate (VCEG-M33): the average bitrate difference of two rate-quality curves at equal quality.

Each curve's log bitrate is fitted as a polynomial of its quality (least squares; cubic from four points, as the
standard method, of degree ``points - 1`` below that), both fits are integrated over the quality range the two
curves share, and the mean difference of log rate becomes a percentage::

    bd_rate = (exp((integral of fit_test - integral of fit_anchor) / (q_high - q_low)) - 1) x 100

Negative: the test curve needs fewer bits than the anchor for the same quality. Pure Python (a 4x4 solve), no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["bd_rate", "polyfit"]


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            raise ValueError("the points do not determine a fit (repeated quality values?)")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][n] / a[i][i] for i in range(n)]


def polyfit(x: Sequence[float], y: Sequence[float], degree: int) -> list[float]:
    """Least-squares polynomial coefficients, lowest power first (normal equations; centre ``x`` first when it
    sits far from 0)."""
    if len(x) != len(y) or len(x) <= degree:
        raise ValueError(f"a degree-{degree} fit needs more than {degree} points, got {len(x)}")
    powers = [[xi ** k for k in range(degree + 1)] for xi in x]
    normal = [[sum(p[i] * p[j] for p in powers) for j in range(degree + 1)] for i in range(degree + 1)]
    rhs = [sum(p[i] * yi for p, yi in zip(powers, y, strict=True)) for i in range(degree + 1)]
    return _solve(normal, rhs)


def _integral(coefficients: Sequence[float], low: float, high: float) -> float:
    return sum(c / (k + 1) * (high ** (k + 1) - low ** (k + 1)) for k, c in enumerate(coefficients))


def bd_rate(anchor_rate: Sequence[float], anchor_quality: Sequence[float], test_rate: Sequence[float],
            test_quality: Sequence[float]) -> float | None:
    """BD-rate of the test curve against the anchor, in percent; ``None`` when the curves share no quality range
    (or a curve has fewer than two points)."""
    if min(len(anchor_rate), len(test_rate)) < 2:
        return None
    if len(anchor_rate) != len(anchor_quality) or len(test_rate) != len(test_quality):
        raise ValueError("each curve needs as many rates as qualities")
    if any(r <= 0 for r in (*anchor_rate, *test_rate)):
        raise ValueError("bitrates must be positive")
    low = max(min(anchor_quality), min(test_quality))
    high = min(max(anchor_quality), max(test_quality))
    if high <= low:
        return None
    fits = []
    for rates, qualities in ((anchor_rate, anchor_quality), (test_rate, test_quality)):
        # centred on the shared range: the normal equations stay well conditioned for qualities near 100
        mid = (low + high) / 2
        fits.append(polyfit([q - mid for q in qualities], [math.log(r) for r in rates], min(3, len(rates) - 1)))
    mid = (low + high) / 2
    anchor = _integral(fits[0], low - mid, high - mid)
    test = _integral(fits[1], low - mid, high - mid)
    return (math.exp((test - anchor) / (high - low)) - 1) * 100
