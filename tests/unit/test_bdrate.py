"""Bjøntegaard delta rate on pairs whose answer is known in closed form, and against numpy's own cubic fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quality.bdrate import bd_rate, polyfit

ANCHOR_RATE = [9487.76, 4593.60, 2486.44, 1358.24]
ANCHOR_PSNR = [40.037, 38.615, 36.845, 34.851]
TEST_RATE = [9787.80, 4469.00, 2451.52, 1356.24]
TEST_PSNR = [40.121, 38.651, 36.970, 34.987]


def test_a_curve_shifted_by_a_constant_factor_has_that_bd_rate() -> None:
    quality = [95.0, 90.0, 84.0, 76.0]
    anchor = [4000.0, 2500.0, 1500.0, 800.0]
    assert bd_rate(anchor, quality, [r * 0.8 for r in anchor], quality) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(anchor, quality, [r * 1.5 for r in anchor], quality) == pytest.approx(50.0, abs=1e-9)
    assert bd_rate(anchor, quality, anchor, quality) == pytest.approx(0.0, abs=1e-12)


def test_a_difference_linear_in_quality_averages_to_its_value_at_the_middle() -> None:
    # log R_test(q) = log R_anchor(q) + c + d q over the shared range [80, 94]: the mean difference is c + d x 87
    anchor_q = [70.0, 80.0, 90.0, 94.0, 97.0]
    test_q = [80.0, 86.0, 91.0, 94.0]
    cubic = [8.0, -0.05, 0.002, -0.00001]  # log R_anchor as a cubic of q

    def log_anchor(q: float) -> float:
        return sum(c * q ** k for k, c in enumerate(cubic))

    c, d = 0.3, -0.01
    anchor_rate = [math.exp(log_anchor(q)) for q in anchor_q]
    test_rate = [math.exp(log_anchor(q) + c + d * q) for q in test_q]
    assert bd_rate(anchor_rate, anchor_q, test_rate, test_q) == pytest.approx((math.exp(c + d * 87) - 1) * 100,
                                                                              abs=1e-6)


def test_the_usual_four_point_pair_matches_numpys_cubic_fit() -> None:
    low, high = max(min(ANCHOR_PSNR), min(TEST_PSNR)), min(max(ANCHOR_PSNR), max(TEST_PSNR))
    integrals = []
    for rates, quality in ((ANCHOR_RATE, ANCHOR_PSNR), (TEST_RATE, TEST_PSNR)):
        fit = np.polyint(np.polyfit(quality, np.log(rates), 3))
        integrals.append(np.polyval(fit, high) - np.polyval(fit, low))
    expected = (math.exp((integrals[1] - integrals[0]) / (high - low)) - 1) * 100
    assert bd_rate(ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE, TEST_PSNR) == pytest.approx(expected, abs=1e-6)
    assert -5 < expected < 0  # the test encoder is a little better on this pair


def test_curves_without_a_shared_quality_range_have_no_bd_rate() -> None:
    assert bd_rate([1000, 2000], [60, 70], [1000, 2000], [80, 90]) is None
    assert bd_rate([1000], [80], [1000, 2000], [80, 90]) is None
    with pytest.raises(ValueError, match="positive"):
        bd_rate([0, 2000], [60, 70], [1000, 2000], [60, 70])


def test_two_points_fit_a_line() -> None:
    assert polyfit([0.0, 1.0], [1.0, 3.0], 1) == pytest.approx([1.0, 2.0])
    assert bd_rate([1000, 4000], [80, 90], [500, 2000], [80, 90]) == pytest.approx(-50.0)
