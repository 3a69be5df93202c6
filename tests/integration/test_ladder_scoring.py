"""The ladder scorer on real ffmpeg and libvmaf: one pass equals per-rendition ``quality.measure``; windows pair the
same frames as full scoring; a localized quality drop is caught by the sampled gate."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

import quality
from quality.ladder import RenditionParts, SamplingPolicy, late_seek
from quality.ladder_scoring import LadderResult, plan_scoring, score_ladder
from quality.runner import run_ffmpeg_capture
from worker.engine import transcode
from worker.ladder import Profile, Rung
from worker.package import collect_renditions
from worker.settings import EngineSettings

pytestmark = pytest.mark.ffmpeg

OPTIONS = quality.MeasureOptions(metrics=("vmaf",), subsample=3, n_threads=2)


def ff(ffmpeg: str, *args: str) -> None:
    run_ffmpeg_capture([ffmpeg, "-nostdin", "-v", "error", "-y", *args], timeout=300)


def package(source: Path, out: Path, profile: Profile) -> tuple[list[RenditionParts], Fraction, tuple[int, int]]:
    manifest = transcode(source, out, profile=profile, settings=EngineSettings(encoder="cpu", quality_policy="off"))
    files = collect_renditions(out, len(manifest["renditions"]) + (1 if manifest["audio"] else 0),
                               duration=manifest["source"]["duration"], segment_seconds=profile.segment_seconds)
    parts = [RenditionParts(r["name"], out, f.init, f.segments, r["width"], r["height"])
             for r, f in zip(manifest["renditions"], files, strict=False)]
    return parts, Fraction(manifest["renditions"][0]["frame_rate"]), (manifest["source"]["width"],
                                                                      manifest["source"]["height"])


def score(source: Path, parts: list[RenditionParts], rate: Fraction, size: tuple[int, int], tmp: Path,
          policy: SamplingPolicy, options: quality.MeasureOptions = OPTIONS) -> LadderResult:
    plan = plan_scoring(parts, rate=rate, display_size=size, options=options, policy=policy)
    return score_ladder(source, parts, plan, options, tmp / "scratch", reference_size=size)


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> tuple[Path, list[RenditionParts], Fraction,
                                                                          tuple[int, int]]:
    d = tmp_path_factory.mktemp("ladder")
    source = d / "source.mp4"
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=12,noise=alls=12:allf=t",
       "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", str(source))
    profile = Profile(name="t", rungs=(Rung(height=240, bitrate_k=500), Rung(height=180, bitrate_k=250),
                                       Rung(height=120, bitrate_k=120)),
                      gop_seconds=1, segment_seconds=2, cpu_preset="ultrafast")
    parts, rate, size = package(source, d / "pkg", profile)
    return source, parts, rate, size


def test_one_pass_equals_quality_measure_of_each_rendition(ladder: tuple[Path, list[RenditionParts], Fraction,
                                                                         tuple[int, int]], tmp_path: Path) -> None:
    source, parts, rate, size = ladder
    result = score(source, parts, rate, size, tmp_path, SamplingPolicy(mode="full"))
    assert result.passes == 1 and result.plan.sampling == "full"
    assert len(result.commands) == 1 and sum("concat:" in arg for arg in result.commands[0]) == 3
    # the reference is decoded once: one input is the source, the others the renditions' parts in place
    assert result.commands[0].count(str(source.resolve())) == 1
    for rendition, scored in zip(parts, result.scores, strict=True):
        joined = tmp_path / f"{rendition.name}.mp4"  # what the engine used to score: a copy of the parts
        joined.write_bytes(b"".join((rendition.folder / n).read_bytes() for n in (rendition.init,
                                                                                 *rendition.segments)))
        report = quality.measure(joined, source, OPTIONS)
        assert len(report.frames) == len(scored.frames) == 120
        for key in ("mean", "harmonic_mean", "min", "max", "p5", "count"):
            assert scored.pooled["vmaf"][key] == pytest.approx(report.pooled["vmaf"][key], abs=1e-6), key
        for mine, theirs in zip(scored.frames, report.frames, strict=True):
            assert mine["frame"] == theirs["frame"]
            assert mine["vmaf"] == pytest.approx(theirs["vmaf"], abs=1e-6)
    means = [s.pooled["vmaf"]["mean"] for s in result.scores]
    assert means == sorted(means, reverse=True) and means[0] - means[-1] > 5  # the rungs really differ
    assert not list((tmp_path / "scratch").iterdir())  # logs are removed once parsed


def test_windows_pair_exactly_the_frames_full_scoring_pairs(ladder: tuple[Path, list[RenditionParts], Fraction,
                                                                          tuple[int, int]], tmp_path: Path) -> None:
    source, parts, rate, size = ladder
    full = score(source, parts, rate, size, tmp_path, SamplingPolicy(mode="full"))
    sampled = score(source, parts, rate, size, tmp_path,
                    SamplingPolicy(mode="windows", window_s=2, spacing_s=4, min_windows=3))
    plan = sampled.plan
    assert plan.sampling == "windows" and len(plan.windows) == 3 and sampled.passes == 3
    assert plan.frames_compared == 180 < plan.total_frames == 360
    assert [w.start_frame for w in plan.windows] == [0, 120, 240]
    for windowed, whole in zip(sampled.scores, full.scores, strict=True):
        by_frame = {row["frame"]: row["vmaf"] for row in whole.frames}
        assert len(windowed.frames) == 20 + 19 + 19  # each window after the first loses its first frame
        for row in windowed.frames:  # seeking cannot shift the pairing by even one frame
            assert row["vmaf"] == pytest.approx(by_frame[row["frame"]], abs=1e-6), row["frame"]
        assert not windowed.warnings


def test_a_shifted_reference_would_be_caught(ladder: tuple[Path, list[RenditionParts], Fraction,
                                                            tuple[int, int]], tmp_path: Path, ffmpeg: str) -> None:
    """The check above can fail: a reference one frame late scores far lower on this noisy source."""
    source, parts, rate, size = ladder
    late = tmp_path / "late.mp4"
    ff(ffmpeg, "-i", str(source), "-vf", "trim=start_frame=1,setpts=PTS-STARTPTS", "-c:v", "libx264",
       "-preset", "ultrafast", "-crf", "20", str(late))
    good = score(source, parts[:1], rate, size, tmp_path, SamplingPolicy(mode="full"))
    shifted = score(late, parts[:1], rate, size, tmp_path, SamplingPolicy(mode="full"))
    assert shifted.scores[0].pooled["vmaf"]["mean"] < good.scores[0].pooled["vmaf"]["mean"] - 10


def test_a_drop_confined_to_one_part_is_caught_by_the_sampled_gate(tmp_path: Path, ffmpeg: str) -> None:
    """Frames 480-660 (16-22 s of 40 s) are encoded at QP 51: the mean still passes 60, p5 does not."""
    source = tmp_path / "source.mp4"
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=40", "-c:v", "libx264", "-preset",
       "ultrafast", "-crf", "16", str(source))
    out = tmp_path / "pkg"
    out.mkdir()
    ff(ffmpeg, "-i", str(source), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
       "-x264-params", "zones=480,660,q=51", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
       "-f", "dash", "-seg_duration", "2", "-init_seg_name", "init_$RepresentationID$.m4s",
       "-media_seg_name", "seg_$RepresentationID$_$Number%05d$.m4s", str(out / "manifest.mpd"))
    segments = tuple(sorted(p.name for p in out.glob("seg_0_*.m4s")))
    parts = [RenditionParts("180p", out, "init_0.m4s", segments, 320, 180)]
    options = quality.MeasureOptions(metrics=("vmaf",), subsample=2, n_threads=2)
    policy = SamplingPolicy(mode="windows", window_s=2, spacing_s=5, min_windows=2)
    sampled = score(source, parts, Fraction(30), (320, 180), tmp_path, policy, options)
    full = score(source, parts, Fraction(30), (320, 180), tmp_path, SamplingPolicy(mode="full"), options)
    assert len(sampled.plan.windows) == 8 and sampled.plan.frames_compared == 480
    gate = [quality.Threshold("vmaf", "mean", 60), quality.Threshold("vmaf", "p5", 60)]
    for result in (full, sampled):
        pooled = result.scores[0].pooled
        verdict = quality.evaluate_pooled(pooled, gate)
        assert verdict.verdicts[0].passed, json.dumps(pooled)  # the mean alone would let it through
        assert not verdict.verdicts[1].passed  # p5 catches the drop
        assert pooled["vmaf"]["min"] < 50
    assert abs(sampled.scores[0].pooled["vmaf"]["mean"] - full.scores[0].pooled["vmaf"]["mean"]) < 5


def broadcast(path: Path, ffmpeg: str, gop: int) -> Path:
    """MPEG-TS, B-frames, a start time of 2.8 s with the audio first, a keyframe every ``gop`` frames."""
    ff(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=12,noise=alls=12:allf=t",
       "-f", "lavfi", "-i", "sine=frequency=440:duration=12", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2",
       "-g", str(gop), "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-output_ts_offset", "1.4",
       "-f", "mpegts", str(path))
    return path


TS_PROFILE = Profile(name="t", rungs=(Rung(height=240, bitrate_k=500), Rung(height=120, bitrate_k=120)),
                     gop_seconds=1, segment_seconds=2, cpu_preset="ultrafast")


def test_a_transport_stream_is_read_in_one_pass_and_stays_exact(tmp_path: Path, ffmpeg: str) -> None:
    """A TS is sought by bisection and lands past the point (windows sought there scored a frame 91 where full
    scoring gives it 41): its windows are read in one pass from the start instead, and pair exactly."""
    source = broadcast(tmp_path / "broadcast.ts", ffmpeg, 25)
    parts, rate, size = package(source, tmp_path / "pkg", TS_PROFILE)
    options = quality.MeasureOptions(metrics=("vmaf",), subsample=5, n_threads=2)  # 50-frame segments
    policy = SamplingPolicy(mode="windows", window_s=2, spacing_s=4, min_windows=3)
    plan = plan_scoring(parts, rate=rate, display_size=size, options=options, policy=policy, reference=source)
    assert plan.sampling == "windows" and plan.sequential and plan.note is not None and "container" in plan.note
    sampled = score_ladder(source, parts, plan, options, tmp_path / "scratch", reference_size=size)
    assert sampled.passes == 1 and len(sampled.commands) == 1 and "-ss" not in sampled.commands[0]
    full = score(source, parts, rate, size, tmp_path, SamplingPolicy(mode="full"), options)
    for windowed, whole in zip(sampled.scores, full.scores, strict=True):
        by_frame = {row["frame"]: row["vmaf"] for row in whole.frames}
        assert len(windowed.frames) >= 25 and not windowed.warnings
        for row in windowed.frames:
            assert row["vmaf"] == pytest.approx(by_frame[row["frame"]], abs=1e-6), row["frame"]
    mp4 = tmp_path / "broadcast.mp4"
    ff(ffmpeg, "-i", str(source), "-c", "copy", str(mp4))
    assert late_seek(mp4, [(5.0, 5.0), (9.0, 9.0)]) is None  # the same stream in an MP4 is sought in time
    remuxed = plan_scoring(parts, rate=rate, display_size=size, options=options, policy=policy, reference=mp4)
    assert remuxed.sampling == "windows" and not remuxed.sequential and remuxed.note is None


def test_windows_in_an_mp4_stay_exact_with_a_late_start_and_b_frames(tmp_path: Path, ffmpeg: str) -> None:
    """The broadcast stream remuxed to MP4 (start 2.8 s, audio first, B-frames): windows pair every frame exactly
    as full scoring does."""
    source = tmp_path / "broadcast.mp4"
    ff(ffmpeg, "-i", str(broadcast(tmp_path / "broadcast.ts", ffmpeg, 25)), "-c", "copy", str(source))
    parts, rate, size = package(source, tmp_path / "pkg", TS_PROFILE)
    options = quality.MeasureOptions(metrics=("vmaf",), subsample=5, n_threads=2)  # 50-frame segments
    policy = SamplingPolicy(mode="windows", window_s=2, spacing_s=4, min_windows=3)
    plan = plan_scoring(parts, rate=rate, display_size=size, options=options, policy=policy, reference=source)
    assert plan.sampling == "windows" and plan.windows[-1].start_frame > 0
    sampled = score_ladder(source, parts, plan, options, tmp_path / "scratch", reference_size=size)
    full = score(source, parts, rate, size, tmp_path, SamplingPolicy(mode="full"), options)
    for windowed, whole in zip(sampled.scores, full.scores, strict=True):
        by_frame = {row["frame"]: row["vmaf"] for row in whole.frames}
        assert len(windowed.frames) >= 25
        for row in windowed.frames:
            assert row["vmaf"] == pytest.approx(by_frame[row["frame"]], abs=1e-6), row["frame"]
