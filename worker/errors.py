"""Errors of the worker, each decided where it arises: retrying can help, or it cannot.

::

    WorkerError
    ├── PermanentJobError            the same job will fail the same way again: poison it at once
    │   ├── InvalidJob               a queue message that is not a job (bad base64, JSON, version or fields)
    │   ├── SourceMissing            the uploaded blob is gone, or was replaced after the job was made
    │   ├── InvalidSource            not a video, audio only, zero frames, truncated (wraps quality's probe errors)
    │   ├── SourceRejected           over a limit from settings (pixels, duration, file size)
    │   ├── ProfileError             a ladder profile that cannot be used
    │   ├── EncodeRejected           ffmpeg refused the input or the options
    │   └── QualityBelowThreshold    a rendition scored under its VMAF threshold and the policy is "fail"
    └── TransientJobError            another attempt (maybe on another node) may succeed: release with backoff
        ├── StorageUnavailable       Blob, Queue or Table did not answer (network, throttling, emulator down)
        ├── ScratchFull              not enough free local disk for the job on this node
        ├── GpuUnavailable           --encoder gpu and no usable NVENC here (the reason says why)
        ├── EncodeCrashed            ffmpeg died (signal, CUDA/NVENC resource error)
        ├── EncodeStalled            the watchdog saw no progress for too long and killed ffmpeg
        ├── EncodeTimeout            the hard timeout (scaled by the source duration) expired
        └── EncodeInterrupted        a shutdown stopped the encode
"""

from __future__ import annotations

__all__ = [
    "EncodeCrashed",
    "EncodeInterrupted",
    "EncodeRejected",
    "EncodeStalled",
    "EncodeTimeout",
    "GpuUnavailable",
    "InvalidJob",
    "InvalidSource",
    "PermanentJobError",
    "ProfileError",
    "QualityBelowThreshold",
    "ScratchFull",
    "SourceMissing",
    "SourceRejected",
    "StorageUnavailable",
    "TransientJobError",
    "WorkerError",
]


class WorkerError(Exception):
    """Base of the worker's errors. ``stderr_tail`` holds ffmpeg's last lines where ffmpeg was involved."""

    permanent = False

    def __init__(self, message: str, *, stderr_tail: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.stderr_tail = stderr_tail
        self.returncode = returncode

    def __str__(self) -> str:
        text = self.message
        if self.returncode is not None:
            text += f" (ffmpeg exit code {self.returncode})"
        if self.stderr_tail:
            # ffmpeg runs with -loglevel error: the first lines are the cause, the rest its consequences
            lines = [line for line in self.stderr_tail.splitlines() if "[info]" not in line]  # SVT-AV1 banner
            text += "\n" + "\n".join(lines[:6])
        return text


class PermanentJobError(WorkerError):
    permanent = True


class InvalidJob(PermanentJobError, ValueError):
    pass


class SourceMissing(PermanentJobError):
    pass


class InvalidSource(PermanentJobError):
    pass


class SourceRejected(PermanentJobError):
    pass


class ProfileError(PermanentJobError, ValueError):
    pass


class EncodeRejected(PermanentJobError):
    pass


class QualityBelowThreshold(PermanentJobError):
    pass


class TransientJobError(WorkerError):
    pass


class StorageUnavailable(TransientJobError):
    pass


class ScratchFull(TransientJobError):
    pass


class GpuUnavailable(TransientJobError):
    pass


class EncodeCrashed(TransientJobError):
    pass


class EncodeStalled(TransientJobError):
    pass


class EncodeTimeout(TransientJobError):
    pass


class EncodeInterrupted(TransientJobError):
    pass
