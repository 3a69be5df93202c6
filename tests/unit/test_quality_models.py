"""Several models in one pass, the bootstrap interval, and headerless inputs: argv building and log parsing."""

import json
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from quality.alignment import plan_alignment
from quality.command import build_thumbnail_cmd, build_vmaf_cmd, input_args, libvmaf_args, model_list
from quality.errors import InvalidInput, PartialRawFrame, RawFormatRequired
from quality.options import BOOTSTRAP_MODEL, MeasureOptions, bootstrap_model_paths, model_key, model_keys
from quality.probe import VideoInfo, probe_video
from quality.raw import RawFormat, RawVideoPath, frame_bytes
from quality.report import QualityReport
from quality.results import bootstrap_scores, parse_vmaf_log

REF = VideoInfo(path="ref.mp4", container="mov,mp4", codec="h264", width=320, height=240, pix_fmt="yuv420p",
                frame_rate=Fraction(25), time_base=Fraction(1, 12800), declared_frames=50, frame_count=50,
                duration=2.0, rotation=0)


@pytest.mark.parametrize(("model", "key"), [
    ("neg", "vmaf_neg"),
    ("phone", "vmaf_phone"),
    ("4k", "vmaf_4k"),
    ("vmaf_v0.6.1neg", "vmaf_v0.6.1neg"),
    ("vmaf_4k_v0.6.1", "vmaf_4k_v0.6.1"),
    ("/models/my model.json", "vmaf_my_model"),
    ("version=vmaf_float_v0.6.1:disable_clip=true", "vmaf_float_v0.6.1"),
    ("path=/m/custom.json:enable_transform=true", "vmaf_custom"),
])
def test_model_key_names_an_extra_model_by_alias_or_version(model: str, key: str) -> None:
    assert model_key(model) == key


def test_model_keys_are_unique_in_order() -> None:
    assert model_keys(("neg", "vmaf_v0.6.1neg", "neg")) == ("vmaf_neg", "vmaf_v0.6.1neg", "vmaf_neg_2")


def test_options_refuse_a_piped_model_string_and_empty_names() -> None:
    with pytest.raises(ValueError, match="its own --model"):
        MeasureOptions(model="version=vmaf_v0.6.1|version=vmaf_v0.6.1neg")
    with pytest.raises(ValueError, match="its own --model"):
        MeasureOptions(extra_models=("neg|phone",))
    with pytest.raises(ValueError, match="empty"):
        MeasureOptions(extra_models=(" ",))


def test_one_model_keeps_the_single_model_string() -> None:
    opts = MeasureOptions(n_threads=2)
    assert libvmaf_args(opts, "version=vmaf_v0.6.1", "v.json").startswith(
        r"model='version=vmaf_v0.6.1\:name=vmaf':n_threads=2:")


def test_extra_models_follow_the_main_model_separated_by_pipes() -> None:
    opts = MeasureOptions(n_threads=2, extra_models=("neg", "4k"))
    assert model_list(opts, "version=vmaf_v0.6.1") == (
        "version=vmaf_v0.6.1:name=vmaf|version=vmaf_v0.6.1neg:name=vmaf_neg|version=vmaf_4k_v0.6.1:name=vmaf_4k")
    assert libvmaf_args(opts, "version=vmaf_v0.6.1", "v.json").startswith(
        r"model='version=vmaf_v0.6.1\:name=vmaf|version=vmaf_v0.6.1neg\:name=vmaf_neg|"
        r"version=vmaf_4k_v0.6.1\:name=vmaf_4k':n_threads=2:")


def test_confidence_interval_adds_every_bootstrap_member_unclipped() -> None:
    paths = bootstrap_model_paths()
    assert len(paths) == 21 and paths[0].name == "00.json" and paths[-1].name == "20.json"
    for path in (paths[0], paths[-1]):
        model = json.loads(path.read_text())
        assert model["model_dict"]["model_type"] == "BOOTSTRAP_LIBSVMNUSVR"
        assert model["model_dict"]["score_clip"] == [0.0, 100.0]
    models = model_list(MeasureOptions(confidence_interval=True), "version=vmaf_v0.6.1").split("|")
    assert models[0] == "version=vmaf_v0.6.1:name=vmaf"
    assert models[1] == f"path={paths[0]}:name={BOOTSTRAP_MODEL}_bootstrap_00:disable_clip=true"
    assert models[21] == f"path={paths[20]}:name={BOOTSTRAP_MODEL}_bootstrap_20:disable_clip=true"
    assert len(models) == 22


def test_bootstrap_scores_follow_libvmaf() -> None:
    # 21 members 90..110: mean 100, population std sqrt(36.67), percentiles 2.5/97.5 at ranks 0.5 and 19.5
    scores = [90.0 + i for i in range(21)]
    out = bootstrap_scores("c", scores)
    assert out["c_bagging"] == 100.0  # the mean, clipped to 100
    assert out["c_ci_p95_lo"] == pytest.approx(90.5)
    assert out["c_ci_p95_hi"] == 100.0  # 109.5 clipped
    assert out["c_stddev"] == pytest.approx(math.sqrt(sum((s - 100) ** 2 for s in scores) / 21) * 0.5)
    inside = bootstrap_scores("c", [70.0 + i for i in range(21)])
    assert inside["c_bagging"] == pytest.approx(80.0)
    assert inside["c_ci_p95_hi"] == pytest.approx(89.5)
    assert inside["c_stddev"] == pytest.approx(math.sqrt(sum((i - 10) ** 2 for i in range(21)) / 21))


def _log(frames: list[dict[str, float]]) -> str:
    return json.dumps({"version": "3.0.0", "frames": [{"frameNum": i, "metrics": m} for i, m in enumerate(frames)],
                       "pooled_metrics": {"vmaf": {"mean": 80.5}, "vmaf_neg": {"mean": 70.25}}})


def test_parse_reports_extra_models_and_folds_bootstrap_members() -> None:
    members = {f"{BOOTSTRAP_MODEL}_bootstrap_{i:02d}": 70.0 + i for i in range(21)}
    text = _log([
        {"integer_adm2": 0.9, "VMAF_integer_feature_motion_sad_score": 0.0, "vmaf": 80.0, "vmaf_neg": 70.0,
         **members},
        {"integer_adm2": 0.9, "VMAF_integer_feature_motion_sad_score": 0.0, "vmaf": 81.0, "vmaf_neg": 70.5,
         **{k: v + 2 for k, v in members.items()}},
    ])
    parsed = parse_vmaf_log(text, frame_base=10)
    row = parsed["frames"][0]
    assert set(row) == {"frame", "vmaf", "vmaf_neg", f"{BOOTSTRAP_MODEL}_bagging", f"{BOOTSTRAP_MODEL}_stddev",
                        f"{BOOTSTRAP_MODEL}_ci_p95_lo", f"{BOOTSTRAP_MODEL}_ci_p95_hi"}
    assert row["frame"] == 10 and row["vmaf_neg"] == 70.0
    assert row[f"{BOOTSTRAP_MODEL}_bagging"] == pytest.approx(80.0)
    pooled = parsed["pooled"]
    assert pooled["vmaf"]["mean"] == 80.5 and pooled["vmaf_neg"]["mean"] == 70.25  # libvmaf's own pooled figures
    assert pooled["vmaf_neg"]["min"] == 70.0 and pooled["vmaf_neg"]["count"] == 2
    assert pooled[f"{BOOTSTRAP_MODEL}_bagging"]["mean"] == pytest.approx(81.0)
    assert pooled[f"{BOOTSTRAP_MODEL}_ci_p95_lo"]["mean"] == pytest.approx(71.5)
    assert pooled[f"{BOOTSTRAP_MODEL}_ci_p95_hi"]["mean"] == pytest.approx(90.5)
    assert list(pooled)[:2] == ["vmaf", "vmaf_neg"]


def test_report_renders_extra_models_and_the_interval() -> None:
    members = {f"{BOOTSTRAP_MODEL}_bootstrap_{i:02d}": 70.0 + i for i in range(21)}
    parsed = parse_vmaf_log(_log([{"vmaf": 80.0, "vmaf_neg": 70.0, **members}]))
    report = QualityReport(
        distorted={"path": "d.mp4", "width": 320, "height": 240}, reference={"path": "r.mp4", "width": 320,
                                                                             "height": 240},
        settings={"model": "vmaf_v0.6.1", "subsample": 1}, versions={},
        alignment={"status": "aligned", "frames_compared": 1, "warnings": []},
        pooled=parsed["pooled"], frames=parsed["frames"])
    assert report.confidence_intervals() == {BOOTSTRAP_MODEL: pytest.approx((80.0, 70.5, 89.5))}
    header, row = report.to_csv().splitlines()
    assert header.split(",") == ["frame", "vmaf", "vmaf_neg", *(f"{BOOTSTRAP_MODEL}_{s}" for s in (
        "bagging", "stddev", "ci_p95_lo", "ci_p95_hi"))]
    assert row.split(",")[2] == "70.0"
    summary = report.summary()
    assert "\nvmaf_neg " in summary
    assert f"{BOOTSTRAP_MODEL}: 80.000, 95% interval 70.500 to 89.500 (bootstrap)" in summary


@pytest.mark.parametrize(("pix_fmt", "size"), [
    ("yuv420p", 320 * 240 * 3 // 2),
    ("yuv422p10le", 320 * 240 * 2 * 2),
    ("yuv444p", 320 * 240 * 3),
    ("nv12", 320 * 240 * 3 // 2),
    ("gray", 320 * 240),
])
def test_raw_frame_size(pix_fmt: str, size: int) -> None:
    assert frame_bytes(320, 240, pix_fmt) == size


def test_raw_frame_size_rounds_odd_chroma_up() -> None:
    assert frame_bytes(321, 241, "yuv420p") == 321 * 241 + 2 * 161 * 121


@pytest.mark.parametrize("pix_fmt", ["rgb24", "yuyv422", "bogus"])
def test_raw_format_refuses_packed_rgb_and_unknown_pixel_formats(pix_fmt: str) -> None:
    with pytest.raises(ValueError, match="packed or RGB|unknown pixel format"):
        RawFormat(320, 240, pix_fmt)


def test_raw_input_args_keep_the_whitelist_and_allow_only_rawvideo() -> None:
    raw = RawFormat(320, 240, "yuv420p10le", Fraction(30000, 1001))
    assert input_args("mov,matroska", raw) == [
        "-protocol_whitelist", "file", "-format_whitelist", "rawvideo",
        "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-video_size", "320x240", "-framerate", "30000/1001"]
    assert input_args(None, RawFormat(16, 8, "gray")) == [
        "-protocol_whitelist", "file", "-format_whitelist", "rawvideo",
        "-f", "rawvideo", "-pix_fmt", "gray", "-video_size", "16x8"]
    assert input_args("mov") == ["-protocol_whitelist", "file", "-format_whitelist", "mov"]  # unchanged


def test_vmaf_and_thumbnail_commands_open_a_raw_input_with_its_format() -> None:
    raw = RawFormat(320, 240, "yuv420p", Fraction(25))
    dist = replace(REF, path="dist.yuv", container="rawvideo", codec="rawvideo", raw=raw)
    opts = MeasureOptions(n_threads=1, input_formats="mov")
    cmd = build_vmaf_cmd("ffmpeg", dist, REF, plan_alignment(dist, REF, opts), opts, "version=vmaf_v0.6.1", "v.json")
    i = cmd.index("dist.yuv")
    assert cmd[i - 13: i] == ["-protocol_whitelist", "file", "-format_whitelist", "rawvideo", "-f", "rawvideo",
                              "-pix_fmt", "yuv420p", "-video_size", "320x240", "-framerate", "25/1", "-i"]
    j = cmd.index("ref.mp4")
    assert cmd[j - 5: j] == ["-protocol_whitelist", "file", "-format_whitelist", "mov", "-i"]
    thumb = build_thumbnail_cmd("ffmpeg", "dist.yuv", 8, width=64, height=36, raw=raw)
    assert thumb[4:18] == ["-protocol_whitelist", "file", "-format_whitelist", "rawvideo", "-f", "rawvideo",
                           "-pix_fmt", "yuv420p", "-video_size", "320x240", "-framerate", "25/1", "-i", "dist.yuv"]


def test_probe_counts_raw_frames_from_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(frame_bytes(16, 8, "yuv420p") * 7))
    info = probe_video(RawVideoPath(path, RawFormat(16, 8, "yuv420p", Fraction(25))))
    assert (info.frame_count, info.declared_frames, info.width, info.height) == (7, 7, 16, 8)
    assert info.frame_rate == 25 and info.duration == pytest.approx(0.28) and info.container == "rawvideo"
    assert info.to_dict()["raw"] == {"width": 16, "height": 8, "pix_fmt": "yuv420p", "frame_rate": "25/1",
                                     "frame_size": 192}
    unknown_rate = probe_video(path, raw=RawFormat(16, 8, "yuv420p"))
    assert unknown_rate.frame_rate == 0 and unknown_rate.duration is None


def test_probe_refuses_partial_raw_frames_and_a_yuv_without_format(tmp_path: Path) -> None:
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(192 * 3 + 100))
    with pytest.raises(PartialRawFrame, match="not a whole number of 16x8 yuv420p frames") as caught:
        probe_video(RawVideoPath(path, RawFormat(16, 8, "yuv420p")))
    assert (caught.value.size, caught.value.frame_size) == (676, 192)
    assert isinstance(caught.value, InvalidInput) and caught.value.exit_code == 4
    with pytest.raises(RawFormatRequired, match="--width, --height, --pix-fmt") as missing:
        probe_video(path)
    assert missing.value.missing == ("width", "height", "pix_fmt")
