"""The engine on real ffmpeg: play back what it produced."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import av
import pytest

from worker.engine import MANIFEST_NAME, transcode
from worker.errors import InvalidSource, QualityBelowThreshold, SourceRejected
from worker.ladder import Profile, Rung
from worker.settings import EngineSettings

from .conftest import Sources

pytestmark = pytest.mark.ffmpeg


def parse_master(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    variants = []
    for line, uri in zip(lines, lines[1:], strict=False):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            variants.append({k: v.strip('"') for k, v in attrs.items()} | {"URI": uri})
    return variants


def decode(package: Path, media_playlist: str) -> tuple[int, int, int, list[float]]:
    """Width, height, frame count and keyframe times of one rendition, read through its HLS playlist."""
    with av.open(str(package / media_playlist)) as container:
        stream = container.streams.video[0]
        keyframes = []
        frames = 0
        for frame in container.decode(stream):
            frames += 1
            if frame.key_frame:
                keyframes.append(round(float(frame.pts * stream.time_base), 3))
        return stream.codec_context.width, stream.codec_context.height, frames, keyframes


def test_package_plays_back(sources: Sources, small_profile: Profile, settings: EngineSettings,
                            tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    manifest = transcode(sources.av, out, profile=small_profile, settings=settings)
    assert json.loads((out / MANIFEST_NAME).read_text()) == manifest
    variants = parse_master((out / "master.m3u8").read_text())
    assert [v["RESOLUTION"] for v in variants] == ["320x240", "160x120"]
    for v in variants:
        assert int(v["BANDWIDTH"]) >= int(v["AVERAGE-BANDWIDTH"]) > 0
        assert v["CODECS"].startswith("avc1.") and v["CODECS"].endswith(",mp4a.40.2")
        assert v["FRAME-RATE"] == "30.000" and v["AUDIO"] == "aac"
    keyframe_sets = []
    for v, rendition in zip(variants, manifest["renditions"], strict=True):
        width, height, frames, keyframes = decode(out, v["URI"])
        assert (width, height) == (rendition["width"], rendition["height"])
        assert frames == 90
        keyframe_sets.append(keyframes)
    assert keyframe_sets[0] == keyframe_sets[1] == [0.0, 1.0, 2.0]  # 1 s GOP, aligned across rungs
    with av.open(str(out / manifest["audio"]["path"])) as audio:
        assert audio.streams.audio and audio.streams.audio[0].codec_context.name == "aac"
    assert (out / "manifest.mpd").read_text().count("<Representation ") == 3
    with av.open(str(out / "poster.jpg")) as poster:
        assert (poster.streams.video[0].width, poster.streams.video[0].height) == (320, 240)
    assert manifest["encoder"] == "libx264" and manifest["fallback_reason"] == "cpu-requested: encoder policy is cpu"
    assert set(manifest["timings"]) >= {"probe", "encode", "package", "total"}
    assert manifest["source"]["audio"][0]["channels"] == 2
    top = manifest["renditions"][0]
    assert 200_000 < top["measured_bitrate"] < 700_000 and top["size_bytes"] > 0
    assert not list(tmp_path.glob(".pkg.*"))  # the staging folder was renamed, nothing left beside it


def test_vmaf_per_rendition_and_quality_policy(sources: Sources, small_profile: Profile, tmp_path: Path) -> None:
    flagged = EngineSettings(encoder="cpu", quality_policy="flag", vmaf_subsample=3)
    strict = Profile(name="strict", rungs=(Rung(height=240, bitrate_k=60, min_vmaf=99),), gop_seconds=1,
                     segment_seconds=2, cpu_preset="ultrafast")
    manifest = transcode(sources.av, tmp_path / "a", profile=strict, settings=flagged)
    (rung,) = manifest["renditions"]
    assert rung["quality"] == "below-threshold" and manifest["flagged"] == ["240p"]
    assert 0 < rung["vmaf"]["mean"] < 99 and rung["vmaf"]["count"] == 30 and rung["vmaf"]["alignment"] == "aligned"
    good = transcode(sources.av, tmp_path / "b", profile=small_profile, settings=flagged)
    assert good["renditions"][0]["quality"] == "pass" and good["renditions"][1]["quality"] == "no-threshold"
    assert good["renditions"][0]["vmaf"]["mean"] > rung["vmaf"]["mean"]
    with pytest.raises(QualityBelowThreshold, match="240p VMAF"):
        transcode(sources.av, tmp_path / "c", profile=strict,
                  settings=EngineSettings(encoder="cpu", quality_policy="fail", vmaf_subsample=3))
    assert not (tmp_path / "c").exists()  # a failed job publishes nothing


def test_failed_job_leaves_an_earlier_package_untouched(sources: Sources, small_profile: Profile,
                                                        settings: EngineSettings, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    transcode(sources.av, out, profile=small_profile, settings=settings)
    before = sorted(p.name for p in out.iterdir())
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    with pytest.raises(InvalidSource):
        transcode(broken, out, profile=small_profile, settings=settings)
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize(
    ("name", "sizes", "frames", "note"),
    [
        # upright portrait output with the displayed dimensions
        ("rotated", [(240, 320), (120, 160)], 90, "rotation applied"),
        # odd dimensions round down to even; RGB 4:4:4 becomes 4:2:0
        ("odd", [(320, 240), (160, 120)], 50, "even dimensions"),
        # 10-bit becomes 8-bit for H.264
        ("ten_bit", [(320, 240), (160, 120)], 90, "8-bit"),
        # deinterlaced field by field would double the rate; send_frame keeps 30 frames per second
        ("interlaced", [(320, 240), (160, 120)], 90, "deinterlaced"),
        # a 16x16 source gets one rung at its own size
        ("tiny", [(16, 16)], 60, "tiny"),
        ("silent", [(320, 240), (160, 120)], 90, "no audio"),
    ],
)
def test_odd_sources_produce_correct_packages(sources: Sources, small_profile: Profile, settings: EngineSettings,
                                              tmp_path: Path, name: str, sizes: list[tuple[int, int]],
                                              frames: int, note: str) -> None:
    out = tmp_path / name
    manifest = transcode(getattr(sources, name), out, profile=small_profile, settings=settings)
    got = [(r["width"], r["height"]) for r in manifest["renditions"]]
    assert got == sizes, note
    for rendition in manifest["renditions"]:
        width, height, count, _ = decode(out, rendition["path"])
        assert (width, height) == (rendition["width"], rendition["height"])
        assert count == frames, note
    assert manifest["audio"] is None  # none of these sources has audio; the av source's audio is checked above


def test_source_facts_are_probed(sources: Sources) -> None:
    from worker.media import probe_source

    assert probe_source(sources.rotated).rotation in (90, -90, 270)
    assert (probe_source(sources.rotated).width, probe_source(sources.rotated).height) == (240, 320)
    ten = probe_source(sources.ten_bit)
    assert (ten.bit_depth, ten.pix_fmt) == (10, "yuv420p10le")
    assert probe_source(sources.interlaced).interlaced
    assert not probe_source(sources.av).interlaced
    assert probe_source(sources.vfr).variable_frame_rate
    assert not probe_source(sources.av).variable_frame_rate
    assert probe_source(sources.av).frame_rate == Fraction(30)


def test_hdr_is_tone_mapped_to_sdr(sources: Sources, small_profile: Profile, settings: EngineSettings,
                                   tmp_path: Path) -> None:
    scored = EngineSettings(encoder="cpu", quality_policy="flag", vmaf_subsample=10)
    manifest = transcode(sources.hdr, tmp_path / "hdr", profile=small_profile, settings=scored)
    assert manifest["source"]["hdr"] and manifest["source"]["color_transfer"] == "smpte2084"
    assert "source is HDR" in manifest["renditions"][0]["vmaf"]["warnings"][0]
    with av.open(str(tmp_path / "hdr" / manifest["renditions"][0]["path"])) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert frame.color_trc == 1  # BT.709


def test_variable_frame_rate_becomes_constant(sources: Sources, small_profile: Profile, settings: EngineSettings,
                                              tmp_path: Path) -> None:
    manifest = transcode(sources.vfr, tmp_path / "vfr", profile=small_profile, settings=settings)
    assert manifest["renditions"][0]["frame_rate"] == "30/1"  # the nominal rate, not the 20.1 fps average
    _, _, count, keyframes = decode(tmp_path / "vfr", manifest["renditions"][0]["path"])
    duration = manifest["source"]["duration"]
    rate = Fraction(manifest["renditions"][0]["frame_rate"])
    assert abs(count - duration * float(rate)) <= 2
    assert keyframes[:3] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("limit", "value", "words"),
    [
        ("max_pixels", 320 * 240 - 1, "WORKER_MAX_PIXELS"),
        ("max_duration_s", 2.0, "WORKER_MAX_DURATION_S"),
        ("max_file_bytes", 1000, "WORKER_MAX_FILE_BYTES"),
    ],
)
def test_limits_reject_before_any_encode(sources: Sources, small_profile: Profile, tmp_path: Path, limit: str,
                                         value: float, words: str) -> None:
    settings = EngineSettings(encoder="cpu", quality_policy="off", **{limit: value})
    with pytest.raises(SourceRejected, match=words):
        transcode(sources.av, tmp_path / "x", profile=small_profile, settings=settings)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("limit", "value", "words"), [
    ("max_duration_s", 2.0, r"\(container header\), over the limit of 2s"),
    ("max_file_bytes", 1000, "bytes, over the limit of 1000"),
])
def test_size_and_declared_duration_are_refused_before_the_file_is_demuxed(
        sources: Sources, small_profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str,
        value: float, words: str) -> None:
    """The probe reads the whole file (every packet) and decodes a frame: an hours-long or huge upload was read in
    full before the limit that refuses it was looked at."""
    import quality

    def demux_everything(*args: object, **kwargs: object) -> None:
        raise AssertionError("the whole file was demuxed before the limits were checked")

    monkeypatch.setattr(quality, "probe_video", demux_everything)
    settings = EngineSettings(encoder="cpu", quality_policy="off", **{limit: value})
    with pytest.raises(SourceRejected, match=words):
        transcode(sources.av, tmp_path / "x", profile=small_profile, settings=settings)


@pytest.mark.parametrize(("content", "words"), [(b"", "empty"), (b"hello", "not a media file")])
def test_bad_files_fail_with_the_cause(small_profile: Profile, settings: EngineSettings, tmp_path: Path,
                                       content: bytes, words: str) -> None:
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    with pytest.raises(InvalidSource, match=words):
        transcode(path, tmp_path / "out", profile=small_profile, settings=settings)
    assert not (tmp_path / "out").exists()


def test_truncated_and_audio_only_sources(sources: Sources, small_profile: Profile, settings: EngineSettings,
                                          tmp_path: Path, ffmpeg: str) -> None:
    data = sources.av.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidSource, match="damaged or truncated"):
        transcode(cut, tmp_path / "o1", profile=small_profile, settings=settings)
    from .conftest import ff

    audio = tmp_path / "audio.m4a"
    ff(ffmpeg, "-i", str(sources.av), "-vn", "-c:a", "copy", str(audio))
    with pytest.raises(InvalidSource, match="no video stream"):
        transcode(audio, tmp_path / "o2", profile=small_profile, settings=settings)


@pytest.mark.parametrize(("codec", "tag"), [("hevc", "hvc1."), ("av1", "av01.")])
def test_hevc_and_av1_ladders_play_back(sources: Sources, settings: EngineSettings, tmp_path: Path, codec: str,
                                        tag: str) -> None:
    profile = Profile(name=codec, codec=codec, rungs=(Rung(height=240, bitrate_k=300), Rung(height=120, bitrate_k=100)),
                      gop_seconds=1, segment_seconds=2, cpu_preset="ultrafast")
    out = tmp_path / codec
    manifest = transcode(sources.silent, out, profile=profile, settings=settings)
    assert manifest["encoder"] == {"hevc": "libx265", "av1": "libsvtav1"}[codec]
    variants = parse_master((out / "master.m3u8").read_text())
    assert all(v["CODECS"].startswith(tag) for v in variants), variants
    keyframes = []
    for rendition in manifest["renditions"]:
        width, height, frames, keys = decode(out, rendition["path"])
        assert (width, height, frames) == (rendition["width"], rendition["height"], 90)
        keyframes.append(keys)
    assert keyframes[0] == keyframes[1] and keyframes[0][:3] == [0.0, 1.0, 2.0]


def test_an_image_is_refused_as_an_image(sources: Sources, small_profile: Profile, settings: EngineSettings,
                                         tmp_path: Path) -> None:
    """It used to become a one-frame ladder; renamed .mp4 it is still a PNG."""
    renamed = tmp_path / "holiday.mp4"
    renamed.write_bytes(sources.still.read_bytes())
    for path in (sources.still, renamed):
        with pytest.raises(InvalidSource, match=r"is an image \(PNG\), not a video"):
            transcode(path, tmp_path / "out", profile=small_profile, settings=settings)
    assert not (tmp_path / "out").exists()


def test_a_playlist_cannot_make_the_engine_read_other_files(sources: Sources, small_profile: Profile,
                                                             settings: EngineSettings, tmp_path: Path) -> None:
    """An HLS playlist saved as source.m3u8 made PyAV and ffmpeg open any local file it named (here a video, so
    the job even "succeeded" with someone else's content)."""
    elsewhere = tmp_path / "private" / "other.ts"
    elsewhere.parent.mkdir()
    from quality.runner import run_ffmpeg_capture

    run_ffmpeg_capture([settings.ffmpeg_binary or __import__("quality").resolve_ffmpeg(None), "-v", "error", "-i",
                        str(sources.av), "-c", "copy", "-f", "mpegts", str(elsewhere)], timeout=60)
    playlist = tmp_path / "source.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.0,\nfile://{elsewhere}\n#EXT-X-ENDLIST\n")
    with pytest.raises(InvalidSource, match="an HLS playlist"):
        transcode(playlist, tmp_path / "out", profile=small_profile, settings=settings)
    assert not (tmp_path / "out").exists()
