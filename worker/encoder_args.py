"""Per-rung encoder arguments, one builder per encoder family; each rung is output stream ``v:i`` of the command.

Rules every family follows: the rung's average, peak and buffer rates (or, for a rung with a ``crf``, capped
constant quality: ``-crf`` on the CPU encoders, ``-cq`` with VBR on NVENC, under the same peak and buffer);
keyframes exactly every GOP (scene-cut keyframes off, so segments line up across rungs); HEVC tagged ``hvc1``
(what Apple players and the codec strings in the MPD and the HLS master need in fMP4).

NVENC: ``-preset p1..p7`` (the x264 names are refused), ``-tune hq``, VBR; ``-no-scenecut`` acts only with a look-ahead,
so one is set; ``-forced-idr`` makes the forced keyframes IDR frames; ``-gpu`` picks the GPU for frames that arrive
from system memory (CUDA frames carry their own device).
"""

from __future__ import annotations

from worker.capabilities import EncoderChoice
from worker.ladder import RungPlan

__all__ = ["NVENC_LOOKAHEAD", "SVT_PRESETS", "probe_codec_args", "video_codec_args"]

# libsvtav1 takes numeric presets; map the x264 names onto them
SVT_PRESETS = {"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8, "medium": 6, "slow": 4,
               "slower": 2, "veryslow": 1}
NVENC_LOOKAHEAD = 20
"""Frames of NVENC rate-control look-ahead (also what lets ``-no-scenecut`` act)."""


def _rates(i: int, bitrate_k: int, maxrate_k: int, bufsize_k: int, *, peak: bool = True) -> list[str]:
    rates = [f"-b:v:{i}", f"{bitrate_k}k"]
    if peak:
        rates += [f"-maxrate:v:{i}", f"{maxrate_k}k", f"-bufsize:v:{i}", f"{bufsize_k}k"]
    return rates


def _nvenc(i: int, encoder: str, preset: str, gpu_index: int | None) -> list[str]:
    args = [f"-preset:v:{i}", preset, f"-tune:v:{i}", "hq", f"-rc:v:{i}", "vbr",
            f"-rc-lookahead:v:{i}", str(NVENC_LOOKAHEAD), f"-no-scenecut:v:{i}", "1", f"-forced-idr:v:{i}", "1",
            f"-gpu:v:{i}", str(gpu_index or 0)]
    if encoder == "h264_nvenc":
        args += [f"-profile:v:{i}", "high"]
    elif encoder == "hevc_nvenc":
        args += [f"-profile:v:{i}", "main", f"-tag:v:{i}", "hvc1"]
    return args


def _cpu(i: int, encoder: str, preset: str, gop: int) -> list[str]:
    if encoder == "libx264":
        return [f"-preset:v:{i}", preset, f"-profile:v:{i}", "high", f"-x264-params:v:{i}", "scenecut=0:open_gop=0"]
    if encoder == "libx265":
        return [f"-preset:v:{i}", preset, f"-tag:v:{i}", "hvc1",
                f"-x265-params:v:{i}", f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:log-level=error"]
    if encoder == "libsvtav1":
        return [f"-preset:v:{i}", str(SVT_PRESETS.get(preset, preset)), f"-svtav1-params:v:{i}", f"keyint={gop}:scd=0"]
    raise ValueError(f"no encoder arguments for {encoder}")


def _capped_quality(i: int, rung: RungPlan, kind: str) -> list[str]:
    assert rung.crf is not None
    peak = [f"-maxrate:v:{i}", f"{rung.maxrate_k}k", f"-bufsize:v:{i}", f"{rung.bufsize_k}k"]
    if kind == "nvenc":  # VBR (set by _nvenc) aiming at the quality level, held under the peak
        return [f"-cq:v:{i}", str(int(round(rung.crf))), f"-b:v:{i}", "0", *peak]
    return [f"-crf:v:{i}", f"{rung.crf:g}", *peak]


def video_codec_args(i: int, rung: RungPlan, choice: EncoderChoice, gop: int, gpu_index: int | None) -> list[str]:
    """``-c:v:i ENCODER`` and everything that encoder needs for rung ``i``."""
    enc = choice.encoder
    if rung.crf is not None:
        args = [f"-c:v:{i}", enc, *_capped_quality(i, rung, choice.kind)]
        if choice.kind == "nvenc":
            return args + _nvenc(i, enc, rung.nvenc_preset, gpu_index)
        return args + _cpu(i, enc, rung.cpu_preset, gop)
    # SVT-AV1 caps the peak rate only in CRF mode: VBR at the target average there
    args = [f"-c:v:{i}", enc, *_rates(i, rung.bitrate_k, rung.maxrate_k, rung.bufsize_k, peak=enc != "libsvtav1")]
    if choice.kind == "nvenc":
        return args + _nvenc(i, enc, rung.nvenc_preset, gpu_index)
    return args + _cpu(i, enc, rung.cpu_preset, gop)


def probe_codec_args(encoder: str, kind: str, crf: float, cpu_preset: str, nvenc_preset: str, gop: int,
                     gpu_index: int | None) -> list[str]:
    """The content-aware analysis' probe encode (one video stream per output file): the ladder's own encoder
    arguments with constant quality instead of a bitrate: ``-crf`` on the CPU encoders, ``-rc vbr -cq N -b:v 0`` on
    NVENC (``-cq`` takes whole numbers)."""
    if kind == "nvenc":
        return ["-c:v:0", encoder, *_nvenc(0, encoder, nvenc_preset, gpu_index), "-cq:v:0", str(int(round(crf))),
                "-b:v:0", "0"]
    return ["-c:v:0", encoder, "-crf:v:0", f"{crf:g}", *_cpu(0, encoder, cpu_preset, gop)]
