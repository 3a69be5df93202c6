"""Errors raised by the quality package.

Every error a user can cause has its own class and its own CLI exit code, so that scripts can tell them apart::

    QualityError                                   (exit 10, base class)
    ├── InputNotFound(QualityError, FileNotFoundError)   exit 3   a path does not exist or is not a file
    ├── InvalidInput(QualityError, ValueError)           exit 4   the file cannot be scored at all
    │   ├── NotAVideo                                    not a media container ffmpeg understands
    │   ├── NoVideoStream                                a media file with no video stream (audio only)
    │   ├── EmptyVideo                                   a video stream with zero frames
    │   ├── CorruptInput                                 truncated or damaged: fewer frames readable than declared
    │   ├── RawFormatRequired                            a headerless .yuv given without its width, height or pix_fmt
    │   ├── PartialRawFrame                              a headerless .yuv whose size is not a whole number of frames
    │   └── TooSmallToScore                              frames under 18 pixels wide or high: libvmaf cannot score them
    ├── AlignmentError(QualityError, ValueError)         exit 5   the pair differs in a way no rule aligns
    ├── FfmpegUnavailable(QualityError)                  exit 6   no ffmpeg, or an ffmpeg without libvmaf
    └── MeasurementFailed(QualityError)                  exit 7   ffmpeg ran and failed while scoring

``InvalidInput`` subclasses ``ValueError`` and ``InputNotFound`` subclasses ``FileNotFoundError`` so that callers
who only know the builtins still catch them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AlignmentError",
    "CorruptInput",
    "EmptyVideo",
    "FfmpegUnavailable",
    "InputNotFound",
    "InvalidInput",
    "MeasurementFailed",
    "NoVideoStream",
    "NotAVideo",
    "PartialRawFrame",
    "QualityError",
    "TooSmallToScore",
    "RawFormatRequired",
]


class QualityError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 10

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None

    def __str__(self) -> str:
        if self.path is not None and str(self.path) not in self.message:
            return f"{self.path}: {self.message}"
        return self.message


class InputNotFound(QualityError, FileNotFoundError):
    exit_code = 3


class InvalidInput(QualityError, ValueError):
    exit_code = 4


class NotAVideo(InvalidInput):
    pass


class NoVideoStream(InvalidInput):
    pass


class EmptyVideo(InvalidInput):
    pass


class CorruptInput(InvalidInput):
    pass


class RawFormatRequired(InvalidInput):
    """A headerless (``.yuv``) input says nothing about itself; ``missing`` names what was not given."""

    def __init__(self, message: str, *, path: Path | str | None = None, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message, path=path)
        self.missing = missing


class PartialRawFrame(InvalidInput):
    """A headerless input whose size is not a whole number of frames of the given format (wrong width, height or
    pixel format, or a cut file)."""

    def __init__(self, message: str, *, path: Path | str | None = None, size: int = 0, frame_size: int = 0) -> None:
        super().__init__(message, path=path)
        self.size = size
        self.frame_size = frame_size


class TooSmallToScore(InvalidInput):
    """Frames below libvmaf's smallest size (it crashes on them): the pair cannot be measured."""


class AlignmentError(QualityError, ValueError):
    """The distorted and reference videos cannot be paired frame for frame under the chosen rules."""

    exit_code = 5

    def __init__(self, message: str, *, differences: dict[str, tuple[object, object]] | None = None) -> None:
        super().__init__(message)
        self.differences = differences or {}


class FfmpegUnavailable(QualityError):
    exit_code = 6


class MeasurementFailed(QualityError):
    """ffmpeg started but did not finish scoring; ``stderr_tail`` holds its last lines."""

    exit_code = 7

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: str = "",
                 command: list[str] | None = None, stopped: bool = False, outcome: str = "failed") -> None:
        super().__init__(message)
        self.stopped = stopped
        self.outcome = "stopped" if stopped else outcome
        """``failed``, ``stalled`` (the watchdog), ``timeout`` (the hard limit) or ``stopped`` (the caller)."""
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.command = command or []

    def __str__(self) -> str:
        text = self.message
        if self.returncode is not None:
            text += f" (ffmpeg exit code {self.returncode})"
        if self.stderr_tail:
            text += "\n" + self.stderr_tail
        return text
