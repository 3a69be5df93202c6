"""What the content-aware analysis probes, and in which order. Pure; ``worker.analysis`` runs it.

1. **Windows.** A title no longer than ``analysis_seconds`` is analysed whole. A longer one is analysed on
   ``analysis_seconds / window`` of the quality gate's own windows (``quality.ladder.plan_windows`` with the gate's
   window length and spacing, windowed whatever the title's length), evenly spread among them.
2. **Candidates.** The profile's ``heights`` at or under the source's short side, sized as the fixed ladder sizes its
   rungs (``plan_ladder``: aspect kept, even sides, the source's own size when it falls between two heights).
3. **Targets per candidate** (``assign_targets``), from one probe of each at ``crf_start``, and the **next CRF** of
   a candidate (``next_probe``), from its probes so far.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from quality.ladder import plan_windows
from worker.content_aware import ContentAware
from worker.crf_search import CrfSearch
from worker.hull import GAIN_PER_DOUBLING, RatePoint
from worker.ladder import Profile, Rung, plan_ladder
from worker.probe_command import SourceWindow
from worker.settings import EngineSettings

__all__ = ["GAIN_PER_DOUBLING", "HEADROOM", "RUNNER_UP", "analysis_windows", "assign_targets", "candidate_sizes",
           "doublings", "next_probe", "probe_subsample"]

HEADROOM = 5.0
"""How far above its score at ``crf_start`` a resolution is assumed to reach at all (the assignment model's ceiling:
a smaller picture, scaled up to the display, gains little from more bits once its own detail is coded)."""
RUNNER_UP = 1.0
"""The top target is searched on a second candidate expected to need at most this many more doublings of bits."""


def candidate_sizes(width: int, height: int, settings: ContentAware) -> list[tuple[int, int]]:
    """The resolutions to probe, largest first (sized as ``plan_ladder`` sizes a fixed ladder's rungs)."""
    grid = Profile(name="candidates", rungs=tuple(Rung(height=h, bitrate_k=1000) for h in settings.heights))
    return [(r.width, r.height) for r in plan_ladder(width, height, grid)]


def analysis_windows(duration: float, rate: Fraction, segment_seconds: float, settings: ContentAware,
                     engine: EngineSettings) -> tuple[list[SourceWindow], bool]:
    """The frames the probes encode, and whether that is the whole title."""
    total = max(1, int(round(duration * float(rate))))
    if duration <= settings.analysis_seconds:
        return [SourceWindow(0, total)], True
    seg = max(1, round(segment_seconds * float(rate)))
    counts = [seg] * (total // seg) + ([total % seg] if total % seg else [])
    policy = replace(engine.sampling_policy(), mode="windows")
    sampling, windows = plan_windows(counts, [f"s{i}" for i in range(len(counts))], rate, policy)
    gate = [SourceWindow(w.start_frame, w.frames) for w in windows]
    if sampling == "full":  # too short for the gate's windows: each segment is a window
        starts = [sum(counts[:i]) for i in range(len(counts))]
        gate = [SourceWindow(s, c) for s, c in zip(starts, counts, strict=True)]
    window_s = gate[0].frames / float(rate)
    k = max(1, int(settings.analysis_seconds // max(window_s, 1e-9)))
    if len(gate) > k:
        gate = [gate[int((i + 0.5) * len(gate) / k)] for i in range(k)]
    return gate, False


def doublings(first: RatePoint, target: float) -> float:
    """The assignment model: doublings of ``first``'s bitrate (negative: halvings) for a resolution to score
    ``target``. ``GAIN_PER_DOUBLING`` points per doubling below its first score; above it the gain shrinks in
    proportion to the headroom left under ``first.vmaf + HEADROOM``, which it never reaches (``inf``)."""
    if target <= first.vmaf:
        return (target - first.vmaf) / GAIN_PER_DOUBLING
    left = first.vmaf + HEADROOM - target
    if left <= 0:
        return math.inf
    return (target - first.vmaf) / GAIN_PER_DOUBLING * HEADROOM / left


def assign_targets(first: Sequence[RatePoint], targets: Sequence[float]) -> dict[tuple[int, int], list[float]]:
    """Each target to the candidate expected to reach it with the fewest bits (from one probe each); a target no
    candidate is expected to reach goes to the one that scored highest. The top target, the rung that costs the
    most bits, also goes to the runner-up when the model puts it within ``RUNNER_UP`` doublings of the best: the
    model is crude, and the probes decide."""
    out: dict[tuple[int, int], list[float]] = {p.size: [] for p in first}
    for index, target in enumerate(targets):
        def cost(p: RatePoint, target: float = target) -> tuple[float, int]:
            return math.log2(max(p.bitrate, 1)) + doublings(p, target), -p.width * p.height
        ranked = sorted(first, key=cost)
        if math.isinf(cost(ranked[0])[0]):
            ranked = [max(first, key=lambda p: (p.vmaf, p.width * p.height))]
        out[ranked[0].size].append(target)
        if index == 0 and len(ranked) > 1 and cost(ranked[1])[0] - cost(ranked[0])[0] <= RUNNER_UP:
            out[ranked[1].size].append(target)
    return out


def _rate_search(cap: int, points: Sequence[RatePoint], settings: ContentAware) -> CrfSearch:
    """The search for the CRF whose bitrate is ``cap`` (log2 of the rate falls about 1/6 per CRF step)."""
    return CrfSearch(math.log2(cap), start=settings.crf_start, low=settings.crf_min, high=settings.crf_max,
                     max_probes=settings.max_probes, tolerance=math.log2(1.08), prior_slope=1 / 6, overshoot=0.1,
                     tried=[(p.crf, math.log2(max(p.bitrate, 1))) for p in points])


def next_probe(targets: Sequence[float], points: Sequence[RatePoint], settings: ContentAware,
               cap: int | None = None) -> float | None:
    """The next CRF for one candidate, from its probes so far: its highest target's search first, then its lowest's,
    then the others'. Each search aims where the rung will aim, ``vmaf_margin`` above its target. A target that a
    probe over the candidate's ``cap`` (bit/s) has shown out of reach within it (no probe within the cap reaches
    the aim) is searched by bitrate instead: the CRF that spends the cap, where the rung will sit."""
    order = [targets[0], targets[-1], *targets[1:-1]] if len(targets) > 1 else list(targets)
    for target in order:
        aim = min(100.0, target + settings.vmaf_margin)
        within = [p for p in points if cap is None or p.bitrate <= cap]
        if cap is not None and len(within) < len(points) and not any(p.vmaf >= aim for p in within):
            search = _rate_search(cap, points, settings)
        else:
            search = CrfSearch(aim, start=settings.crf_start, low=settings.crf_min, high=settings.crf_max,
                               max_probes=settings.max_probes, tried=[(p.crf, p.vmaf) for p in points])
        crf = search.next_crf()
        if crf is not None:
            return crf
    return None


def probe_subsample(wanted: int, gop: int) -> int:
    """The probes' VMAF subsample: ``wanted``, or the next number that shares no factor with the GOP length, so
    that keyframes (scored higher) are not over-represented (every 10th frame of a 60-frame GOP scores a keyframe
    one time in 6 instead of one in 60; on the corpus that biased the prediction 1 to 1.4 VMAF upwards)."""
    n = max(1, wanted)
    while n > 1 and math.gcd(n, max(gop, 1)) > 1:
        n += 1
    return n
