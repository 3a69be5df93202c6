"""Pure builders of the engine's ffmpeg command: one process decodes the source once and feeds every rung.

Video paths (``plan_encode`` picks one from the encoder choice, the GPU's NVDEC table and the source):

- ``cpu``: software decode, ``split``, ``scale`` per rung, libx264 / libx265 / libsvtav1.
- ``gpu``: NVDEC to CUDA frames (``-hwaccel cuda -hwaccel_output_format cuda``); ``bwdif_cuda`` for interlaced
  sources, ``transpose_cuda`` for rotated ones (the input's display rotation is cleared so ffmpeg does not turn the
  pixels a second time), ``split``, ``scale_cuda`` per rung, ``*_nvenc``.
- ``gpu-hybrid``: NVENC with one stage on the CPU. A source NVDEC cannot decode (H.264 10-bit or 4:2:2 before
  Blackwell, ProRes, AV1 before Ampere) is decoded and deinterlaced on the CPU, uploaded once (``hwupload_cuda``),
  and scaled with ``scale_cuda``; an HDR source is decoded by NVDEC and tone-mapped and scaled on the CPU (there is
  no CUDA tone-mapping filter in the build), NVENC reading system memory.
- ``gpu-decode``: a GPU without NVENC (H100, H200, A100): NVDEC and ``scale_cuda`` as on ``gpu``, then
  ``hwdownload`` per rung into the CPU encoders (``docs/engine.md`` says when this is chosen).

Packaging: ffmpeg's DASH muxer writes CMAF (fMP4) segments once, with both the MPD and HLS media playlists over
them; the master playlist is rewritten afterwards from measured figures (``worker.package``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from quality.command import input_args
from worker.capabilities import EncoderChoice
from worker.encoder_args import video_codec_args
from worker.gpu_models import find_model, nvdec_support
from worker.ladder import Profile, RungPlan, output_frame_rate
from worker.media import SourceInfo

__all__ = ["CUDA_FILTERS", "EncodePlan", "VideoPath", "build_ladder_cmd", "normalise_rate", "plan_encode",
           "poster_frame", "reference_filters", "video_encoder_args"]

VideoPath = Literal["cpu", "gpu", "gpu-hybrid", "gpu-decode"]

MPD_NAME = "manifest.mpd"
HLS_MASTER_NAME = "master.m3u8"
POSTER_NAME = "poster.jpg"
INIT_PATTERN = "init_$RepresentationID$.m4s"
SEGMENT_PATTERN = "seg_$RepresentationID$_$Number%05d$.m4s"

CUDA_FILTERS = ("bwdif_cuda", "transpose_cuda", "scale_cuda", "hwupload_cuda")
"""Every CUDA filter a ladder command may use (``selftest`` checks each one on the GPU)."""

# HDR (PQ/HLG) to SDR BT.709, 8-bit
_TONEMAP = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
            "zscale=t=bt709:m=bt709:r=tv")
_TRANSPOSE_CUDA = {90: "cclock", 270: "clock", 180: "reversal"}


@dataclass(frozen=True)
class EncodePlan:
    path: VideoPath
    frame_rate: Fraction
    gop_frames: int
    resample: bool
    """The source's rate changes: it is variable-rate or faster than the profile allows (the ``fps`` filter runs on
    every encode; this says whether it drops or repeats more than the odd frame)."""
    hw_decode: bool = False
    """NVDEC decodes the source (``-hwaccel cuda``)."""
    cuda_frames: bool = False
    """Rungs are scaled on CUDA frames (``scale_cuda``)."""
    gpu_index: int | None = None
    reason: str | None = None
    """Why this path and not the full-GPU one."""


def plan_encode(source: SourceInfo, profile: Profile, choice: EncoderChoice, *, gpu_decode: bool = True) -> EncodePlan:
    """The video path for this source and encoder choice.

    ``gpu_decode`` allows the ``gpu-decode`` path (NVDEC and ``scale_cuda`` feeding CPU encoders) on a GPU without
    a usable NVENC.
    """
    rate = output_frame_rate(source.frame_rate, profile.max_fps, variable=source.variable_frame_rate,
                             nominal=source.nominal_frame_rate)
    resample = source.variable_frame_rate or rate != source.frame_rate
    gop = max(1, round(profile.gop_seconds * float(rate)))
    index = choice.gpu_index
    if index is None:  # no GPU at all, the CPU asked for, or a GPU failure already met in this job
        return EncodePlan("cpu", rate, gop, resample)
    decode = nvdec_support(find_model(choice.gpu_name or ""), source.codec, source.pix_fmt, source.bit_depth)
    if choice.kind == "nvenc":
        if not decode.ok:
            return EncodePlan("gpu-hybrid", rate, gop, resample, hw_decode=False, cuda_frames=True, gpu_index=index,
                              reason=f"{decode.reason}: CPU decode, then hwupload_cuda and scale_cuda")
        if source.hdr:
            return EncodePlan("gpu-hybrid", rate, gop, resample, hw_decode=True, cuda_frames=False, gpu_index=index,
                              reason="HDR to SDR tone mapping has no CUDA filter here: CPU filters between NVDEC "
                                     "and NVENC")
        return EncodePlan("gpu", rate, gop, resample, hw_decode=True, cuda_frames=True, gpu_index=index)
    if gpu_decode and choice.fallback_reason == "gpu-without-nvenc" and decode.ok and not source.hdr:
        return EncodePlan("gpu-decode", rate, gop, resample, hw_decode=True, cuda_frames=True, gpu_index=index,
                          reason=f"{decode.reason}: NVDEC and scale_cuda feed the CPU encoders")
    return EncodePlan("cpu", rate, gop, resample)


def poster_frame(source: SourceInfo) -> int:
    """The frame at 10% of the source (the first frame of very short sources)."""
    return min(max(source.frame_count - 1, 0), int(source.frame_count * 0.1))


def _rate(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def normalise_rate(rate: Fraction) -> str:
    """The timing normalisation of every encode: one frame per 1/rate from the file's start, by timestamp.

    Gaps (lost or undecodable frames) repeat the previous frame, a late start repeats the first, extra frames are
    dropped. The quality gate puts the reference through the same filter, so frame i of a rendition is always
    scored against the source frame it was made from.
    """
    return f"fps=fps={_rate(rate)}:start_time=0"


def reference_filters(source: SourceInfo) -> list[str]:
    """The CPU filters the encode applies to the picture before ``normalise_rate`` (deinterlace, tone map)."""
    filters = []
    if source.interlaced:
        filters.append("bwdif=mode=send_frame:deint=interlaced")
    if source.hdr:
        filters.append(_TONEMAP)
    return filters


def _pre_filters(source: SourceInfo, plan: EncodePlan) -> list[str]:
    filters: list[str] = []
    rotation = source.rotation % 360
    if plan.hw_decode and plan.cuda_frames:
        if source.interlaced:
            filters.append("bwdif_cuda=mode=send_frame:deint=interlaced")
        if rotation in _TRANSPOSE_CUDA:
            filters.append(f"transpose_cuda=dir={_TRANSPOSE_CUDA[rotation]}")
    else:  # CPU frames: ffmpeg's own autorotation has already turned the picture upright
        if source.interlaced:
            filters.append("bwdif=mode=send_frame:deint=interlaced")
        if source.hdr:
            filters.append(_TONEMAP)
    filters.append(normalise_rate(plan.frame_rate))
    if plan.cuda_frames and not plan.hw_decode:
        filters += ["format=yuv420p", f"hwupload_cuda=device={plan.gpu_index or 0}"]
    return filters


def _sar(source: SourceInfo, width: int, height: int) -> str:
    """The sample aspect ratio that gives the rung exactly the source's display aspect ratio.

    Even dimensions cannot always hold the aspect ratio (16:9 at 240 lines is 426.67 wide); a sample aspect ratio
    a hair off 1:1 keeps every rung's display aspect identical, which DASH requires within an adaptation set.
    """
    sar = Fraction(source.width, source.height) / Fraction(width, height)
    return f"{sar.numerator}/{sar.denominator}"


def _scale(plan: EncodePlan, source: SourceInfo, width: int, height: int) -> str:
    sar = f"setsar=r={_sar(source, width, height)}:max=1000000"
    if plan.cuda_frames:
        scaled = f"scale_cuda=w={width}:h={height}:interp_algo=bicubic:format=yuv420p"
        return f"{scaled},hwdownload,format=yuv420p,{sar}" if plan.path == "gpu-decode" else f"{scaled},{sar}"
    return f"scale={width}:{height}:flags=bicubic,{sar},format=yuv420p"


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
        if plan.cuda_frames:
            parts.append(f"[s{len(rungs)}]{select},scale_cuda=w={top.width}:h={top.height}:interp_algo=bicubic:"
                         f"format=yuv420p,hwdownload,format=yuv420p,setsar=1,format=yuvj420p[poster]")
        else:
            parts.append(f"[s{len(rungs)}]{select},scale={top.width}:{top.height}:flags=bicubic,setsar=1,"
                         f"format=yuvj420p[poster]")
    return ";".join(parts)


def video_encoder_args(rungs: Sequence[RungPlan], profile: Profile, choice: EncoderChoice,
                       plan: EncodePlan) -> list[list[str]]:
    """Per video output, its encoder arguments exactly as they appear in the ladder command."""
    return [video_codec_args(i, rung, choice, plan.gop_frames, plan.gpu_index)
            for i, rung in enumerate(rungs)]


def build_ladder_cmd(ffmpeg: str, source: SourceInfo, rungs: Sequence[RungPlan], profile: Profile,
                     choice: EncoderChoice, plan: EncodePlan, out_dir: Path | str, *, poster: bool = True,
                     threads: int | None = None, formats: str | None = None) -> list[str]:
    """The whole job in one ffmpeg command: every rung, the audio group, the poster, the packaging.

    The source is untrusted: it is read with the ``file`` protocol only and, with ``formats``, only those demuxers.
    """
    out = Path(out_dir)
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y"]
    if plan.hw_decode:
        cmd += ["-hwaccel", "cuda", "-hwaccel_device", str(plan.gpu_index or 0)]
        if plan.cuda_frames:
            cmd += ["-hwaccel_output_format", "cuda"]
            if source.rotation % 360:
                cmd += ["-display_rotation:v:0", "0"]  # transpose_cuda turns the pixels; nothing else may
    cmd += [*input_args(formats), "-i", source.path, "-filter_complex", _filter_graph(source, rungs, plan, poster)]
    for i, _ in enumerate(rungs):
        cmd += ["-map", f"[v{i}]"]
    if source.has_audio:
        cmd += ["-map", "0:a:0"]
    for args in video_encoder_args(rungs, profile, choice, plan):
        cmd += args
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
