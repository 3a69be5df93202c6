"""Run the ladder's scoring passes (``quality.ladder`` plans and builds them) and pool each rendition's frames."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from quality.errors import MeasurementFailed, TooSmallToScore
from quality.ladder import (
    MIN_DIMENSION,
    SEEK_MARGINS_S,
    RenditionParts,
    SamplingPolicy,
    ScoringPlan,
    build_windows_cmd,
    late_seek,
    plan_windows,
    scoring_size,
    seek_point,
    segment_frame_counts,
)
from quality.measure import classify_failure
from quality.options import MeasureOptions, model_spec, resolve_ffmpeg, select_model
from quality.results import parse_vmaf_log, pool
from quality.runner import run_ffmpeg

__all__ = ["LadderResult", "RenditionScore", "plan_scoring", "score_ladder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenditionScore:
    name: str
    pooled: dict[str, dict[str, float | int]]
    frames: list[dict[str, float | int]]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class LadderResult:
    plan: ScoringPlan
    scores: tuple[RenditionScore, ...]
    libvmaf_version: str | None
    elapsed_seconds: float
    passes: int = 1
    """ffmpeg runs: one per window, or one for every window of a source that cannot be sought."""
    commands: list[list[str]] = field(default_factory=list)


def plan_scoring(renditions: Sequence[RenditionParts], *, rate: Fraction, display_size: tuple[int, int],
                 options: MeasureOptions, policy: SamplingPolicy | None = None,
                 reference_filters: Sequence[str] = (), reference: str | Path | None = None,
                 reference_formats: str | None = None) -> ScoringPlan:
    """Decide the passes: full or windows (``policy``), at the model's display size.

    With ``reference``, each window is sought only where a seek to it lands in time (``late_seek``); otherwise the
    windows are read in one pass from the start (``sequential``) and the plan's ``note`` says why. Raises
    ``TooSmallToScore`` for a source below libvmaf's smallest frame.
    """
    if not renditions:
        raise ValueError("no renditions to score")
    model = select_model(options.model, display_size[1])
    size = scoring_size(*display_size, model)
    if min(size) < MIN_DIMENSION:
        raise TooSmallToScore(f"the source is {display_size[0]}x{display_size[1]}: libvmaf cannot score frames under "
                              f"{MIN_DIMENSION} pixels wide or high")
    smallest = min(renditions, key=lambda r: r.width * r.height)
    counts = segment_frame_counts(smallest)
    policy = policy or SamplingPolicy()
    sampling, windows = plan_windows(counts, smallest.segments, rate, policy)
    note = None
    sequential = False
    margin = SEEK_MARGINS_S[0]
    if sampling == "windows" and reference is not None:
        late: tuple[float, float] | None = None
        for margin in SEEK_MARGINS_S:
            seeks = [(float(seek_point(w, rate, margin)[1] / rate), float((w.start_frame - 1) / rate))
                     for w in windows if w.start_frame > 0]
            late = late_seek(reference, seeks, reference_formats)
            if late is None:
                break
        sequential = late is not None
        if late is not None:
            where = "its container is not one ffmpeg seeks precisely" if late[1] < 0 else \
                f"a seek to {late[0]:.1f}s landed at {late[1]:.1f}s, {SEEK_MARGINS_S[-1]:g}s early included"
            note = (f"the source cannot be sought precisely ({where}): the windows were read in one pass from the "
                    "start (the whole reference decoded, only the windows scored)")
            logger.warning("%s", note)
            margin = SEEK_MARGINS_S[0]
    return ScoringPlan(sampling, windows, sum(counts), rate, size, model, model_spec(model), note, margin,
                       sequential, tuple(reference_filters))


def _merge(parts: list[dict[str, Any]], trimmed: bool) -> tuple[dict[str, dict[str, float | int]],
                                                                 list[dict[str, float | int]]]:
    if len(parts) == 1 and not trimmed:  # libvmaf's own pooled figures (full precision), as quality.measure has
        return parts[0]["pooled"], parts[0]["frames"]
    frames = [row for part in parts for row in part["frames"]]
    pooled: dict[str, dict[str, float | int]] = {}
    if frames:
        for key in frames[0]:
            if key != "frame":
                pooled[key] = pool([float(row[key]) for row in frames if key in row])
    return pooled, frames


def score_ladder(reference: str | Path, renditions: Sequence[RenditionParts], plan: ScoringPlan,
                 options: MeasureOptions, workdir: Path, *, reference_formats: str | None = None,
                 reference_size: tuple[int, int] | None = None, reference_pix_fmt: str | None = None,
                 timeout: float | None = None, stall_timeout: float | None = None,
                 stop: threading.Event | None = None,
                 on_progress: Callable[[float], None] | None = None) -> LadderResult:
    """Score every rendition against the reference by ``plan``; logs live in ``workdir`` only while parsed.

    Every rendition must be in one folder (the package's). Raises ``MeasurementFailed`` (its ``outcome`` says
    ``failed``, ``stalled``, ``timeout`` or ``stopped``) or ``FfmpegUnavailable``/``InvalidInput`` when ffmpeg
    refuses the graph or the model.
    """
    started = time.monotonic()
    ffmpeg = resolve_ffmpeg(options.ffmpeg)
    folder = renditions[0].folder
    if any(r.folder != folder for r in renditions):
        raise ValueError("the renditions of one ladder are scored from one folder")
    workdir.mkdir(parents=True, exist_ok=True)
    pix_fmt = reference_pix_fmt if reference_pix_fmt and reference_pix_fmt != "yuv420p" else None
    per_rendition: list[list[dict[str, Any]]] = [[] for _ in renditions]
    version: str | None = None
    total = max(1, plan.frames_compared)
    done = 0
    commands: list[list[str]] = []
    deadline = None if timeout is None else started + timeout
    # one pass per window, or (a source that cannot be sought) every window in one pass. The first frame of a
    # window that starts mid-title has no predecessor in its pass (or the wrong one): its motion feature would be
    # wrong, so it is not kept
    passes = [list(plan.windows)] if plan.sequential else [[w] for w in plan.windows]
    expected = 0
    for group in passes:
        dropped = {w.start_frame for w in group if w.start_frame > 0}
        frames_of = [w.start_frame + k for w in group for k in range(w.frames)]
        expected += sum(1 for local, f in enumerate(frames_of) if local % options.subsample == 0 and f not in dropped)
    for p, group in enumerate(passes):
        if stop is not None and stop.is_set():
            raise MeasurementFailed("scoring was stopped", stopped=True)
        logs = [workdir / f"vmaf_{p:04d}_{i:02d}.json" for i in range(len(renditions))]
        cmd = build_windows_cmd(ffmpeg, str(Path(reference).resolve()), renditions, plan, group, options,
                                [str(log) for log in logs], reference_formats=reference_formats,
                                reference_size=reference_size, pix_fmt=pix_fmt)
        title_frame = [w.start_frame + k for w in group for k in range(w.frames)]  # the pass's frame i
        dropped = {w.start_frame for w in group if w.start_frame > 0}
        commands.append(cmd)
        base = done

        def forward(progress: Any, base: int = base) -> None:
            if on_progress is not None:
                on_progress(min(1.0, (base + max(progress.frame, 0)) / total))

        remaining = None if deadline is None else max(1.0, deadline - time.monotonic())
        result = run_ffmpeg(cmd, on_progress=forward, timeout=remaining, stall_timeout=stall_timeout, stop=stop,
                            cwd=str(folder))
        try:
            if result.outcome in ("stopped", "stalled", "timeout"):
                what = {"stopped": "scoring was stopped", "stalled": f"scoring made no progress for "
                        f"{stall_timeout or 0:.0f}s; killed by the watchdog",
                        "timeout": f"scoring did not finish within {timeout or 0:.0f}s"}[result.outcome]
                raise MeasurementFailed(what, stderr_tail=result.stderr_tail, command=cmd,
                                        stopped=result.outcome == "stopped", outcome=result.outcome)
            if result.returncode != 0 or not all(log.exists() for log in logs):
                raise classify_failure(cmd, result.returncode, result.stderr_tail)
            for i, log in enumerate(logs):
                parsed = parse_vmaf_log(log.read_text(encoding="utf-8"), pix_fmt=reference_pix_fmt)
                version = version or parsed["version"]
                rows = []
                for row in parsed["frames"]:
                    local = int(row["frame"])
                    if local < len(title_frame) and title_frame[local] not in dropped:
                        rows.append({**row, "frame": title_frame[local]})
                parsed["frames"] = rows
                per_rendition[i].append(parsed)
        finally:
            for log in logs:
                log.unlink(missing_ok=True)
        done += len(title_frame)
    scores = []
    for rendition, parts in zip(renditions, per_rendition, strict=True):
        pooled, frames = _merge(parts, trimmed=any(w.start_frame > 0 for w in plan.windows))
        warnings = []
        if len(frames) != expected:
            warnings.append(f"libvmaf scored {len(frames)} frames where {expected} were expected: the rendition "
                            "is shorter than the source's normalised timeline")
        if not frames:
            raise MeasurementFailed(f"libvmaf scored no frames of {rendition.name}", command=commands[-1])
        scores.append(RenditionScore(rendition.name, pooled, frames, tuple(warnings)))
    elapsed = time.monotonic() - started
    logger.info("scored %d renditions (%s, %d passes, %d frames each) in %.1fs", len(renditions), plan.sampling,
                len(passes), plan.frames_compared, elapsed)
    return LadderResult(plan, tuple(scores), version, elapsed, len(passes), commands)
