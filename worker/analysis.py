"""The content-aware analysis: probe encodes of sampled windows, the hull, and the rungs chosen on it.

1. **Windows** and 2. **candidates**: ``worker.analysis_plan``.
3. **Search.** Every candidate is probed at ``crf_start``. From those points a crude model
   (``worker.analysis_plan.assign_targets``) gives each target to the candidate expected to reach it with the
   fewest bits (the top target to the runner-up too when it is close); each candidate then searches its own targets
   (``worker.crf_search``: the highest, then the lowest, then the others), at most ``max_probes`` probes in all,
   sharing its earlier probes. A candidate given no target keeps its one probe (a point on the hull all the same).
   The probes of one round run in one ffmpeg (the windows decoded once, split to every candidate), then are scored
   in one more (``worker.probe_command``): at most ``2 x max_probes`` processes.
4. **Choice.** The hull and the choice rules of ``worker.hull``; rungs capped by ``max_bitrate_k`` and by what the
   source carries at their size (``worker.ladder_caps``), floored at ``min_bitrate_k``.
5. **Rungs.** Each kept choice becomes a rung encoded with its peak held to ``maxrate_factor`` times the chosen
   bitrate (buffer ``bufsize_factor`` times it): at the chosen CRF (``rate_control: capped-crf``, the default) or at
   the chosen average bitrate (``vbr``); its target is the gate's ``min_vmaf``, except that a rung that cannot reach
   its target (``limited``) is held to its predicted score less ``LIMITED_TOLERANCE``.

Probe files and libvmaf logs live in ``.analysis/`` in the job's staging folder, one round at a time (a round's
probes are deleted once scored), and the folder is removed when the analysis ends, however it ends. The analysis
obeys the encode's stop event (``EncodeInterrupted``), watchdog and timeouts.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import quality
from quality.ladder import MIN_DIMENSION, scoring_size
from quality.options import model_spec, select_model
from quality.results import parse_vmaf_log, pool
from worker.analysis_plan import analysis_windows, assign_targets, candidate_sizes, next_probe, probe_subsample
from worker.capabilities import CPU_ENCODERS
from worker.content_aware import ContentAware
from worker.errors import EncodeInterrupted
from worker.hull import Choice, RatePoint, choose_rungs, drop_rungs, upper_hull
from worker.ladder import Profile, RungPlan
from worker.ladder_caps import Adjustment, source_cap_k
from worker.manifest import AnalysisRecord, ChosenEntry, DroppedEntry, ProbeEntry, WindowEntry
from worker.media import SourceInfo
from worker.planning import JobPlan
from worker.probe_command import (
    PROBE_FORMAT,
    ProbeEncode,
    SourceWindow,
    build_probe_cmd,
    build_probe_score_cmd,
)
from worker.quality_stage import gpu_failure
from worker.settings import EngineSettings

__all__ = ["ANALYSIS_SCRATCH", "LIMITED_TOLERANCE", "AnalysisResult", "analyse", "first_probe_cmd"]

logger = logging.getLogger(__name__)

ANALYSIS_SCRATCH = ".analysis"
LIMITED_TOLERANCE = 2.0
"""A rung that cannot reach its target is gated at its predicted score less this: on the benchmark's corpus the
measured score fell at most 0.6 under its prediction (mean 0.35 above it; docs/benchmarks.md)."""


@dataclass(frozen=True)
class AnalysisResult:
    rungs: list[RungPlan]
    adjustments: list[Adjustment]
    record: AnalysisRecord


class _GpuProbeFailure(Exception):
    """A probe encode failed on the GPU under the ``auto`` policy: the analysis probes again on the CPU."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class _Run:
    """One analysis: what it reads, how it encodes and scores, and how it reports."""

    job: JobPlan
    settings: EngineSettings
    windows: list[SourceWindow]
    whole: bool
    scratch: Path
    size: tuple[int, int]
    model: str
    report: Callable[[float], None]
    stop: threading.Event | None
    encoder: str
    kind: str
    rounds: int
    runs_done: int = 0

    @property
    def frames(self) -> int:
        return sum(w.frames for w in self.windows)

    def _ffmpeg(self, cmd: list[str], what: str) -> None:
        if self.stop is not None and self.stop.is_set():
            raise EncodeInterrupted("content-aware analysis stopped by shutdown")
        from worker.engine import classify_failure

        seconds = self.frames / float(self.job.plan.frame_rate)
        timeout = self.settings.timeout_floor_s + self.settings.timeout_factor * seconds
        total = 2 * self.rounds

        def progress(p: quality.Progress) -> None:
            self.report(min(1.0, (self.runs_done + min(1.0, max(p.frame, 0) / max(self.frames, 1))) / total))

        logger.debug("analysis %s: %s", what, quality.quoted(cmd))
        result = quality.run_ffmpeg(cmd, on_progress=progress, timeout=timeout,
                                    stall_timeout=self.settings.stall_timeout_s, stop=self.stop)
        if result.outcome == "stopped":
            raise EncodeInterrupted("content-aware analysis stopped by shutdown", stderr_tail=result.stderr_tail)
        failure = gpu_failure(result.stderr_tail) if result.outcome == "failed" and self.kind == "nvenc" else None
        if failure is not None and self.settings.encoder == "auto":
            raise _GpuProbeFailure(failure)
        if result.outcome != "ok":
            raise classify_failure(result, stall_timeout=self.settings.stall_timeout_s, timeout=timeout)
        logger.debug("analysis %s: %.1fs", what, result.elapsed)
        self.runs_done += 1
        self.report(min(1.0, self.runs_done / total))

    def round(self, index: int, batch: Sequence[tuple[tuple[int, int], float]]) -> list[RatePoint]:
        """Encode and score one probe per (size, crf) of ``batch``."""
        job, source, rate = self.job, self.job.source, self.job.plan.frame_rate
        probes = [ProbeEncode(w, h, crf, self.scratch / f"probe_{index}_{j}.mkv")
                  for j, ((w, h), crf) in enumerate(batch)]
        logs = [self.scratch / f"vmaf_{index}_{j}.json" for j in range(len(probes))]
        try:
            self._ffmpeg(build_probe_cmd(job.ffmpeg, source, self.windows, rate, probes, whole=self.whole,
                                         encoder=self.encoder, kind=self.kind, cpu_preset=job.profile.cpu_preset,
                                         nvenc_preset=job.profile.nvenc_preset, gop=job.plan.gop_frames,
                                         gpu_index=job.plan.gpu_index if self.kind == "nvenc" else None,
                                         formats=job.input_formats), "probe encodes")
            seconds = self.frames / float(rate)
            rates = [round(_video_bytes(p.path) * 8 / seconds) for p in probes]
            ca = job.profile.content_aware
            subsample = probe_subsample(ca.vmaf_subsample if ca is not None else self.settings.vmaf_subsample,
                                        job.plan.gop_frames)
            options = quality.MeasureOptions(metrics=("vmaf",), subsample=subsample,
                                             n_threads=self.settings.vmaf_threads, ffmpeg=self.settings.ffmpeg_binary)
            self._ffmpeg(build_probe_score_cmd(job.ffmpeg, source, self.windows, rate, probes, whole=self.whole,
                                               size=self.size, model_spec=model_spec(self.model), options=options,
                                               logs=[str(log) for log in logs], formats=job.input_formats),
                         "probe scoring")
            starts = {sum(w.frames for w in self.windows[:i]) for i in range(1, len(self.windows))}
            points = []
            for probe, bitrate, log in zip(probes, rates, logs, strict=True):
                rows = parse_vmaf_log(log.read_text(encoding="utf-8"), pix_fmt=source.pix_fmt)["frames"]
                # a window's first frame follows another window's last: its motion feature is not kept
                scores = [float(r["vmaf"]) for r in rows if int(r["frame"]) not in starts] or \
                    [float(r["vmaf"]) for r in rows]
                vmaf = float(pool(scores)["mean"])
                points.append(RatePoint(probe.width, probe.height, probe.crf, bitrate, round(vmaf, 3)))
                logger.info("probe %dx%d crf %g: %.0f kbit/s, VMAF %.2f", probe.width, probe.height, probe.crf,
                            bitrate / 1000, vmaf)
            return points
        finally:
            for path in (*[p.path for p in probes], *logs):
                path.unlink(missing_ok=True)


def first_probe_cmd(job: JobPlan, settings: EngineSettings, scratch: str | Path) -> list[str]:
    """The first round's probe command (every candidate at ``crf_start``), as ``transcode --dry-run`` shows it."""
    ca = job.profile.content_aware
    if ca is None:
        raise ValueError("the profile has no content_aware block")
    windows, whole = analysis_windows(job.source.duration, job.plan.frame_rate, job.profile.segment_seconds, ca,
                                      settings)
    probes = [ProbeEncode(w, h, ca.crf_start, Path(scratch) / ANALYSIS_SCRATCH / f"probe_0_{j}.mkv")
              for j, (w, h) in enumerate(candidate_sizes(job.source.width, job.source.height, ca))]
    return build_probe_cmd(job.ffmpeg, job.source, windows, job.plan.frame_rate, probes, whole=whole,
                           encoder=job.choice.encoder, kind=job.choice.kind, cpu_preset=job.profile.cpu_preset,
                           nvenc_preset=job.profile.nvenc_preset, gop=job.plan.gop_frames,
                           gpu_index=job.plan.gpu_index if job.choice.kind == "nvenc" else None,
                           formats=job.input_formats)


def _video_bytes(path: Path) -> int:
    import av

    with av.open(str(path), options={"format_whitelist": PROBE_FORMAT}) as box:
        return sum(packet.size for packet in box.demux(video=0) if packet.size)


def _cap(source: SourceInfo, settings: ContentAware) -> Callable[[int, int], tuple[int, str]]:
    def cap(width: int, height: int) -> tuple[int, str]:
        limit = settings.max_bitrate_k * 1000
        carried = source_cap_k(source.video_bitrate, source.width * source.height, width * height)
        if carried is not None and carried * 1000 < limit:
            return carried * 1000, "source-bitrate"
        return limit, "max-bitrate"
    return cap


def _rungs(kept: Sequence[Choice], profile: Profile, settings: ContentAware) -> list[RungPlan]:
    rungs: list[RungPlan] = []
    for c in kept:
        bitrate_k = max(16, round(c.bitrate / 1000))
        name = f"{min(c.width, c.height)}p"
        if any(r.name == name for r in rungs):
            name = f"{name}-{bitrate_k}k"
        min_vmaf = c.target if c.limited is None else round(min(c.target, c.predicted - LIMITED_TOLERANCE), 2)
        rungs.append(RungPlan(name=name, width=c.width, height=c.height, bitrate_k=bitrate_k,
                              maxrate_k=max(16, round(bitrate_k * settings.maxrate_factor)),
                              bufsize_k=max(16, round(bitrate_k * settings.bufsize_factor)),
                              cpu_preset=profile.cpu_preset, nvenc_preset=profile.nvenc_preset,
                              min_vmaf=max(0.0, min_vmaf),
                              crf=round(c.crf, 2) if settings.rate_control == "capped-crf" else None))
    return rungs


def _entry(p: RatePoint) -> ProbeEntry:
    return ProbeEntry(width=p.width, height=p.height, crf=p.crf, bitrate=p.bitrate, vmaf=p.vmaf)


def _search(run: _Run, sizes: list[tuple[int, int]], targets: Sequence[float], settings: ContentAware,
            cap: Callable[[int, int], tuple[int, str]]) -> tuple[list[RatePoint], dict[tuple[int, int], list[float]]]:
    points = run.round(0, [(s, settings.crf_start) for s in sizes])
    assigned = assign_targets(points, targets)
    for index in range(1, settings.max_probes):
        batch = []
        for size in sizes:
            mine = [p for p in points if p.size == size]
            crf = next_probe(assigned[size], mine, settings, cap(*size)[0]) if assigned[size] else None
            if crf is not None:
                batch.append((size, crf))
        if not batch:
            break
        points += run.round(index, batch)
    return points, assigned


def analyse(job: JobPlan, folder: Path, settings: EngineSettings, *, report: Callable[[float], None],
            stop: threading.Event | None = None) -> AnalysisResult:
    """Analyse ``job``'s source and choose its rungs (``job.profile.content_aware`` must be set)."""
    started = time.monotonic()
    ca = job.profile.content_aware
    if ca is None:
        raise ValueError("the profile has no content_aware block")
    source, rate = job.source, job.plan.frame_rate
    model = select_model(None, source.height)
    size = scoring_size(source.width, source.height, model)
    if min(size) < MIN_DIMENSION:
        reason = (f"the source is {source.width}x{source.height}: libvmaf cannot score frames under "
                  f"{MIN_DIMENSION} pixels, so the fixed ladder was encoded")
        return AnalysisResult(list(job.rungs), [], AnalysisRecord(performed=False, reason=reason))
    windows, whole = analysis_windows(source.duration, rate, job.profile.segment_seconds, ca, settings)
    sizes = candidate_sizes(source.width, source.height, ca)
    targets = ca.targets
    scratch = folder / ANALYSIS_SCRATCH
    scratch.mkdir(parents=True, exist_ok=True)
    run = _Run(job, settings, windows, whole, scratch, size, model, report, stop, job.choice.encoder,
               job.choice.kind, ca.max_probes)
    try:
        try:
            points, assigned = _search(run, sizes, targets, ca, _cap(source, ca))
        except _GpuProbeFailure as exc:
            logger.warning("the probe encodes failed on the GPU (%s); probing on the CPU", exc.detail)
            run = replace(run, encoder=CPU_ENCODERS[job.profile.codec], kind="cpu", runs_done=0)
            points, assigned = _search(run, sizes, targets, ca, _cap(source, ca))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    choices = choose_rungs(points, targets, margin=ca.vmaf_margin, min_bitrate=ca.min_bitrate_k * 1000,
                           cap=_cap(source, ca))
    kept, dropped = drop_rungs(choices, min_gain=ca.min_vmaf_gain)
    rungs = _rungs(kept, job.profile, ca)
    adjustments = [Adjustment(f"{min(c.width, c.height)}p@{c.target:g}", "dropped", c.bitrate, None, why)
                   for c, why in dropped]
    seconds = round(time.monotonic() - started, 3)
    record = AnalysisRecord(
        performed=True, encoder=run.encoder, sampling="full" if whole else "windows",
        windows=[WindowEntry(start_s=round(float(w.start_frame / rate), 3), duration_s=round(float(w.frames / rate), 3),
                             start_frame=w.start_frame, frames=w.frames) for w in windows],
        frames=run.frames, scoring_size=list(size), model=model, targets=list(targets),
        candidates=[list(s) for s in sizes], searched={f"{w}x{h}": t for (w, h), t in assigned.items()},
        probes=[_entry(p) for p in points], hull=[_entry(p) for p in upper_hull(points)],
        chosen=[ChosenEntry(rung=r.name, target_vmaf=c.target, min_vmaf=r.min_vmaf or 0.0, width=c.width,
                            height=c.height, bitrate=r.bitrate_k * 1000, crf=c.crf, predicted_vmaf=c.predicted,
                            limited=c.limited) for r, c in zip(rungs, kept, strict=True)],
        dropped=[DroppedEntry(target_vmaf=c.target, width=c.width, height=c.height, bitrate=c.bitrate,
                              predicted_vmaf=c.predicted, reason=why, limited=c.limited) for c, why in dropped],
        seconds=seconds)
    logger.info("content-aware analysis: %d probes on %d frames in %.1fs; rungs %s", len(points), run.frames,
                seconds, ", ".join(f"{r.name} {r.bitrate_k}k" for r in rungs))
    return AnalysisResult(rungs, adjustments, record)

