"""Pure builders of the ffmpeg command lines this package runs. Nothing here spawns a process."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from quality.alignment import AlignmentPlan
from quality.options import MeasureOptions, bootstrap_model_paths, bootstrap_submodel_key, model_keys
from quality.options import model_spec as spec_of
from quality.probe import VideoInfo
from quality.raw import RawFormat

__all__ = ["build_thumbnail_cmd", "build_vmaf_cmd", "escape_filter_value", "input_args", "libvmaf_args",
           "model_list"]

VMAF_KEY = "vmaf"
"""The name given to the model in libvmaf's log, whatever model is used."""


def input_args(formats: str | None = None, raw: RawFormat | None = None) -> list[str]:
    """Input options for untrusted media: the ``file`` protocol only, and only the ``formats`` demuxers if given.

    A headerless input (``raw``) is read by the ``rawvideo`` demuxer, the only one allowed for it, with its format.
    """
    if raw is not None:
        return ["-protocol_whitelist", "file", "-format_whitelist", "rawvideo", *raw.input_args()]
    return ["-protocol_whitelist", "file", *(["-format_whitelist", formats] if formats else [])]


def escape_filter_value(value: str) -> str:
    """Quote a filter option value for ffmpeg's two parsing levels (graph, then options)."""
    level2 = value.replace("\\", "\\\\").replace(":", "\\:")
    return "'" + level2.replace("'", "'\\''") + "'"


def model_list(options: MeasureOptions, main_spec: str) -> str:
    """libvmaf's ``model`` value: the main model named ``vmaf``, then ``options.extra_models`` each named by
    ``model_key``, then with ``confidence_interval`` the bootstrap sub-models, unclipped (libvmaf computes a
    collection's mean and interval on unclipped scores and clips after), all separated by ``|``."""
    models = [f"{main_spec}:name={VMAF_KEY}"]
    models += [f"{spec_of(m)}:name={key}" for m, key in zip(options.extra_models, model_keys(options.extra_models),
                                                               strict=True)]
    if options.confidence_interval:
        models += [f"path={path}:name={bootstrap_submodel_key(i)}:disable_clip=true"
                   for i, path in enumerate(bootstrap_model_paths())]
    return "|".join(models)


def libvmaf_args(options: MeasureOptions, model_spec: str, log_path: Path | str) -> str:
    """The ``libvmaf=...`` option string: models (the main one named ``vmaf``, see ``model_list``), features,
    threads, subsampling, JSON log."""
    parts = [
        f"model={escape_filter_value(model_list(options, model_spec))}",
        f"n_threads={options.threads}",
    ]
    if options.subsample > 1:
        parts.append(f"n_subsample={options.subsample}")
    features = []
    if "psnr" in options.metrics:
        features.append("name=psnr")
    if "ssim" in options.metrics:
        features.append("name=float_ssim")
    if features:
        parts.append(f"feature={escape_filter_value('|'.join(features))}")
    parts += ["log_fmt=json", f"log_path={escape_filter_value(str(log_path))}", "shortest=1"]
    return ":".join(parts)


def _chain(
    index: int,
    start: int,
    frames: int,
    total: int,
    *,
    resample_to: Fraction | None = None,
    scale_to: tuple[int, int] | None = None,
    scaler: str = "bicubic",
    pix_fmt: str | None = None,
) -> str:
    filters: list[str] = []
    if resample_to is not None:
        filters += ["setpts=PTS-STARTPTS", f"fps=fps={resample_to.numerator}/{resample_to.denominator}"]
    if start > 0 or start + frames < total:
        filters.append(f"trim=start_frame={start}:end_frame={start + frames}")
    if scale_to is not None:
        filters.append(f"scale={scale_to[0]}:{scale_to[1]}:flags={scaler}")
    if pix_fmt is not None:
        filters.append(f"format={pix_fmt}")
    # Timestamps are replaced by the frame index in a shared 1/1 time base: libvmaf's framesync then pairs frame
    # i with frame i, whatever the containers' time bases or start times were.
    filters += ["settb=1", "setpts=N"]
    return f"[{index}:v]" + ",".join(filters)


def build_vmaf_cmd(
    ffmpeg: str,
    dist: VideoInfo,
    ref: VideoInfo,
    plan: AlignmentPlan,
    options: MeasureOptions,
    model_spec: str,
    log_path: Path | str,
) -> list[str]:
    """One ffmpeg pass: align both inputs by ``plan`` and score them with libvmaf into a JSON log."""
    # after resampling the distorted count is only estimated: always trim it to what the plan compares
    dist_total = plan.frames + plan.dist_start + 1 if plan.resample_to is not None else dist.frame_count
    dist_chain = _chain(
        0, plan.dist_start, plan.frames, dist_total,
        resample_to=plan.resample_to, scale_to=plan.scale_to, scaler=options.scaler, pix_fmt=plan.pix_fmt,
    )
    ref_chain = _chain(1, plan.ref_start, plan.frames, ref.frame_count)
    scorer = "libvmaf"
    if options.device == "cuda":
        # libvmaf_cuda reads CUDA frames: both sides are uploaded once, after alignment, as 8-bit 4:2:0
        upload = ",format=yuv420p,hwupload_cuda,scale_cuda=format=yuv420p"
        dist_chain, ref_chain, scorer = dist_chain + upload, ref_chain + upload, "libvmaf_cuda"
    graph = f"{dist_chain}[dist];{ref_chain}[ref];[dist][ref]{scorer}={libvmaf_args(options, model_spec, log_path)}"
    return [
        ffmpeg, "-nostdin", "-nostats", "-progress", "pipe:1",
        *input_args(options.input_formats, dist.raw), "-i", dist.path,
        *input_args(options.input_formats, ref.raw), "-i", ref.path,
        "-filter_complex", graph,
        "-an", "-sn", "-dn",
        "-f", "null", "-",
    ]


def build_thumbnail_cmd(
    ffmpeg: str, path: str, frames: int, *, width: int, height: int, resample_to: str | None = None,
    formats: str | None = None, raw: RawFormat | None = None,
) -> list[str]:
    """Decode the first ``frames`` frames as tiny grey images on stdout (for the offset search)."""
    filters = []
    if resample_to:
        filters += ["setpts=PTS-STARTPTS", f"fps=fps={resample_to}"]
    filters += [f"scale={width}:{height}:flags=area", "format=gray"]
    return [
        ffmpeg, "-nostdin", "-v", "error",
        *input_args(formats, raw), "-i", path,
        "-map", "0:v:0",
        "-vf", ",".join(filters),
        "-frames:v", str(frames),
        "-f", "rawvideo", "-",
    ]
