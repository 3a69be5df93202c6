"""Caps and distinct levels on the fixed ladder: known answers, then generated sources through the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.engine import transcode
from worker.ladder import DEFAULT_PROFILE, Profile, Rung, plan_ladder
from worker.ladder_caps import CAP_EXPONENT, MIN_STEP, adjust_ladder, source_cap_k
from worker.planning import plan_job
from worker.settings import EngineSettings

from .conftest import ff


def ladder(width: int, height: int, bitrate: int | None, profile: Profile = DEFAULT_PROFILE) \
        -> tuple[list[tuple[str, int, int, int]], list[dict[str, object]]]:
    rungs, notes = adjust_ladder(plan_ladder(width, height, profile), width, height, bitrate, profile)
    return [(r.name, r.width, r.height, r.bitrate_k) for r in rungs], [n.to_dict() for n in notes]


def test_a_low_bitrate_source_caps_every_rung_at_what_it_carries() -> None:
    # the 640x480 film scene at 0.67 Mb/s: the fixed ladder gave its top rung 1.58 Mb/s
    assert plan_ladder(640, 480, DEFAULT_PROFILE)[0].bitrate_k == 1580
    rungs, notes = ladder(640, 480, 670_000)
    assert rungs == [("480p", 640, 480, 670), ("360p", 480, 360, 435), ("240p", 320, 240, 236)]
    assert [(n["rung"], n["action"], n["from"], n["to"]) for n in notes] == [
        ("480p", "capped", 1_580_000, 670_000), ("360p", "capped", 1_000_000, 435_000),
        ("240p", "capped", 500_000, 236_000)]
    assert 670 * (480 * 360 / (640 * 480)) ** CAP_EXPONENT == pytest.approx(435.2, abs=0.1)


def test_a_rich_source_keeps_the_profiles_rates() -> None:
    rungs, notes = ladder(1920, 1080, 20_000_000)
    assert [r[3] for r in rungs] == [5000, 3000, 2000, 1000, 500] and notes == []
    assert ladder(1920, 1080, None)[1] == []  # a source whose rate is unknown is not capped


def test_a_capped_rung_is_capped_constant_quality_with_its_peak_at_the_cap() -> None:
    rungs, _ = adjust_ladder(plan_ladder(640, 360, DEFAULT_PROFILE), 640, 360, 98_000, DEFAULT_PROFILE)
    top = rungs[0]
    assert (top.bitrate_k, top.maxrate_k, top.bufsize_k, top.crf) == (98, 98, 196, 23)
    hevc = DEFAULT_PROFILE.model_copy(update={"codec": "hevc"})
    assert adjust_ladder(plan_ladder(640, 360, hevc), 640, 360, 98_000, hevc)[0][0].crf == 28
    rich, _ = adjust_ladder(plan_ladder(640, 360, DEFAULT_PROFILE), 640, 360, 9_000_000, DEFAULT_PROFILE)
    assert rich[0].crf is None and (rich[0].bitrate_k, rich[0].maxrate_k) == (1000, 1100)  # VBR as before


def test_a_letterboxed_source_rung_is_re_priced_between_its_neighbours() -> None:
    # 1920x818: the source-sized rung got max(2868, 3000) = 3000k, the same as the 720p rung under it
    before = plan_ladder(1920, 818, DEFAULT_PROFILE)
    assert [(r.name, r.bitrate_k) for r in before[:2]] == [("818p", 3000), ("720p", 3000)]
    rungs, notes = ladder(1920, 818, 8_000_000)
    # log-rate on log-pixels between 1080 (2536x1080 at this aspect, 5000k) and 720p (1690x720, 3000k)
    assert rungs[:2] == [("818p", 1920, 818, 3523), ("720p", 1690, 720, 3000)]
    assert notes == [{"rung": "818p", "action": "interpolated", "from": 3_000_000, "to": 3_523_000,
                      "reason": notes[0]["reason"]}]
    assert 3523 >= 3000 * MIN_STEP


def test_near_duplicate_rates_drop_the_smaller_picture() -> None:
    close = Profile(rungs=(Rung(height=720, bitrate_k=3000), Rung(height=680, bitrate_k=2900),
                           Rung(height=360, bitrate_k=1000)))
    rungs, notes = ladder(1280, 720, None, close)
    assert [r[0] for r in rungs] == ["720p", "360p"]
    assert notes[0]["rung"] == "680p" and notes[0]["action"] == "dropped" and notes[0]["to"] is None
    # capping can make two rungs near-duplicates: 660p's cap is 0.878 of 720p's (pixels^0.75), within 15 %
    capped = Profile(rungs=(Rung(height=720, bitrate_k=3000), Rung(height=660, bitrate_k=2000)))
    rungs, notes = ladder(1280, 720, 800_000, capped)
    assert rungs == [("720p", 1280, 720, 800)]
    assert [n["action"] for n in notes] == ["capped", "capped", "dropped"]


def test_the_cap_formula() -> None:
    assert source_cap_k(1_000_000, 1000, 1000) == 1000
    assert source_cap_k(1_000_000, 1600, 100) == 125  # (1/16)^0.75 = 1/8
    assert source_cap_k(10_000, 1600, 100) == 16  # never under the smallest rung rate
    assert source_cap_k(None, 1600, 100) is None


# -- generated sources through the planner and the engine --------------------------------------------------------

SMALL = Profile(name="small", rungs=(Rung(height=180, bitrate_k=500), Rung(height=120, bitrate_k=300),
                                     Rung(height=90, bitrate_k=150)),
                gop_seconds=1, segment_seconds=2, cpu_preset="ultrafast")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("caps")
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=6", "-c:v", "libx264", "-preset",
       "ultrafast", "-b:v", "60k", "-maxrate", "60k", "-bufsize", "120k", "-pix_fmt", "yuv420p", str(d / "low.mp4"))
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x136:rate=30:duration=2,noise=alls=20:allf=t", "-c:v",
       "libx264", "-preset", "ultrafast", "-crf", "8", "-pix_fmt", "yuv420p", str(d / "letterbox.mp4"))
    return {"low": d / "low.mp4", "letterbox": d / "letterbox.mp4"}


def test_a_generated_low_bitrate_source_is_capped_in_the_manifest(generated: dict[str, Path], tmp_path: Path) -> None:
    settings = EngineSettings(encoder="cpu", quality_policy="off")
    job = plan_job(generated["low"], tmp_path / "plan", SMALL, settings)
    rate = job.source.video_bitrate
    assert rate is not None and 30_000 < rate < 120_000
    expected = [source_cap_k(rate, 320 * 240, r.width * r.height) for r in job.rungs]
    assert [r.bitrate_k for r in job.rungs] == expected
    assert expected[0] == int(rate / 1000 * (240 * 180 / (320 * 240)) ** 0.75) < 500  # 180p: 240x180
    manifest = transcode(generated["low"], tmp_path / "pkg", profile=SMALL, settings=settings)
    assert [a["action"] for a in manifest["adjustments"]][:2] == ["capped", "capped"]
    assert [r["target_bitrate"] for r in manifest["renditions"]] == [b * 1000 for b in expected]
    for rendition, cap in zip(manifest["renditions"], expected, strict=True):
        # nothing spends more than the source carries at its size: the peak is the cap, so over 6 s the average is
        # at most the cap plus the encoder's initial buffer (90 % of 2 x cap) spread over the title, plus the
        # fMP4 boxes (at most 25 bytes a frame at 30 fps: 6 kb/s, a fifth of a 24 kb/s rung)
        assert rendition["max_bitrate"] == cap * 1000
        assert rendition["measured_bitrate"] <= cap * 1000 * (1 + 0.9 * 2 / 6) + 6000
    assert json.loads((tmp_path / "pkg" / "manifest.json").read_text())["adjustments"] == manifest["adjustments"]


def test_a_generated_letterboxed_source_gets_distinct_levels(generated: dict[str, Path], tmp_path: Path) -> None:
    job = plan_job(generated["letterbox"], tmp_path / "plan", SMALL, EngineSettings(encoder="cpu"))
    assert [(r.name, r.width, r.height) for r in job.rungs] == [("136p", 320, 136), ("120p", 282, 120),
                                                                 ("90p", 212, 90)]
    rates = [r.bitrate_k for r in job.rungs]
    assert rates[:2] == [351, 300]  # 300 before: the 120p rung's own rate
    assert all(high >= low * MIN_STEP for high, low in zip(rates, rates[1:], strict=False))
    assert job.adjustments[0].action == "interpolated"


def test_a_source_without_a_stream_bitrate_is_measured_from_its_packets(generated: dict[str, Path], tmp_path: Path,
                                                                         ffmpeg: str) -> None:
    """Matroska keeps no per-stream rate: the probe's own demux (the one that counts the frames) sums the packets."""
    from worker.media import probe_source

    mkv = tmp_path / "low.mkv"
    ff(ffmpeg, "-i", str(generated["low"]), "-c", "copy", str(mkv))
    mp4 = probe_source(generated["low"])
    remuxed = probe_source(mkv)
    assert mp4.video_bitrate is not None and remuxed.video_bitrate is not None
    assert remuxed.video_bitrate == pytest.approx(mp4.video_bitrate, rel=0.05)
