"""Measurement options, model names and the ffmpeg binary setting."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from quality.errors import FfmpegUnavailable

__all__ = [
    "BOOTSTRAP_MODEL",
    "DEFAULT_MODEL",
    "FFMPEG_ENV",
    "MODEL_4K",
    "MODEL_ALIASES",
    "FrameCountPolicy",
    "VmafDevice",
    "FrameRatePolicy",
    "MeasureOptions",
    "Metric",
    "bootstrap_model_paths",
    "bootstrap_submodel_key",
    "default_threads",
    "model_key",
    "model_keys",
    "model_spec",
    "resolve_ffmpeg",
    "select_model",
]

Metric = Literal["vmaf", "psnr", "ssim"]
"""What libvmaf computes in the one pass: VMAF (the chosen model), PSNR (Y, Cb, Cr) and SSIM (float_ssim)."""

FrameCountPolicy = Literal["refuse", "truncate"]
VmafDevice = Literal["cpu", "cuda"]
"""Where libvmaf computes: ``libvmaf`` on the CPU, or ``libvmaf_cuda`` on the GPU."""
"""``refuse``: different frame counts are an error. ``truncate``: score the common prefix and say so."""

FrameRatePolicy = Literal["refuse", "resample"]
"""``refuse``: different frame rates are an error. ``resample``: convert the distorted video to the reference rate
with ffmpeg's ``fps`` filter (drops or repeats frames by timestamp) before pairing."""

FFMPEG_ENV = "FFMPEG_BINARY"
"""The one setting that points every part of the project at another ffmpeg build."""

DEFAULT_MODEL = "vmaf_v0.6.1"
MODEL_4K = "vmaf_4k_v0.6.1"
UHD_HEIGHT = 2160

MODEL_ALIASES: dict[str, str] = {
    "default": f"version={DEFAULT_MODEL}",
    "4k": f"version={MODEL_4K}",
    "neg": "version=vmaf_v0.6.1neg",
    # libvmaf's phone model is the default model with its score transform enabled
    "phone": f"version={DEFAULT_MODEL}:enable_transform=true",
}

ALL_METRICS: tuple[Metric, ...] = ("vmaf", "psnr", "ssim")

BOOTSTRAP_MODEL = "vmaf_b_v0.6.3"
"""The bootstrap collection behind ``confidence_interval``: 21 sub-models (libvmaf's built-in ``vmaf_b_v0.6.3``,
shipped as files under ``quality/models/`` because ffmpeg's libvmaf filter cannot load a model collection)."""
BOOTSTRAP_DIR = Path(__file__).parent / "models" / BOOTSTRAP_MODEL
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def default_threads() -> int:
    """The cores this process may run on (the cgroup/affinity view, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class MeasureOptions:
    """Everything that changes a score. Recorded verbatim in the report's ``settings``."""

    model: str | None = None
    """``None`` picks ``vmaf_v0.6.1``, or ``vmaf_4k_v0.6.1`` for references of 2160 lines and more. Otherwise an
    alias (``default``, ``4k``, ``neg``, ``phone``), a built-in version name (``vmaf_v0.6.1neg``), a path to a model
    JSON file, or a raw libvmaf model string (``version=vmaf_v0.6.1:enable_transform=true``)."""
    metrics: tuple[Metric, ...] = ALL_METRICS
    n_threads: int | None = None
    """libvmaf threads; ``None`` means every core available."""
    subsample: int = 1
    """Score every Nth frame (libvmaf ``n_subsample``)."""
    scaler: str = "bicubic"
    """swscale algorithm used to bring the distorted video to the reference resolution."""
    offset: int = 0
    """Known delay in frames. Positive: the distorted video starts ``offset`` frames late (its first ``offset``
    frames are dropped). Negative: the reference's first ``-offset`` frames are dropped."""
    auto_offset: int = 0
    """Search window in frames for an automatic offset search; 0 disables it. Overrides ``offset``."""
    min_offset_confidence: float = 0.25
    """Below this confidence the automatic search result is not applied (offset 0, with a warning)."""
    on_frame_count_mismatch: FrameCountPolicy = "refuse"
    on_frame_rate_mismatch: FrameRatePolicy = "refuse"
    frame_rate_tolerance: float = 0.001
    """Relative difference under which two frame rates count as equal."""
    input_formats: str | None = None
    """Demuxers allowed to open the inputs (ffmpeg names, comma-separated); ``None`` allows any. The ``file``
    protocol is the only one allowed either way."""
    device: VmafDevice = "cpu"
    """``cuda`` scores with ffmpeg's ``libvmaf_cuda`` (both inputs uploaded to the GPU): only where the ffmpeg
    build has that filter (detect it from ``ffmpeg -filters``, never assume it), and for VMAF alone (PSNR and SSIM
    have no CUDA extractor here)."""
    ffmpeg: str | None = field(default=None, compare=False)
    """ffmpeg binary; ``None``: ``$FFMPEG_BINARY``, else the imageio-ffmpeg wheel's build."""
    extra_models: tuple[str, ...] = ()
    """More models scored in the same pass (same forms as ``model``). ``model`` stays ``vmaf`` (the gate reads it);
    each of these is an extra metric named by ``model_key``: ``neg`` -> ``vmaf_neg``, ``vmaf_4k_v0.6.1`` as is."""
    confidence_interval: bool = False
    """Also score the bootstrap collection ``vmaf_b_v0.6.3`` and report, per frame and pooled, libvmaf's
    ``vmaf_b_v0.6.3_bagging`` (the sub-models' mean), ``_stddev``, ``_ci_p95_lo`` and ``_ci_p95_hi``."""

    def __post_init__(self) -> None:
        if self.subsample < 1:
            raise ValueError(f"subsample must be at least 1, got {self.subsample}")
        if self.n_threads is not None and self.n_threads < 1:
            raise ValueError(f"n_threads must be at least 1, got {self.n_threads}")
        if self.auto_offset < 0:
            raise ValueError(f"auto_offset is a window in frames and cannot be negative, got {self.auto_offset}")
        unknown = set(self.metrics) - set(ALL_METRICS)
        if unknown or not self.metrics:
            raise ValueError(f"metrics must be a non-empty subset of {ALL_METRICS}, got {self.metrics}")
        if "vmaf" not in self.metrics:
            raise ValueError("metrics must include 'vmaf'")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda" and tuple(self.metrics) != ("vmaf",):
            raise ValueError("device 'cuda' scores VMAF only: set metrics=('vmaf',)")
        for model in (self.model or "", *self.extra_models):
            if "|" in model:
                raise ValueError(f"one model per option, got {model!r}: give each model its own --model")
        if any(not m.strip() for m in self.extra_models):
            raise ValueError(f"extra_models cannot hold an empty name, got {self.extra_models}")

    @property
    def threads(self) -> int:
        return self.n_threads or default_threads()


def select_model(option: str | None, reference_height: int) -> str:
    """The model name to record: the option, or the automatic choice by reference height."""
    if option:
        return option
    return MODEL_4K if reference_height >= UHD_HEIGHT else DEFAULT_MODEL


def model_spec(model: str) -> str:
    """Translate a user's model choice into libvmaf's ``key=value:key=value`` model string (without ``name``)."""
    if model in MODEL_ALIASES:
        return MODEL_ALIASES[model]
    if "=" in model:
        return model
    if model.endswith(".json") or os.sep in model:
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"VMAF model file not found: {model}")
        return f"path={path.resolve()}"
    return f"version={model}"


def model_key(model: str) -> str:
    """The report key of an extra model: ``vmaf_<alias>`` for an alias (``neg`` -> ``vmaf_neg``), the version name
    for a built-in model (``vmaf_v0.6.1neg``; ``vmaf_`` put in front when it lacks it), the file stem for a model
    file, and the ``version``/``path`` inside a raw libvmaf string. Characters other than letters, digits, ``_``,
    ``.`` and ``-`` become ``_``."""
    if model in MODEL_ALIASES:
        name = model
    else:
        fields = dict(part.split("=", 1) for part in model.split(":") if "=" in part)
        if "=" in model:
            name = fields.get("version") or Path(fields.get("path", "model")).stem
        elif model.endswith(".json") or os.sep in model:
            name = Path(model).stem
        else:
            name = model
    name = _KEY_CHARS.sub("_", name)
    return name if name.startswith("vmaf_") else f"vmaf_{name}"


def model_keys(extra_models: tuple[str, ...]) -> tuple[str, ...]:
    """``model_key`` of each extra model, made unique by ``_2``, ``_3``, ... in order."""
    keys: list[str] = []
    for model in extra_models:
        key, n = model_key(model), 1
        while key in keys:
            n += 1
            key = f"{model_key(model)}_{n}"
        keys.append(key)
    return tuple(keys)


def bootstrap_submodel_key(index: int) -> str:
    """The libvmaf name of one bootstrap sub-model (``vmaf_b_v0.6.3_bootstrap_07``); ``quality.results`` folds
    these into the collection's figures."""
    return f"{BOOTSTRAP_MODEL}_bootstrap_{index:02d}"


def bootstrap_model_paths() -> list[Path]:
    """The sub-model files of ``BOOTSTRAP_MODEL``, in order."""
    paths = sorted(BOOTSTRAP_DIR.glob("*.json"))
    if not paths:  # pragma: no cover - a broken install
        raise FileNotFoundError(f"bootstrap models missing from {BOOTSTRAP_DIR}; reinstall the package")
    return paths


def resolve_ffmpeg(explicit: str | None = None) -> str:
    """Find the ffmpeg binary: the explicit argument, then ``$FFMPEG_BINARY``, then the imageio-ffmpeg wheel."""
    candidate = explicit or os.environ.get(FFMPEG_ENV)
    if candidate:
        found = shutil.which(candidate)
        if found is None:
            raise FfmpegUnavailable(
                f"ffmpeg binary {candidate!r} (from {'the option' if explicit else FFMPEG_ENV}) does not exist or "
                "is not executable; point it at an ffmpeg built with --enable-libvmaf, or unset it to use the "
                "imageio-ffmpeg build"
            )
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise FfmpegUnavailable(
            f"no ffmpeg configured: set {FFMPEG_ENV} or `pip install imageio-ffmpeg` (ships ffmpeg with libvmaf)"
        ) from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())
