import json
from fractions import Fraction
from pathlib import Path

import pytest

from worker.errors import ProfileError
from worker.ladder import DEFAULT_PROFILE, Profile, Rung, load_profile, output_frame_rate, plan_ladder


def sizes(width: int, height: int, profile: Profile = DEFAULT_PROFILE) -> list[tuple[int, int]]:
    return [(r.width, r.height) for r in plan_ladder(width, height, profile)]


def test_full_hd_source_gets_the_whole_ladder() -> None:
    assert sizes(1920, 1080) == [(1920, 1080), (1280, 720), (960, 540), (640, 360), (426, 240)]


def test_never_upscale_and_cap_at_the_top_rung() -> None:
    assert sizes(1280, 720)[0] == (1280, 720)
    assert sizes(3840, 2160)[0] == (1920, 1080)


def test_source_between_rungs_keeps_its_own_resolution_on_top() -> None:
    plans = plan_ladder(1280, 960, DEFAULT_PROFILE)
    assert (plans[0].width, plans[0].height, plans[0].name) == (1280, 960, "960p")
    # bitrate scaled from the 1080p rung (1440x1080 at 4:3) by pixel count
    assert plans[0].bitrate_k == int(5000 * 1280 * 960 / (1440 * 1080))
    assert [(p.width, p.height) for p in plans[1:]] == [(960, 720), (720, 540), (480, 360), (320, 240)]


def test_near_duplicate_rung_is_replaced_by_the_source_size() -> None:
    assert sizes(1000, 562) == [(1000, 562), (640, 360), (428, 240)]


def test_portrait_uses_the_short_side_and_keeps_aspect() -> None:
    assert sizes(1080, 1920)[:2] == [(1080, 1920), (720, 1280)]


def test_odd_and_tiny_sources_get_even_dimensions() -> None:
    assert sizes(321, 181) == [(320, 180)]
    assert sizes(16, 16) == [(16, 16)]
    assert all(w % 2 == 0 and h % 2 == 0 for w, h in sizes(1283, 721))


def test_rung_rates_default_from_bitrate() -> None:
    top = plan_ladder(1920, 1080, DEFAULT_PROFILE)[0]
    assert (top.bitrate_k, top.maxrate_k, top.bufsize_k, top.min_vmaf) == (5000, 5500, 10000, 90)


def test_frame_rate_is_kept_or_capped() -> None:
    assert output_frame_rate(Fraction(30000, 1001), 60) == Fraction(30000, 1001)
    assert output_frame_rate(Fraction(120), 60) == Fraction(60)
    assert output_frame_rate(Fraction(0), 30) == Fraction(30)


def test_profile_files_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "p.yaml"
    yml.write_text("name: small\ncodec: hevc\ngop_seconds: 1\nsegment_seconds: 2\n"
                   "rungs:\n  - {height: 360, bitrate_k: 800}\n  - {height: 180, bitrate_k: 300, preset: fast}\n")
    profile = load_profile(yml)
    assert profile.codec == "hevc" and [r.height for r in profile.rungs] == [360, 180]
    js = tmp_path / "p.json"
    js.write_text(json.dumps(profile.model_dump()))
    assert load_profile(js) == profile


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("rungs: []", "rungs"),
        ("codec: vp9\nrungs: [{height: 360, bitrate_k: 800}]", "codec"),
        ("gop_seconds: 3\nsegment_seconds: 4\nrungs: [{height: 360, bitrate_k: 800}]", "multiple of gop_seconds"),
        ("rungs: [{height: 360, bitrate_k: 800, crf: 20}]", "rungs.0.crf"),
        ("rungs: [: bad", "not valid YAML"),
    ],
)
def test_bad_profiles_name_the_field(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=words) as info:
        load_profile(path)
    assert "bad.yaml" in str(info.value)


def test_duplicate_heights_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Profile(rungs=(Rung(height=360, bitrate_k=800), Rung(height=360, bitrate_k=500)))
