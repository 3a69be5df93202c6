from dataclasses import replace
from fractions import Fraction

import pytest

from quality.alignment import plan_alignment
from quality.errors import AlignmentError
from quality.options import MeasureOptions
from quality.probe import VideoInfo

REF = VideoInfo(path="ref.mp4", container="mov,mp4", codec="h264", width=1920, height=1080, pix_fmt="yuv420p",
                frame_rate=Fraction(30), time_base=Fraction(1, 15360), declared_frames=300, frame_count=300,
                duration=10.0, rotation=0)


def test_identical_geometry_needs_nothing() -> None:
    plan = plan_alignment(REF, replace(REF, path="dist.mp4"), MeasureOptions())
    assert (plan.status, plan.frames, plan.scale_to, plan.pix_fmt, plan.offset) == ("aligned", 300, None, None, 0)
    assert plan.warnings == ()


def test_lower_resolution_and_other_pix_fmt_are_brought_to_the_reference() -> None:
    dist = replace(REF, width=640, height=360, pix_fmt="yuv420p10le")
    plan = plan_alignment(dist, REF, MeasureOptions())
    assert plan.scale_to == (1920, 1080)
    assert plan.pix_fmt == "yuv420p"


def test_frame_count_mismatch_is_refused_with_both_counts() -> None:
    with pytest.raises(AlignmentError) as err:
        plan_alignment(replace(REF, frame_count=290), REF, MeasureOptions())
    assert "distorted has 290 frames, reference 300" in str(err.value)
    assert err.value.differences == {"frame_count": (290, 300)}


def test_frame_count_mismatch_truncates_when_asked_and_says_so() -> None:
    plan = plan_alignment(replace(REF, frame_count=290), REF, MeasureOptions(on_frame_count_mismatch="truncate"))
    assert plan.status == "truncated" and plan.frames == 290
    assert "the last 10 frames of the reference were not compared" in plan.warnings[0]


def test_offset_trims_the_late_side() -> None:
    plan = plan_alignment(replace(REF, frame_count=305), REF, MeasureOptions(offset=5))
    assert (plan.dist_start, plan.ref_start, plan.frames, plan.status) == (5, 0, 300, "aligned")
    assert plan.offset_method == "explicit"
    plan = plan_alignment(REF, replace(REF, frame_count=304), MeasureOptions(offset=-4))
    assert (plan.dist_start, plan.ref_start, plan.frames) == (0, 4, 300)


def test_offset_beyond_the_video_is_refused() -> None:
    with pytest.raises(AlignmentError, match="leaves no frames"):
        plan_alignment(REF, REF, MeasureOptions(offset=400))


def test_frame_rate_mismatch_refused_or_resampled() -> None:
    dist = replace(REF, frame_rate=Fraction(25), frame_count=250)
    with pytest.raises(AlignmentError, match="frame rates differ: distorted 25.000 fps, reference 30.000 fps"):
        plan_alignment(dist, REF, MeasureOptions())
    plan = plan_alignment(dist, REF, MeasureOptions(on_frame_rate_mismatch="resample"))
    assert plan.status == "resampled" and plan.resample_to == Fraction(30) and plan.frames == 300
    assert "resampled from 25.000 to 30.000 fps" in plan.warnings[0]


def test_ntsc_rates_within_tolerance_are_equal() -> None:
    dist = replace(REF, frame_rate=Fraction(30000, 1001))
    assert plan_alignment(dist, REF, MeasureOptions(frame_rate_tolerance=0.002)).status == "aligned"
    with pytest.raises(AlignmentError):
        plan_alignment(dist, REF, MeasureOptions(frame_rate_tolerance=0.0001))
