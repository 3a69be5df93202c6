"""What a job writes to the scratch volume, estimated before it writes it, and the check that it fits."""

from __future__ import annotations

import shutil
from pathlib import Path

from worker.errors import ScratchFull
from worker.ladder import Profile
from worker.settings import EngineSettings

__all__ = ["analysis_scratch_estimate", "check_space", "package_estimate", "quality_scratch_estimate"]


def package_estimate(duration: float, profile: Profile, rungs_maxrate_k: list[int]) -> int:
    """Bytes the package will take at most: every rung at its peak rate plus audio, and 5 % for containers."""
    video = sum(rungs_maxrate_k) * 1000 / 8 * duration
    audio = profile.audio_bitrate_k * 1000 / 8 * duration
    return int((video + audio) * 1.05) + 1_000_000


def quality_scratch_estimate(duration: float, renditions: int, subsample: int) -> int:
    """Bytes of libvmaf logs for the largest pass (a full pass of the title): about 300 bytes per scored frame."""
    frames = duration * 60 / max(subsample, 1)
    return int(frames * renditions * 300) + 1_000_000


def check_space(folder: Path, need: int, detail: str, settings: EngineSettings) -> None:
    """Fail before encoding, as transient, when the scratch volume cannot hold what the job will write."""
    free = shutil.disk_usage(folder).free
    where = f"{free / 1e6:.0f} MB free on the scratch volume"
    limit = settings.scratch_limit_bytes
    if limit is not None:
        root = settings.scratch_dir or folder.parent
        used = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        if limit - used < free:
            free = limit - used
            where = (f"{free / 1e6:.0f} MB left under the scratch volume's limit (WORKER_SCRATCH_LIMIT "
                     f"{settings.scratch_limit}, {used / 1e6:.0f} MB used)")
    if free < need:
        raise ScratchFull(f"not enough scratch space to encode: {detail} = {need / 1e6:.0f} MB needed, {where}")


def analysis_scratch_estimate(seconds: float, candidates: int, max_bitrate_k: int) -> int:
    """Bytes of one round of content-aware probes (every candidate at twice the profile's most bits: a CRF probe
    is not held to a rate) and its libvmaf logs."""
    return int(candidates * 2 * max_bitrate_k * 1000 / 8 * seconds) + 1_000_000
