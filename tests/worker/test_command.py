from dataclasses import replace
from fractions import Fraction

import pytest

from quality import RunResult
from worker.capabilities import EncoderChoice
from worker.command import build_ladder_cmd, plan_encode, poster_frame
from worker.engine import classify_failure
from worker.errors import EncodeCrashed, EncodeInterrupted, EncodeRejected, EncodeStalled, EncodeTimeout
from worker.ladder import Profile, Rung, RungPlan, plan_ladder
from worker.media import AudioInfo, SourceInfo
from worker.package import RenditionFiles, master_playlist

SOURCE = SourceInfo(
    path="in.mp4", size_bytes=1000, container="mov,mp4", codec="h264", duration=10.0, coded_width=1280,
    coded_height=720, width=1280, height=720, rotation=0, frame_rate=Fraction(30), nominal_frame_rate=Fraction(30),
    variable_frame_rate=False,
    frame_count=300, pix_fmt="yuv420p", bit_depth=8, color_transfer="bt709", hdr=False, interlaced=False,
    field_order="progressive", audio=(AudioInfo(1, "aac", 2, 48000, None),),
)
PROFILE = Profile(rungs=(Rung(height=720, bitrate_k=3000), Rung(height=360, bitrate_k=800)), gop_seconds=2,
                  segment_seconds=4)
CPU = EncoderChoice("cpu", "libx264", fallback_reason="no-gpu")
NVENC = EncoderChoice("nvenc", "h264_nvenc", gpu_index=1, gpu_name="NVIDIA L4")


def build(source: SourceInfo = SOURCE, choice: EncoderChoice = CPU, profile: Profile = PROFILE) -> list[str]:
    rungs = plan_ladder(source.width, source.height, profile)
    return build_ladder_cmd("ffmpeg", source, rungs, profile, choice, plan_encode(source, profile, choice), "/o")


def arg(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_golden_cpu_ladder() -> None:
    assert build() == [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y",
        "-protocol_whitelist", "file", "-i", "in.mp4",
        "-filter_complex",
        "[0:v]fps=fps=30/1:start_time=0,split=3[s0][s1][s2];"
        "[s0]scale=1280:720:flags=bicubic,setsar=r=1/1:max=1000000,format=yuv420p[v0];"
        "[s1]scale=640:360:flags=bicubic,setsar=r=1/1:max=1000000,format=yuv420p[v1];"
        "[s2]select=eq(n\\,30),scale=1280:720:flags=bicubic,setsar=1,format=yuvj420p[poster]",
        "-map", "[v0]", "-map", "[v1]", "-map", "0:a:0",
        "-c:v:0", "libx264", "-b:v:0", "3000k", "-maxrate:v:0", "3300k", "-bufsize:v:0", "6000k",
        "-preset:v:0", "veryfast", "-profile:v:0", "high", "-x264-params:v:0", "scenecut=0:open_gop=0",
        "-c:v:1", "libx264", "-b:v:1", "800k", "-maxrate:v:1", "880k", "-bufsize:v:1", "1600k",
        "-preset:v:1", "veryfast", "-profile:v:1", "high", "-x264-params:v:1", "scenecut=0:open_gop=0",
        "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)",
        "-fps_mode", "cfr", "-r", "30/1",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000",
        "-map_metadata", "-1", "-map_chapters", "-1",
        "-f", "dash", "-seg_duration", "4", "-use_template", "1", "-use_timeline", "1", "-hls_playlist", "1",
        "-hls_master_name", "master.m3u8", "-adaptation_sets", "id=0,streams=v id=1,streams=a",
        "-init_seg_name", "init_$RepresentationID$.m4s", "-media_seg_name", "seg_$RepresentationID$_$Number%05d$.m4s",
        "/o/manifest.mpd",
        "-map", "[poster]", "-frames:v", "1", "-update", "1", "-q:v", "3", "/o/poster.jpg",
    ]


def test_gpu_path_keeps_frames_on_the_gpu() -> None:
    source = replace(SOURCE, rotation=90, width=720, height=1280, interlaced=True)
    cmd = build(source, NVENC)
    assert cmd[cmd.index("-i") - 10: cmd.index("-i")] == [
        "-hwaccel", "cuda", "-hwaccel_device", "1", "-hwaccel_output_format", "cuda", "-display_rotation:v:0", "0",
        "-protocol_whitelist", "file"]
    assert "-autorotate" not in cmd  # a flag without a value: "-autorotate 0" made "0" an output file
    graph = arg(cmd, "-filter_complex")
    assert graph.startswith("[0:v]bwdif_cuda=mode=send_frame:deint=interlaced,transpose_cuda=dir=cclock,"
                            "fps=fps=30/1:start_time=0,split=3")
    assert "scale_cuda=w=720:h=1280:interp_algo=bicubic:format=yuv420p" in graph
    assert "scale=" not in graph.replace("scale_cuda", "")
    assert "hwdownload" in graph  # only the poster leaves the GPU
    assert arg(cmd, "-c:v:0") == "h264_nvenc" and arg(cmd, "-preset:v:0") == "p4"
    assert arg(cmd, "-no-scenecut:v:1") == "1" and arg(cmd, "-forced-idr:v:1") == "1"


def test_hdr_source_on_gpu_uses_the_hybrid_path_and_tone_maps() -> None:
    source = replace(SOURCE, hdr=True, bit_depth=10, pix_fmt="yuv420p10le", color_transfer="smpte2084")
    plan = plan_encode(source, PROFILE, NVENC)
    assert plan.path == "gpu-hybrid"
    cmd = build(source, NVENC)
    assert "-hwaccel_output_format" not in cmd
    graph = arg(cmd, "-filter_complex")
    assert "tonemap=tonemap=hable" in graph and "format=yuv420p" in graph


def test_vfr_and_fast_sources_get_a_constant_capped_rate() -> None:
    fast = replace(SOURCE, frame_rate=Fraction(120), frame_count=1200)
    graph = arg(build(fast, profile=PROFILE.model_copy(update={"max_fps": 60})), "-filter_complex")
    assert graph.startswith("[0:v]fps=fps=60/1:start_time=0,split=3")
    vfr = replace(SOURCE, variable_frame_rate=True, frame_rate=Fraction(1350, 67), nominal_frame_rate=Fraction(30))
    assert arg(build(vfr), "-filter_complex").startswith("[0:v]fps=fps=30/1:start_time=0,split")
    odd_vfr = replace(vfr, nominal_frame_rate=Fraction(90000))  # a useless base rate: snap the average instead
    assert arg(build(odd_vfr), "-filter_complex").startswith("[0:v]fps=fps=24000/1001:start_time=0,split")


def test_hevc_and_av1_cpu_encoders_disable_scene_cuts() -> None:
    hevc = build(choice=EncoderChoice("cpu", "libx265"), profile=PROFILE.model_copy(update={"codec": "hevc"}))
    assert arg(hevc, "-x265-params:v:0") == "keyint=60:min-keyint=60:scenecut=0:open-gop=0:log-level=error"
    assert arg(hevc, "-tag:v:0") == "hvc1"
    av1 = build(choice=EncoderChoice("cpu", "libsvtav1"), profile=PROFILE.model_copy(update={"codec": "av1"}))
    assert arg(av1, "-svtav1-params:v:1") == "keyint=60:scd=0" and arg(av1, "-preset:v:1") == "10"
    assert "-maxrate:v:1" not in av1 and arg(av1, "-b:v:1") == "800k"


def test_no_audio_no_audio_group() -> None:
    cmd = build(replace(SOURCE, audio=()))
    assert "0:a:0" not in cmd and arg(cmd, "-adaptation_sets") == "id=0,streams=v"


def test_uneven_rungs_keep_the_display_aspect_ratio() -> None:
    graph = arg(build(profile=Profile(rungs=(Rung(height=240, bitrate_k=400),))), "-filter_complex")
    assert "scale=426:240:flags=bicubic,setsar=r=640/639:max=1000000" in graph  # 426*640 / (240*639) = 16/9


def test_poster_frame() -> None:
    assert poster_frame(SOURCE) == 30
    assert poster_frame(replace(SOURCE, frame_count=1)) == 0


def test_master_playlist_lists_every_rendition() -> None:
    rung = RungPlan("720p", 1280, 720, 3000, 3300, 6000, "veryfast", "p4", None)
    video = RenditionFiles(0, "media_0.m3u8", "init_0.m4s", ("seg_0_00001.m4s",), 10, 2_900_000, 3_100_000)
    audio = RenditionFiles(1, "media_1.m3u8", "init_1.m4s", ("seg_1_00001.m4s",), 10, 128_000, 130_000)
    text = master_playlist([(rung, video, "avc1.64001f")], Fraction(30000, 1001), (audio, "mp4a.40.2"))
    assert text.splitlines() == [
        "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
        'URI="media_1.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=3230000,AVERAGE-BANDWIDTH=3028000,RESOLUTION=1280x720,'
        'CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=29.970,AUDIO="aac"',
        "media_0.m3u8",
    ]


def result(outcome: str, returncode: int = 1, tail: str = "") -> RunResult:
    return RunResult(returncode, "", tail, 1.0, outcome)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("run", "error", "permanent"),
    [
        (result("stalled", -9), EncodeStalled, False),
        (result("timeout", -9), EncodeTimeout, False),
        (result("stopped", -15), EncodeInterrupted, False),
        (result("failed", -11), EncodeCrashed, False),
        (result("failed", 1, "[h264_nvenc @ 0x1] OpenEncodeSessionEx failed: out of memory (10)"), EncodeCrashed,
         False),
        (result("failed", 1, "[in#0 @ 0x1] Error opening input: Invalid data found when processing input"),
         EncodeRejected, True),
        (result("failed", 1, "something nobody has seen before"), EncodeCrashed, False),
    ],
)
def test_failures_are_classified_where_they_arise(run: RunResult, error: type, permanent: bool) -> None:
    err = classify_failure(run, stall_timeout=30, timeout=600)
    assert type(err) is error and err.permanent is permanent
