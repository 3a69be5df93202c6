"""Pure builders of the content-aware analysis' two commands: the probe encodes and their scoring.

Both read the same frames of the source: each analysed window is its own input, sought with ``-ss`` (ffmpeg's
accurate seek: decoded from the keyframe before, frames before the point dropped), put through the encode's own
filters before its rate normalisation (deinterlace, tone map), normalised to the ladder's timeline
(``normalise_rate``), cut to the window's frame count and joined (``concat``). A title analysed whole is one input,
not sought. Decoding is deterministic, so the scoring pass sees exactly the frames the probes were made from.

- ``build_probe_cmd``: one decode of the windows, ``split`` to one branch per resolution, each scaled (CPU,
  bicubic) and encoded at its CRF into its own Matroska file, keyframes every GOP as in the ladder.
- ``build_probe_score_cmd``: the windows again as the reference, scaled to the scoring size (the model's display,
  as the quality gate does) and ``split``; each probe scaled to the same size; one ``libvmaf`` per probe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from quality.command import input_args, libvmaf_args
from quality.options import MeasureOptions
from worker.command import normalise_rate, reference_filters
from worker.encoder_args import probe_codec_args
from worker.media import SourceInfo

__all__ = ["PROBE_FORMAT", "ProbeEncode", "SourceWindow", "build_probe_cmd", "build_probe_score_cmd",
           "windows_graph"]

PROBE_FORMAT = "matroska"
"""The probes' container (and the one demuxer the scoring pass allows for them)."""


@dataclass(frozen=True)
class SourceWindow:
    """Frames ``start_frame`` .. ``start_frame + frames - 1`` of the ladder's timeline."""

    start_frame: int
    frames: int


@dataclass(frozen=True)
class ProbeEncode:
    """One probe: a resolution, its CRF, where it is written."""

    width: int
    height: int
    crf: float
    path: Path


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def _window_inputs(source: SourceInfo, windows: Sequence[SourceWindow], rate: Fraction, whole: bool,
                   formats: str | None) -> list[str]:
    if whole:
        return [*input_args(formats), "-i", source.path]
    args: list[str] = []
    for w in windows:
        args += ["-ss", _seconds(float(w.start_frame / rate)), "-t", _seconds(float((w.frames + 2) / rate)),
                 *input_args(formats), "-i", source.path]
    return args


def windows_graph(source: SourceInfo, windows: Sequence[SourceWindow], rate: Fraction, label: str) -> str:
    """The filter graph that turns the window inputs (input ``i`` = window ``i``) into one stream ``[label]``."""
    parts = []
    for i, w in enumerate(windows):
        chain = [*reference_filters(source), normalise_rate(rate), f"trim=end_frame={w.frames}",
                 "setpts=N/FRAME_RATE/TB"]
        parts.append(f"[{i}:v]" + ",".join(chain) + f"[w{i}]")
    if len(windows) == 1:
        parts[-1] = parts[-1][: -len("[w0]")] + f"[{label}]"
    else:
        parts.append("".join(f"[w{i}]" for i in range(len(windows))) + f"concat=n={len(windows)}:v=1:a=0[{label}]")
    return ";".join(parts)


def build_probe_cmd(ffmpeg: str, source: SourceInfo, windows: Sequence[SourceWindow], rate: Fraction,
                    probes: Sequence[ProbeEncode], *, whole: bool, encoder: str, kind: str, cpu_preset: str,
                    nvenc_preset: str, gop: int, gpu_index: int | None, formats: str | None = None) -> list[str]:
    """One ffmpeg: the windows decoded once, every probe encoded from them."""
    n = len(probes)
    graph = [windows_graph(source, windows, rate, "src"),
             f"[src]split={n}" + "".join(f"[p{j}]" for j in range(n))]
    for j, probe in enumerate(probes):
        graph.append(f"[p{j}]scale={probe.width}:{probe.height}:flags=bicubic,format=yuv420p[e{j}]")
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y",
           *_window_inputs(source, windows, rate, whole, formats), "-filter_complex", ";".join(graph)]
    gop_seconds = gop / float(rate)
    for j, probe in enumerate(probes):
        cmd += ["-map", f"[e{j}]",
                *probe_codec_args(encoder, kind, probe.crf, cpu_preset, nvenc_preset, gop, gpu_index),
                "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                "-force_key_frames", f"expr:gte(t,n_forced*{gop_seconds:.6g})", "-fps_mode", "cfr",
                "-r", f"{rate.numerator}/{rate.denominator}", "-an", "-map_metadata", "-1",
                "-f", PROBE_FORMAT, str(probe.path)]
    return cmd


def build_probe_score_cmd(ffmpeg: str, source: SourceInfo, windows: Sequence[SourceWindow], rate: Fraction,
                          probes: Sequence[ProbeEncode], *, whole: bool, size: tuple[int, int], model_spec: str,
                          options: MeasureOptions, logs: Sequence[str | Path], formats: str | None = None) -> list[str]:
    """One ffmpeg: the windows decoded once as the reference, every probe scored against them at ``size``."""
    n = len(probes)
    width, height = size
    scale = f"scale={width}:{height}:flags={options.scaler}"
    pix_fmt = source.pix_fmt if source.pix_fmt not in ("yuv420p", "unknown") else None
    graph = [windows_graph(source, windows, rate, "src"),
             f"[src]{scale},settb=1,setpts=N,split={n}" + "".join(f"[r{j}]" for j in range(n))]
    inputs: list[str] = []
    first = 1 if whole else len(windows)
    for j, probe in enumerate(probes):
        inputs += [*input_args(PROBE_FORMAT), "-i", str(probe.path)]
        dist = [scale, *([f"format={pix_fmt}"] if pix_fmt else []), "settb=1", "setpts=N"]
        graph.append(f"[{first + j}:v]" + ",".join(dist) + f"[d{j}]")
        graph.append(f"[d{j}][r{j}]libvmaf={libvmaf_args(options, model_spec, logs[j])}[o{j}]")
    cmd = [ffmpeg, "-nostdin", "-nostats", "-progress", "pipe:1", "-loglevel", "error",
           *_window_inputs(source, windows, rate, whole, formats), *inputs, "-filter_complex", ";".join(graph)]
    for j in range(n):
        cmd += ["-map", f"[o{j}]"]
    return [*cmd, "-f", "null", "-"]
