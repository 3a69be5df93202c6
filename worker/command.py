"""Pure builders of the engine's ffmpeg command: one process decodes the source once and feeds every rung.

Video paths:

- ``cpu``: software decode, ``split``, ``scale`` per rung, libx264 / libx265 / libsvtav1.
- ``gpu``: ``-hwaccel cuda -hwaccel_output_format cuda``; frames stay on the GPU: ``bwdif_cuda`` for interlaced
  sources, ``transpose_cuda`` for rotated ones, ``split``, ``scale_cuda`` per rung, ``*_nvenc``.
- ``gpu-hybrid``: CUDA decode, CPU filters, NVENC from system memory, for what has no CUDA filter here (HDR tone
  mapping, 180-degree rotation).

Packaging: ffmpeg's DASH muxer writes CMAF (fMP4) segments once, with both the MPD and HLS media playlists over
them; the master playlist is rewritten afterwards from measured figures (``worker.package``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from worker.capabilities import EncoderChoice
from worker.ladder import Profile, RungPlan, output_frame_rate
from worker.media import SourceInfo

__all__ = ["EncodePlan", "VideoPath", "build_ladder_cmd", "plan_encode", "poster_frame"]

VideoPath = Literal["cpu", "gpu", "gpu-hybrid"]

MPD_NAME = "manifest.mpd"
HLS_MASTER_NAME = "master.m3u8"
POSTER_NAME = "poster.jpg"
INIT_PATTERN = "init_$RepresentationID$.m4s"
SEGMENT_PATTERN = "seg_$RepresentationID$_$Number%05d$.m4s"

# libsvtav1 takes numeric presets; map the x264 names onto them
_SVT_PRESETS = {"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8, "medium": 6, "slow": 4,
                "slower": 2, "veryslow": 1}
# HDR (PQ/HLG) to SDR BT.709, 8-bit
_TONEMAP = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
            "zscale=t=bt709:m=bt709:r=tv")


@dataclass(frozen=True)
class EncodePlan:
    path: VideoPath
    frame_rate: Fraction
    gop_frames: int
    resample: bool
    """The frame rate filter is needed: the source is variable-rate or faster than the profile allows."""


def plan_encode(source: SourceInfo, profile: Profile, choice: EncoderChoice) -> EncodePlan:
    rate = output_frame_rate(source.frame_rate, profile.max_fps, variable=source.variable_frame_rate,
                             nominal=source.nominal_frame_rate)
    resample = source.variable_frame_rate or rate != source.frame_rate
    if choice.kind == "cpu":
        path: VideoPath = "cpu"
    elif source.hdr or source.rotation % 360 == 180:
        path = "gpu-hybrid"
    else:
        path = "gpu"
    gop = max(1, round(profile.gop_seconds * float(rate)))
    return EncodePlan(path, rate, gop, resample)


def poster_frame(source: SourceInfo) -> int:
    """The frame at 10% of the source (the first frame of very short sources)."""
    return min(max(source.frame_count - 1, 0), int(source.frame_count * 0.1))


def _rate(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def _pre_filters(source: SourceInfo, plan: EncodePlan) -> list[str]:
    filters: list[str] = []
    if plan.path == "gpu":
        if source.interlaced:
            filters.append("bwdif_cuda=mode=send_frame:deint=interlaced")
        rotation = source.rotation % 360
        if rotation == 90:
            filters.append("transpose_cuda=dir=cclock")
        elif rotation == 270:
            filters.append("transpose_cuda=dir=clock")
    else:
        if source.interlaced:
            filters.append("bwdif=mode=send_frame:deint=interlaced")
        if source.hdr:
            filters.append(_TONEMAP)
    if plan.resample:
        filters.append(f"fps=fps={_rate(plan.frame_rate)}")
    return filters


def _sar(source: SourceInfo, width: int, height: int) -> str:
    """The sample aspect ratio that gives the rung exactly the source's display aspect ratio.

    Even dimensions cannot always hold the aspect ratio (16:9 at 240 lines is 426.67 wide); a sample aspect ratio
    a hair off 1:1 keeps every rung's display aspect identical, which DASH requires within an adaptation set.
    """
    sar = Fraction(source.width, source.height) / Fraction(width, height)
    return f"{sar.numerator}/{sar.denominator}"


def _scale(plan: EncodePlan, source: SourceInfo, width: int, height: int) -> str:
    sar = _sar(source, width, height)
    if plan.path == "gpu":
        return f"scale_cuda=w={width}:h={height}:interp_algo=bicubic:format=yuv420p,setsar=r={sar}:max=1000000"
    return f"scale={width}:{height}:flags=bicubic,setsar=r={sar}:max=1000000,format=yuv420p"


def _filter_graph(source: SourceInfo, rungs: Sequence[RungPlan], plan: EncodePlan, poster: bool) -> str:
    branches = len(rungs) + (1 if poster else 0)
    pre = _pre_filters(source, plan)
    head = "[0:v]" + ",".join([*pre, f"split={branches}"]) + "".join(f"[s{i}]" for i in range(branches))
    parts = [head]
    for i, rung in enumerate(rungs):
        parts.append(f"[s{i}]{_scale(plan, source, rung.width, rung.height)}[v{i}]")
    if poster:
        top = rungs[0]
        select = f"select=eq(n\\,{poster_frame(source)})"
        if plan.path == "gpu":
            parts.append(f"[s{len(rungs)}]{select},{_scale(plan, source, top.width, top.height)},hwdownload,"
                         f"format=yuv420p,format=yuvj420p[poster]")
        else:
            parts.append(f"[s{len(rungs)}]{select},scale={top.width}:{top.height}:flags=bicubic,setsar=1,"
                         f"format=yuvj420p[poster]")
    return ";".join(parts)


def _video_codec_args(i: int, rung: RungPlan, profile: Profile, choice: EncoderChoice, plan: EncodePlan) -> list[str]:
    gop = plan.gop_frames
    rates = [f"-b:v:{i}", f"{rung.bitrate_k}k", f"-maxrate:v:{i}", f"{rung.maxrate_k}k",
             f"-bufsize:v:{i}", f"{rung.bufsize_k}k"]
    enc = choice.encoder
    if enc == "libsvtav1":
        rates = rates[:2]  # SVT-AV1 caps the peak rate only in CRF mode: VBR at the target average here
    args = [f"-c:v:{i}", enc, *rates]
    if choice.kind == "nvenc":
        args += [f"-preset:v:{i}", rung.preset or profile.nvenc_preset, f"-tune:v:{i}", "hq", f"-rc:v:{i}", "vbr",
                 f"-no-scenecut:v:{i}", "1", f"-forced-idr:v:{i}", "1", f"-strict_gop:v:{i}", "1"]
        if enc == "h264_nvenc":
            args += [f"-profile:v:{i}", "high"]
    elif enc == "libx264":
        args += [f"-preset:v:{i}", rung.preset or profile.cpu_preset, f"-profile:v:{i}", "high",
                 f"-x264-params:v:{i}", "scenecut=0:open_gop=0"]
    elif enc == "libx265":
        args += [f"-preset:v:{i}", rung.preset or profile.cpu_preset, f"-tag:v:{i}", "hvc1",
                 f"-x265-params:v:{i}", f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:log-level=error"]
    elif enc == "libsvtav1":
        preset = rung.preset or profile.cpu_preset
        args += [f"-preset:v:{i}", str(_SVT_PRESETS.get(preset, preset)),
                 f"-svtav1-params:v:{i}", f"keyint={gop}:scd=0"]
    return args


def build_ladder_cmd(ffmpeg: str, source: SourceInfo, rungs: Sequence[RungPlan], profile: Profile,
                     choice: EncoderChoice, plan: EncodePlan, out_dir: Path | str, *, poster: bool = True,
                     threads: int | None = None) -> list[str]:
    """The whole job in one ffmpeg command: every rung, the audio group, the poster, the packaging."""
    out = Path(out_dir)
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y"]
    if plan.path == "gpu":
        device = str(choice.gpu_index or 0)
        cmd += ["-hwaccel", "cuda", "-hwaccel_device", device, "-hwaccel_output_format", "cuda", "-autorotate", "0"]
    elif plan.path == "gpu-hybrid":
        cmd += ["-hwaccel", "cuda", "-hwaccel_device", str(choice.gpu_index or 0)]
    cmd += ["-i", source.path, "-filter_complex", _filter_graph(source, rungs, plan, poster)]
    for i, _ in enumerate(rungs):
        cmd += ["-map", f"[v{i}]"]
    if source.has_audio:
        cmd += ["-map", "0:a:0"]
    for i, rung in enumerate(rungs):
        cmd += _video_codec_args(i, rung, profile, choice, plan)
    gop_seconds = plan.gop_frames / float(plan.frame_rate)
    cmd += ["-g", str(plan.gop_frames), "-keyint_min", str(plan.gop_frames), "-sc_threshold", "0",
            "-force_key_frames", f"expr:gte(t,n_forced*{gop_seconds:.6g})", "-fps_mode", "cfr",
            "-r", _rate(plan.frame_rate)]
    if threads:
        cmd += ["-threads", str(threads)]
    if source.has_audio:
        cmd += ["-c:a", "aac", "-b:a", f"{profile.audio_bitrate_k}k", "-ac", "2", "-ar", "48000"]
    adaptation = "id=0,streams=v id=1,streams=a" if source.has_audio else "id=0,streams=v"
    cmd += ["-map_metadata", "-1", "-map_chapters", "-1",
            "-f", "dash", "-seg_duration", f"{profile.segment_seconds:g}", "-use_template", "1", "-use_timeline", "1",
            "-hls_playlist", "1", "-hls_master_name", HLS_MASTER_NAME, "-adaptation_sets", adaptation,
            "-init_seg_name", INIT_PATTERN, "-media_seg_name", SEGMENT_PATTERN, str(out / MPD_NAME)]
    if poster:
        cmd += ["-map", "[poster]", "-frames:v", "1", "-update", "1", "-q:v", "3", str(out / POSTER_NAME)]
    return cmd
