"""The ladder scorer's pure parts: scoring size, window plans, the one-pass command."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from quality.ladder import (
    RenditionParts,
    SamplingPolicy,
    ScoringPlan,
    Window,
    build_pass_cmd,
    concat_url,
    plan_windows,
    scoring_size,
)
from quality.options import MeasureOptions


@pytest.mark.parametrize(("size", "model", "expected"), [
    ((3252, 1766), "vmaf_v0.6.1", (1920, 1042)),  # the screen recording: fit 1080p, keep its aspect
    ((3840, 2160), "vmaf_v0.6.1", (1920, 1080)),
    ((3840, 2160), "vmaf_4k_v0.6.1", (3840, 2160)),
    ((1080, 1920), "vmaf_v0.6.1", (606, 1080)),  # portrait: the height is the limit
    ((1280, 720), "vmaf_v0.6.1", (1280, 720)),  # smaller than the display: never enlarged
    ((16, 16), "vmaf_v0.6.1", (16, 16)),
])
def test_scoring_size_fits_the_models_display(size: tuple[int, int], model: str, expected: tuple[int, int]) -> None:
    assert scoring_size(*size, model) == expected


def segments(n: int) -> list[str]:
    return [f"seg_0_{i:05d}.m4s" for i in range(1, n + 1)]


def test_short_titles_are_scored_in_full_in_one_pass() -> None:
    counts = [120] * 74  # 296 s at 30 fps: under the 300 s from docs/benchmarks.md
    sampling, windows = plan_windows(counts, segments(74), Fraction(30), SamplingPolicy())
    assert sampling == "full" and windows == (Window(0, 74, 0, 8880),)
    sampling, windows = plan_windows([120] * 76, segments(76), Fraction(30), SamplingPolicy())
    assert sampling == "windows" and len(windows) == 16  # 304 s: one per 20 s


def test_long_titles_get_one_window_per_spacing_spread_evenly() -> None:
    counts = [120] * 150  # 600 s at 30 fps, 4 s segments
    sampling, windows = plan_windows(counts, segments(150), Fraction(30), SamplingPolicy())
    assert sampling == "windows"
    assert len(windows) == 30  # 600 s / 20 s
    assert all(w.segments == 1 and w.frames == 120 for w in windows)
    firsts = [w.first_segment for w in windows]
    assert firsts == sorted(set(firsts))
    assert firsts[0] <= 3 and firsts[-1] >= 146  # the start and the end of the title are both sampled
    gaps = {b - a for a, b in zip(firsts, firsts[1:], strict=False)}
    assert gaps <= {4, 5, 6}  # evenly: one window per 20 s stretch
    assert [w.start_frame for w in windows] == [f * 120 for f in firsts]


def test_the_window_count_is_clamped() -> None:
    hour = [120] * 900
    _, windows = plan_windows(hour, segments(900), Fraction(30), SamplingPolicy())
    assert len(windows) == 60
    _, windows = plan_windows([120] * 40, segments(40), Fraction(30), SamplingPolicy(mode="windows"))
    assert len(windows) == 15  # 160 s would give 8; min_windows holds it at 15


def test_windows_that_would_cover_everything_fall_back_to_full() -> None:
    sampling, _ = plan_windows([120] * 4, segments(4), Fraction(30), SamplingPolicy(mode="windows"))
    assert sampling == "full"


def test_unequal_segments_keep_exact_start_frames() -> None:
    counts = [90, 120, 110, 120, 120, 60] * 10
    _, windows = plan_windows(counts, segments(60), Fraction(30),
                              SamplingPolicy(mode="windows", window_s=8, spacing_s=40))
    for w in windows:
        assert w.start_frame == sum(counts[: w.first_segment])
        assert w.frames == sum(counts[w.first_segment: w.first_segment + w.segments])


def test_a_list_too_long_for_one_argument_is_split_into_contiguous_passes() -> None:
    counts = [60] * 3000
    names = segments(3000)
    sampling, windows = plan_windows(counts, names, Fraction(30), SamplingPolicy(mode="full"),
                                     argument_limit=20_000)
    assert sampling == "full" and len(windows) > 1
    assert windows[0].first_segment == 0 and sum(w.segments for w in windows) == 3000
    for a, b in zip(windows, windows[1:], strict=False):
        assert b.first_segment == a.first_segment + a.segments and b.start_frame == a.start_frame + a.frames
    for w in windows:
        assert len(concat_url(names[w.first_segment: w.first_segment + w.segments])) < 20_000


def test_concat_url_refuses_names_that_would_change_its_meaning() -> None:
    assert concat_url(["init_0.m4s", "seg_0_00001.m4s"]) == "concat:init_0.m4s|seg_0_00001.m4s"
    for bad in ("a|b.m4s", "/etc/passwd", "-i"):
        with pytest.raises(ValueError):
            concat_url([bad])


def plan(sampling: str, windows: tuple[Window, ...]) -> ScoringPlan:
    return ScoringPlan(sampling, windows, 3000, Fraction(30000, 1001), (1920, 1042), "vmaf_v0.6.1",  # type: ignore
                       "version=vmaf_v0.6.1", reference_filters=("bwdif=mode=send_frame:deint=interlaced",))


RENDITIONS = [RenditionParts("1080p", Path("/pkg"), "init_0.m4s", tuple(segments(10)), 1920, 1042),
              RenditionParts("360p", Path("/pkg"), "init_1.m4s", tuple(f"seg_1_{i:05d}.m4s" for i in range(1, 11)),
                             640, 348)]


def test_one_pass_decodes_the_reference_once_and_splits_it() -> None:
    cmd = build_pass_cmd("ffmpeg", "/src/source", RENDITIONS, plan("full", (Window(0, 10, 0, 300),)),
                         Window(0, 10, 0, 300), MeasureOptions(metrics=("vmaf",), n_threads=2), ["a.json", "b.json"],
                         reference_formats="mov", reference_size=(3252, 1766))
    assert cmd.count("-i") == 3 and "-ss" not in cmd
    assert cmd[cmd.index("/src/source") - 3:cmd.index("/src/source")] == ["-format_whitelist", "mov", "-i"]
    graph = cmd[cmd.index("-filter_complex") + 1]
    ref = graph.split(";")[0]
    assert ref.startswith("[0:v]bwdif=mode=send_frame:deint=interlaced,fps=fps=30000/1001:start_time=0,")
    assert "trim=start_frame=0:end_frame=300" in ref and "scale=1920:1042" in ref and ref.endswith("split=2[r0][r1]")
    assert "[1:v]settb=1,setpts=N[d0]" in graph  # the top rung is at the scoring size already
    assert "[2:v]scale=1920:1042:flags=bicubic,settb=1,setpts=N[d1]" in graph
    assert graph.count("libvmaf=") == 2 and "log_path='a.json'" in graph and "log_path='b.json'" in graph
    first = cmd.index("concat:init_0.m4s|" + "|".join(segments(10)))
    assert cmd[first - 5:first] == ["-protocol_whitelist", "concat,file", "-format_whitelist", "mov", "-i"]
    assert cmd[-6:] == ["-map", "[o0]", "-map", "[o1]", "-f", "null", "-"][-6:]


def test_a_window_seeks_the_reference_and_reads_only_its_segments() -> None:
    window = Window(4, 2, 120, 60)
    cmd = build_pass_cmd("ffmpeg", "/src/source", RENDITIONS, plan("windows", (window,)), window,
                         MeasureOptions(metrics=("vmaf",)), ["a.json", "b.json"], reference_size=(1920, 1042))
    margin = round(30000 / 1001)  # one second of frames before the window
    assert cmd[cmd.index("-ss") + 1] == f"{(120 - margin) * 1001 / 30000:.6f}"
    assert float(cmd[cmd.index("-t") + 1]) == pytest.approx((margin + 60 + 2) * 1001 / 30000, abs=1e-6)
    graph = cmd[cmd.index("-filter_complex") + 1]
    assert f"trim=start_frame={margin}:end_frame={margin + 60}" in graph and "scale=" not in graph.split(";")[0]
    assert "concat:init_0.m4s|seg_0_00005.m4s|seg_0_00006.m4s" in cmd
    assert "concat:init_1.m4s|seg_1_00005.m4s|seg_1_00006.m4s" in cmd
