"""The content-aware ladder's pure parts: the hull, the rung choice and drop rule, the CRF search, the profile."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from worker.analysis_plan import (
    analysis_windows,
    assign_targets,
    candidate_sizes,
    doublings,
    next_probe,
    probe_subsample,
)
from worker.content_aware import ContentAware
from worker.crf_search import CrfSearch
from worker.errors import ProfileError
from worker.hull import Choice, RatePoint, choose_rungs, drop_rungs, rate_at, upper_hull, vmaf_at
from worker.ladder import BUILTIN_PROFILES, CONTENT_AWARE_PROFILE, Profile, load_profile
from worker.settings import EngineSettings


def pt(height: int, kbps: float, vmaf: float, crf: float = 0.0) -> RatePoint:
    return RatePoint(height * 16 // 9 // 2 * 2, height, crf, int(kbps * 1000), vmaf)


def no_cap(width: int, height: int) -> tuple[int, str]:
    return 10**9, "max-bitrate"


# -- the hull ------------------------------------------------------------------------------------------------------

def test_the_hull_keeps_the_upper_left_concave_front() -> None:
    a, b, c = pt(360, 100, 60), pt(360, 200, 75), pt(720, 400, 88)
    under = pt(540, 300, 78)  # under the chord from (200, 75) to (400, 88): 75 + 13 x log(1.5)/log(2) = 82.6
    dominated = pt(540, 450, 85)  # more bits and less quality than c
    top = pt(1080, 1600, 95)
    assert upper_hull([top, dominated, under, c, b, a]) == [a, b, c, top]


def test_a_point_above_the_chord_stays_on_the_hull() -> None:
    a, mid, c = pt(360, 100, 60), pt(540, 200, 80), pt(720, 400, 88)
    assert upper_hull([a, mid, c]) == [a, mid, c]
    # the same middle point 1 VMAF under the chord (74) is dropped
    assert upper_hull([a, pt(540, 200, 73.9), c]) == [a, c]


def test_the_hull_is_cheapest_first_and_rising() -> None:
    points = [pt(h, k, v) for h, k, v in [(1080, 3000, 96), (1080, 1500, 92), (720, 900, 88), (720, 2000, 93),
                                          (360, 300, 70), (360, 700, 78), (540, 600, 82)]]
    hull = upper_hull(points)
    assert [p.bitrate for p in hull] == sorted(p.bitrate for p in hull)
    assert [p.vmaf for p in hull] == sorted(p.vmaf for p in hull)
    assert hull[0].bitrate == 300_000 and hull[-1].vmaf == 96


# -- the choice on the hull ----------------------------------------------------------------------------------------

CURVES = [pt(720, 1000, 95, 20), pt(720, 500, 89, 26), pt(720, 250, 80, 32),
          pt(360, 400, 84, 20), pt(360, 200, 78, 26), pt(360, 100, 66, 32)]


def test_each_target_gets_the_fewest_bits_that_reach_it() -> None:
    choices = choose_rungs(CURVES, [92.0, 80.0, 70.0], margin=0.0, min_bitrate=16_000, cap=no_cap)
    top, mid, low = choices
    # 92 is only reachable at 720p, between 500k (89) and 1000k (95): log-interpolated half-way
    assert (top.height, top.bitrate) == (720, round(math.sqrt(500_000 * 1_000_000)))
    assert top.predicted == 92.0 and top.crf == pytest.approx(23.0)
    # 80: 720p needs 250k, 360p needs 200 x 2^((80-78)/(84-78)) k = 252k: 720p is the cheaper
    assert (mid.height, mid.bitrate) == (720, 250_000)
    # 70: only 360p goes that low: between 100k (66) and 200k (78)
    assert low.height == 360 and low.bitrate == round(100_000 * 2 ** (4 / 12))
    for choice, target in zip(choices, [92, 80, 70], strict=True):
        assert choice.predicted >= target and choice.limited is None


def test_the_margin_raises_the_aim_and_the_bound_holds_a_rung_down() -> None:
    aimed = choose_rungs(CURVES, [89.0], margin=2.0, min_bitrate=16_000, cap=no_cap)[0]
    assert aimed.predicted == 91.0 and aimed.bitrate > 500_000

    def cap(width: int, height: int) -> tuple[int, str]:
        return 600_000, "source-bitrate"

    held = choose_rungs(CURVES, [93.0], margin=0.0, min_bitrate=16_000, cap=cap)[0]
    # 93 needs 794k at 720p: over the cap, so the rung takes the best score within it: 720p at 600k
    assert (held.height, held.bitrate, held.limited) == (720, 600_000, "source-bitrate")
    assert 89 < held.predicted < 93
    beyond = choose_rungs(CURVES, [97.0], margin=0.0, min_bitrate=16_000, cap=no_cap)[0]
    assert (beyond.limited, beyond.predicted, beyond.bitrate) == ("quality", 95.0, 1_000_000)


def test_a_target_under_every_probe_takes_the_cheapest_probe_and_the_floor_holds() -> None:
    choice = choose_rungs(CURVES, [50.0], margin=0.0, min_bitrate=16_000, cap=no_cap)[0]
    assert (choice.height, choice.bitrate, choice.predicted) == (360, 100_000, 66.0)
    floored = choose_rungs(CURVES, [70.0], margin=0.0, min_bitrate=150_000, cap=no_cap)[0]
    assert floored.bitrate == 150_000 and floored.predicted > 70


def test_rate_at_interpolates_in_log_rate() -> None:
    line = [pt(720, 250, 80), pt(720, 1000, 90)]
    assert rate_at(line, 85)[0] == pytest.approx(500_000)
    assert rate_at(line, 91) is None and rate_at(line, 79) is None


def test_vmaf_at_extrapolates_under_the_cheapest_probe() -> None:
    line = [pt(720, 250, 80, 30), pt(720, 1000, 90, 18)]
    assert vmaf_at(line, 125_000) == pytest.approx((75.0, 36.0))  # the first segment: 5 points a halving
    assert vmaf_at(line, 2_000_000) == (90, 18)
    # one probe: 9 points and 6 CRF steps a halving (a capped rung under a lone probe is not given its score)
    assert vmaf_at([pt(540, 1312, 81.0, 23)], 485_000) == pytest.approx((81 - 9 * math.log2(1312 / 485),
                                                                          23 + 6 * math.log2(1312 / 485)))


def choice(target: float, kbps: float, predicted: float, limited: str | None = None) -> Choice:
    return Choice(target, 1280, 720, int(kbps * 1000), 23.0, predicted, limited)


def test_the_drop_rule_removes_near_duplicate_bitrates_and_steps_that_add_too_little() -> None:
    a, b, c, d = choice(93, 2000, 93), choice(87, 1800, 88), choice(81, 900, 87.5), choice(75, 400, 75)
    kept, dropped = drop_rungs([a, b, c, d], min_gain=2.0)
    # b is within 15 % of a (2000 < 1800 x 1.15); c adds... a adds 5.5 over c: kept; d kept
    assert kept == [a, c, d]
    assert [x for x, _ in dropped] == [b] and "within 15%" in dropped[0][1]
    e = choice(81, 1000, 91.5)  # a (93) adds only 1.5 over it: the lower one goes
    kept, dropped = drop_rungs([a, e, d], min_gain=2.0)
    assert kept == [a, d] and dropped[0][0] == e and "adds only 1.5" in dropped[0][1]


def test_an_upper_rung_held_down_by_a_cap_goes_when_it_adds_too_little() -> None:
    capped = choice(93, 700, 86.0, "source-bitrate")
    below = choice(87, 500, 85.0)
    kept, dropped = drop_rungs([capped, below, choice(75, 200, 75)], min_gain=2.0)
    assert kept[0] == below and dropped[0][0] == capped and "source-bitrate" in dropped[0][1]


# -- the CRF search ------------------------------------------------------------------------------------------------

def sigmoid(crf: float, centre: float = 40.0) -> float:
    return 100 / (1 + math.exp((crf - centre) / 6))


@pytest.mark.parametrize("centre", [32.0, 40.0, 48.0])
@pytest.mark.parametrize("target", [95.0, 93.0, 87.0, 75.0])
def test_the_search_brackets_the_target_within_four_probes(centre: float, target: float) -> None:
    search = CrfSearch(target, tolerance=0.0)  # no early stop: it must bracket
    while (crf := search.next_crf()) is not None:
        search.add(crf, sigmoid(crf, centre))
    assert len(search.tried) <= 4
    pair = search.bracket()
    assert pair is not None, search.tried
    (low_crf, above), (high_crf, below) = pair
    assert above >= target > below and low_crf < high_crf


def test_the_search_stops_on_a_hit_and_at_an_unreachable_bound() -> None:
    search = CrfSearch(90.0, tolerance=0.5)
    search.add(23, 95.0)
    assert search.next_crf() == 27  # (95 - 90 + 1 overshoot) / 1.5 per step = 4
    search.add(27, 90.3)
    assert search.next_crf() is None  # within 0.5
    out_of_reach = CrfSearch(99.0, low=12)
    out_of_reach.add(23, 90.0)
    assert out_of_reach.next_crf() == 16  # (99 + 1 - 90) / 1.5 = 6.7 steps down
    out_of_reach.add(16, 95.0)
    assert out_of_reach.next_crf() == 12  # 7 more steps at the measured 0.71 per step: the bound
    far = CrfSearch(99.0)
    far.add(23, 70.0)
    assert far.next_crf() == 15  # the jump is capped at 8 steps
    out_of_reach.add(12, 96.0)
    assert out_of_reach.next_crf() is None and out_of_reach.bracket() is None


def test_each_target_goes_to_the_resolution_expected_to_reach_it_cheapest() -> None:
    first = [pt(1080, 2500, 97, 23), pt(720, 1500, 91, 23), pt(360, 300, 78, 23)]
    # 95: 1080p halves a little (2500k x 2^(-2/9) = 2.1M); 720p needs 4/9 doublings x 5/(96 - 95) = 2.2 (7M)
    # 87: 1080p 2500k x 2^(-10/9) = 1.16M, 720p 1500k x 2^(-4/9) = 1.10M; 360p cannot (ceiling 83)
    # 69: 360p 300k x 2^(-1) = 150k, the cheapest
    assigned = assign_targets(first, [95.0, 87.0, 69.0])
    assert assigned == {(1920, 1080): [95.0], (1280, 720): [87.0], (640, 360): [69.0]}
    assert doublings(first[1], 96.0) == math.inf
    out_of_reach = assign_targets(first, [99.5])  # nobody reaches it: the best scorer searches it
    assert out_of_reach == {(1920, 1080): [99.5], (1280, 720): [], (640, 360): []}
    # the top target also goes to a close runner-up (720p at 1200k: 0.76 more doublings than 1080p's 2.1M)
    close = [first[0], pt(720, 1200, 93.5, 23), first[2]]
    assert assign_targets(close, [95.0, 87.0]) == {(1920, 1080): [95.0], (1280, 720): [95.0, 87.0], (640, 360): []}
    settings = ContentAware(vmaf_targets=(93, 69), vmaf_margin=1.0)

    def probes(*pairs: tuple[float, float]) -> list[RatePoint]:
        return [pt(720, 1000 * 2 ** ((23 - crf) / 6), vmaf, crf) for crf, vmaf in pairs]

    # the higher target first, aiming at 93 + 1: (95 - 94 + 1 overshoot) / 1.5 per step = 1.3 steps
    assert next_probe([93.0, 69.0], probes((23, 95.0)), settings) == 24
    # 94 is bracketed one step wide: the lower target's search goes on from the same probes, 8 steps at most
    assert next_probe([93.0, 69.0], probes((23, 95.0), (24, 93.2)), settings) == 32
    assert next_probe([93.0], probes((23, 95.0), (24, 93.2), (32, 80.0), (40, 60.0)), settings) is None


def test_a_target_out_of_reach_within_the_cap_is_searched_at_the_cap() -> None:
    settings = ContentAware(vmaf_targets=(93,), vmaf_margin=1.0)
    first = [pt(720, 2000, 89.0, 23)]  # over a 750k cap and still under the aim: 94 is out of reach within it
    # the rate search: log2(2000/750) = 1.4 halvings past the cap, aiming 0.1 further, at 1/6 per step: 9 steps,
    # capped at 8
    assert next_probe([93.0], first, settings, cap=750_000) == 31
    assert next_probe([93.0], first, settings) == 19  # no cap: the quality search, (94 + 1 - 89) / 1.5 = 4 steps
    at_cap = [*first, pt(720, 700, 74.0, 31)]
    assert next_probe([93.0], at_cap, settings, cap=750_000) is None  # within 8 % of the cap: done


def test_the_probes_subsample_shares_no_factor_with_the_gop() -> None:
    assert probe_subsample(10, 60) == 11 and probe_subsample(10, 48) == 11 and probe_subsample(10, 50) == 11
    assert probe_subsample(10, 49) == 10 and probe_subsample(1, 60) == 1


# -- windows and candidates ----------------------------------------------------------------------------------------

def test_short_titles_are_analysed_whole_and_long_ones_on_the_gates_windows() -> None:
    ca = ContentAware(analysis_seconds=20)
    from fractions import Fraction

    windows, whole = analysis_windows(12.0, Fraction(30), 4.0, ca, EngineSettings())
    assert whole and [(w.start_frame, w.frames) for w in windows] == [(0, 360)]
    windows, whole = analysis_windows(600.0, Fraction(30), 4.0, ca, EngineSettings())
    assert not whole and len(windows) == 5 and all(w.frames == 120 for w in windows)
    # a subset of the gate's windows (one per 20 s, 30 windows), spread over the title
    assert all(w.start_frame % 120 == 0 for w in windows)
    assert windows[0].start_frame < 18000 * 0.2 and windows[-1].start_frame > 18000 * 0.8


def test_candidates_follow_the_fixed_ladders_sizing() -> None:
    ca = ContentAware(heights=(1080, 720, 360))
    assert candidate_sizes(1920, 818, ca) == [(1920, 818), (1690, 720), (844, 360)]
    assert candidate_sizes(320, 240, ca) == [(320, 240)]


# -- the profile ---------------------------------------------------------------------------------------------------

def test_the_built_in_profile_and_its_targets() -> None:
    assert load_profile("content-aware") is CONTENT_AWARE_PROFILE is BUILTIN_PROFILES["content-aware"]
    assert load_profile("default").content_aware is None
    ca = CONTENT_AWARE_PROFILE.content_aware
    assert ca is not None and ca.targets == (93.0, 87.0, 81.0, 75.0, 69.0)
    assert ContentAware(top_vmaf=95, vmaf_step=10, min_vmaf_target=70).targets == (95.0, 85.0, 75.0)
    assert ContentAware(top_vmaf=95, vmaf_step=1, max_rungs=3).targets == (95.0, 94.0, 93.0)


def test_a_profile_file_with_a_content_aware_block(tmp_path: Path) -> None:
    path = tmp_path / "ca.yaml"
    path.write_text("name: per-title\ncontent_aware:\n  vmaf_targets: [94, 88, 80]\n  codec: hevc\n"
                    "  heights: [720, 480]\n  max_bitrate_k: 4000\n")
    profile = load_profile(path)
    assert profile.codec == "hevc" and profile.content_aware is not None
    assert profile.content_aware.targets == (94, 88, 80) and profile.rungs  # the default ladder as the fallback
    assert Profile.model_validate(profile.model_dump()) == profile


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ("vmaf_targets: [80, 90]", "fall strictly"),
        ("vmaf_targets: [95, 90]\n  top_vmaf: 96", "not both"),
        ("vmaf_targets: [95, 90, 85]\n  max_rungs: 2", "max_rungs is 2"),
        ("vmaf_targets: [101]", "content_aware.vmaf_targets.0"),
        ("top_vmaf: 50\n  min_vmaf_target: 60", "above min_vmaf_target"),
        ("min_bitrate_k: 900\n  max_bitrate_k: 800", "under max_bitrate_k"),
        ("heights: [720, 720]", "distinct"),
        ("crf_min: 30\n  crf_start: 23", "crf_min <= crf_start"),
        ("max_probes: 5", "content_aware.max_probes"),
        ("codec: vp9", "content_aware.codec"),
        ("vmaf_target: 90", "content_aware.vmaf_target"),
        ("rate_control: abr", "content_aware.rate_control"),
    ],
)
def test_bad_content_aware_blocks_name_the_problem(tmp_path: Path, block: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"content_aware:\n  {block}\n")
    with pytest.raises(ProfileError, match=words) as info:
        load_profile(path)
    assert "bad.yaml" in str(info.value)


def test_two_different_codecs_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "codec.yaml"
    path.write_text("codec: h264\ncontent_aware:\n  codec: hevc\n")
    with pytest.raises(ProfileError, match="differs from the profile's codec"):
        load_profile(path)


def test_an_unknown_profile_name_lists_the_built_ins() -> None:
    with pytest.raises(ProfileError, match="built-in profiles: default, content-aware"):
        load_profile("content-awre")
