from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from quality.alignment import plan_alignment
from quality.command import build_thumbnail_cmd, build_vmaf_cmd, escape_filter_value, libvmaf_args
from quality.options import MeasureOptions, model_spec, select_model
from quality.probe import VideoInfo

REF = VideoInfo(path="ref.mp4", container="mov,mp4", codec="h264", width=1280, height=720, pix_fmt="yuv420p",
                frame_rate=Fraction(30), time_base=Fraction(1, 15360), declared_frames=60, frame_count=60,
                duration=2.0, rotation=0)


def test_escape_filter_value_protects_colons_and_quotes() -> None:
    assert escape_filter_value("version=vmaf_v0.6.1:name=vmaf") == r"'version=vmaf_v0.6.1\:name=vmaf'"
    assert escape_filter_value("/tmp/it's/log.json") == "'/tmp/it'\\''s/log.json'"


def graph_of(cmd: list[str]) -> str:
    return cmd[cmd.index("-filter_complex") + 1]


def test_untrusted_inputs_are_opened_from_local_files_by_allowed_demuxers_only() -> None:
    dist = replace(REF, path="dist.mp4")
    opts = MeasureOptions(n_threads=4, input_formats="mov,matroska")
    cmd = build_vmaf_cmd("ffmpeg", dist, REF, plan_alignment(dist, REF, opts), opts, "version=vmaf_v0.6.1", "v.json")
    for path in ("dist.mp4", "ref.mp4"):
        i = cmd.index(path)
        assert cmd[i - 5: i] == ["-protocol_whitelist", "file", "-format_whitelist", "mov,matroska", "-i"]


def test_golden_argv_for_an_aligned_pair() -> None:
    dist = replace(REF, path="dist.mp4")
    opts = MeasureOptions(n_threads=4)
    cmd = build_vmaf_cmd("ffmpeg", dist, REF, plan_alignment(dist, REF, opts), opts, "version=vmaf_v0.6.1",
                         Path("/tmp/v.json"))
    assert cmd == [
        "ffmpeg", "-nostdin", "-nostats", "-progress", "pipe:1",
        "-protocol_whitelist", "file", "-i", "dist.mp4", "-protocol_whitelist", "file", "-i", "ref.mp4",
        "-filter_complex",
        "[0:v]settb=1,setpts=N[dist];[1:v]settb=1,setpts=N[ref];"
        r"[dist][ref]libvmaf=model='version=vmaf_v0.6.1\:name=vmaf':n_threads=4:"
        "feature='name=psnr|name=float_ssim':log_fmt=json:log_path='/tmp/v.json':shortest=1",
        "-an", "-sn", "-dn", "-f", "null", "-",
    ]


def test_scaling_offset_and_truncation_in_the_graph() -> None:
    dist = replace(REF, path="dist.mp4", width=640, height=360, frame_count=70)
    opts = MeasureOptions(offset=5, subsample=3, metrics=("vmaf",), n_threads=2, scaler="lanczos",
                          on_frame_count_mismatch="truncate")
    plan = plan_alignment(dist, REF, opts)
    graph = graph_of(build_vmaf_cmd("ffmpeg", dist, REF, plan, opts, "version=vmaf_v0.6.1", "v.json"))
    dist_chain, ref_chain, vmaf = graph.split(";")
    assert dist_chain == "[0:v]trim=start_frame=5:end_frame=65,scale=1280:720:flags=lanczos,settb=1,setpts=N[dist]"
    assert ref_chain == "[1:v]settb=1,setpts=N[ref]"
    assert "n_subsample=3" in vmaf and "feature=" not in vmaf


def test_resampling_comes_before_trimming() -> None:
    dist = replace(REF, path="dist.mp4", frame_rate=Fraction(25), frame_count=50)
    opts = MeasureOptions(on_frame_rate_mismatch="resample")
    plan = plan_alignment(dist, REF, opts)
    graph = graph_of(build_vmaf_cmd("ffmpeg", dist, REF, plan, opts, "version=vmaf_v0.6.1", "v.json"))
    assert graph.startswith("[0:v]setpts=PTS-STARTPTS,fps=fps=30/1,trim=start_frame=0:end_frame=60,settb=1")


def test_libvmaf_args_with_a_model_file(tmp_path: Path) -> None:
    model = tmp_path / "my model.json"
    model.write_text("{}")
    args = libvmaf_args(MeasureOptions(n_threads=1), model_spec(str(model)), "l.json")
    assert args.startswith(f"model='path={model}\\:name=vmaf'")


@pytest.mark.parametrize(
    ("choice", "spec"),
    [
        ("vmaf_v0.6.1", "version=vmaf_v0.6.1"),
        ("vmaf_v0.6.1neg", "version=vmaf_v0.6.1neg"),
        ("neg", "version=vmaf_v0.6.1neg"),
        ("phone", "version=vmaf_v0.6.1:enable_transform=true"),
        ("4k", "version=vmaf_4k_v0.6.1"),
        ("version=vmaf_b_v0.6.3", "version=vmaf_b_v0.6.3"),
    ],
)
def test_model_spec(choice: str, spec: str) -> None:
    assert model_spec(choice) == spec


def test_missing_model_file_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="nope.json"):
        model_spec("/nowhere/nope.json")


def test_automatic_model_by_reference_height() -> None:
    assert select_model(None, 1080) == "vmaf_v0.6.1"
    assert select_model(None, 2160) == "vmaf_4k_v0.6.1"
    assert select_model("neg", 2160) == "neg"


def test_thumbnail_cmd() -> None:
    assert build_thumbnail_cmd("ffmpeg", "a.mp4", 40, width=64, height=36, resample_to="30/1") == [
        "ffmpeg", "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-i", "a.mp4", "-map", "0:v:0",
        "-vf", "setpts=PTS-STARTPTS,fps=fps=30/1,scale=64:36:flags=area,format=gray",
        "-frames:v", "40", "-f", "rawvideo", "-",
    ]
