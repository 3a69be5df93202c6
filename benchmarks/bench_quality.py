"""Wall time of ``quality.measure`` (VMAF only) against the plain ffmpeg libvmaf command and ffmpeg-quality-metrics.

What is compared, on the same ffmpeg binary (``quality.resolve_ffmpeg()``) and the same libvmaf thread count T:

* **ours**  -- ``quality.measure(dist, ref, MeasureOptions(metrics=("vmaf",), n_threads=T))`` called in this process:
  PyAV probes of both inputs, the alignment plan, one ffmpeg libvmaf pass with ``-progress`` read from a pipe, the
  JSON log parsed into per-frame rows, pooled statistics and a report.
* **plain** -- the bare command, run with ``subprocess.run`` (its stderr captured, the log parsed *after* the clock
  stops)::

      ffmpeg -nostdin -i DIST -i REF -lavfi "[0:v][1:v]libvmaf=n_threads=T:log_fmt=json:log_path=PATH" -f null -

* **tool**  -- the PyPI CLI ``ffmpeg-quality-metrics DIST REF -m vmaf --vmaf-threads T --ffmpeg-path FFMPEG -o OUT``
  (a new Python process each run, so its interpreter start-up and imports are counted: that is what a user of the CLI
  pays).

Method: the ``quality`` package and PyAV are imported, and ``measure`` is called once on the small pair, *before*
anything is timed, so ours is timed warm (no import cost; the figures are printed separately). Each pair then gets
one warm-up round that is not counted and ``--repeats`` interleaved rounds (ours, plain, tool, ours, plain, tool,
...), so that drift in the machine's speed hits every method alike. Reported per method: the median and the spread
(min..max) of the wall times (``time.perf_counter``); then the ratios of the medians (ours / plain, ours / tool), the
overhead of ours over plain in seconds (difference of the medians) and, as a cross-check, the median of the per-round
ratios. The pooled VMAF mean each method got is printed as a sanity check that all three scored the same thing.

Goals (PASS/MISS): ours at most 3 % slower than plain on the 1080p pair; at most 0.15 s slower on the small pair.

Pairs (``quality.samples.make_pair``, generated once into the cache directory and reused):
1920x1080 10 s 2000k (300 frames) and 640x360 2 s 300k (60 frames).

Run from the repository root::

    .venv/bin/python benchmarks/bench_quality.py              # both pairs, 5 / 15 rounds (5-8 min on 2 cores)
    .venv/bin/python benchmarks/bench_quality.py --quick      # small pair only (smoke check, < 1 min)
    .venv/bin/python benchmarks/bench_quality.py --threads 1 --repeats 3

Results are printed and written as JSON to ``benchmarks/results/quality.json`` (``quality-quick.json`` with
``--quick``, so a smoke check does not overwrite the full results; ``--output`` overrides both).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / ".cache"
RESULTS_DIR = HERE / "results"

METHODS = ("ours", "plain", "tool")
LARGE_MAX_RATIO = 1.03
SMALL_MAX_OVERHEAD_S = 0.15


@dataclass(frozen=True)
class PairSpec:
    name: str
    size: str
    duration: float
    bitrate: str
    default_repeats: int


LARGE = PairSpec("1080p", "1920x1080", 10, "2000k", 5)
SMALL = PairSpec("360p", "640x360", 2, "300k", 15)


@dataclass
class Sample:
    seconds: float
    vmaf_mean: float | None
    frames: int | None = None


@dataclass
class MethodResult:
    times: list[float] = field(default_factory=list)
    vmaf_means: list[float | None] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.times.append(sample.seconds)
        self.vmaf_means.append(sample.vmaf_mean)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def vmaf_mean(self) -> float | None:
        values = [v for v in self.vmaf_means if v is not None]
        return values[0] if values else None

    @property
    def vmaf_stable(self) -> bool:
        """Every run of this method gave the same pooled score."""
        values = [v for v in self.vmaf_means if v is not None]
        return not values or max(values) - min(values) < 1e-9

    def to_dict(self) -> dict[str, Any]:
        return {
            "times_s": [round(t, 4) for t in self.times],
            "median_s": round(self.median, 4),
            "min_s": round(min(self.times), 4),
            "max_s": round(max(self.times), 4),
            "vmaf_mean": self.vmaf_mean,
            "vmaf_same_every_run": self.vmaf_stable,
        }


class Runners:
    """The three ways of scoring a pair. Everything they need is resolved before any of them is timed."""

    def __init__(self, ffmpeg: str, tool: str, threads: int) -> None:
        from quality import MeasureOptions, measure

        self.ffmpeg = ffmpeg
        self.tool = tool
        self.threads = threads
        self._measure = measure
        self._options = MeasureOptions(metrics=("vmaf",), n_threads=threads)
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-quality-"))

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def ours(self, dist: Path, ref: Path) -> Sample:
        start = time.perf_counter()
        report = self._measure(dist, ref, self._options)
        seconds = time.perf_counter() - start
        return Sample(seconds, float(report.pooled["vmaf"]["mean"]), len(report.frames))

    def plain_cmd(self, dist: Path, ref: Path, log_path: Path) -> list[str]:
        graph = f"[0:v][1:v]libvmaf=n_threads={self.threads}:log_fmt=json:log_path={log_path}"
        return [self.ffmpeg, "-nostdin", "-i", str(dist), "-i", str(ref), "-lavfi", graph, "-f", "null", "-"]

    def plain(self, dist: Path, ref: Path) -> Sample:
        log_path = self.workdir / "plain.json"
        log_path.unlink(missing_ok=True)
        seconds = _timed(self.plain_cmd(dist, ref, log_path))
        log = json.loads(log_path.read_text(encoding="utf-8"))
        return Sample(seconds, float(log["pooled_metrics"]["vmaf"]["mean"]), len(log["frames"]))

    def tool_cmd(self, dist: Path, ref: Path, out: Path) -> list[str]:
        return [self.tool, str(dist), str(ref), "-m", "vmaf", "--vmaf-threads", str(self.threads),
                "--ffmpeg-path", self.ffmpeg, "-o", str(out)]

    def tool_run(self, dist: Path, ref: Path) -> Sample:
        out = self.workdir / "tool.json"
        out.unlink(missing_ok=True)
        seconds = _timed(self.tool_cmd(dist, ref, out))
        vmaf: float | None
        try:
            # the tool's own pooling: the mean of the per-frame scores, rounded to 3 decimals
            vmaf = float(json.loads(out.read_text(encoding="utf-8"))["global"]["vmaf"]["vmaf"]["average"])
        except (OSError, ValueError, KeyError, TypeError):
            vmaf = None
        return Sample(seconds, vmaf)

    def by_name(self) -> dict[str, Callable[[Path, Path], Sample]]:
        return {"ours": self.ours, "plain": self.plain, "tool": self.tool_run}


def _timed(cmd: list[str]) -> float:
    """Wall time of one run of ``cmd`` (output discarded, stderr kept for the error); raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    _check(cmd, proc)
    return seconds


def _check(cmd: list[str], proc: subprocess.CompletedProcess[bytes]) -> None:
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace")[-2000:]
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _ffmpeg_version(ffmpeg: str) -> str:
    out = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0] if out else "?"


def _fmt_spread(result: MethodResult) -> str:
    return f"{result.median:7.3f} s  ({min(result.times):.3f}..{max(result.times):.3f})"


def bench_pair(runners: Runners, spec: PairSpec, dist: Path, ref: Path, repeats: int) -> dict[str, Any]:
    methods = runners.by_name()
    frames: dict[str, int | None] = {}
    print(f"\n== {spec.name}: {spec.size}, {spec.duration:g} s, {spec.bitrate}  "
          f"({dist.name} vs {ref.name}), {repeats} rounds + 1 warm-up, threads={runners.threads}")
    for name in METHODS:  # warm-up round: page cache, binary, model loading; not counted
        frames[name] = methods[name](dist, ref).frames
    results = {name: MethodResult() for name in METHODS}
    for round_no in range(1, repeats + 1):
        line = []
        for name in METHODS:
            sample = methods[name](dist, ref)
            results[name].add(sample)
            line.append(f"{name} {sample.seconds:.3f}")
        print(f"  round {round_no:2d}: " + "  ".join(line), flush=True)

    ours, plain, tool = (results[name] for name in METHODS)
    per_round = [o / p for o, p in zip(ours.times, plain.times, strict=True)]
    summary: dict[str, Any] = {
        "pair": {"size": spec.size, "duration_s": spec.duration, "bitrate": spec.bitrate,
                 "distorted": str(dist), "reference": str(ref), "frames": frames},
        "repeats": repeats,
        "methods": {name: results[name].to_dict() for name in METHODS},
        "ours_over_plain": round(ours.median / plain.median, 4),
        "ours_over_tool": round(ours.median / tool.median, 4),
        "overhead_over_plain_s": round(ours.median - plain.median, 4),
        "ours_over_plain_per_round_median": round(statistics.median(per_round), 4),
        "overhead_over_plain_per_round_median_s": round(
            statistics.median(o - p for o, p in zip(ours.times, plain.times, strict=True)), 4),
    }

    print(f"  {'method':<6} {'median (min..max)':<28} VMAF mean")
    for name in METHODS:
        result = results[name]
        score = "n/a" if result.vmaf_mean is None else f"{result.vmaf_mean:.6f}"
        note = "" if result.vmaf_stable else "  (varied between runs!)"
        print(f"  {name:<6} {_fmt_spread(result):<28} {score}{note}")
    print(f"  ours / plain = {summary['ours_over_plain']:.3f}   ours / tool = {summary['ours_over_tool']:.3f}   "
          f"ours - plain = {summary['overhead_over_plain_s']:+.3f} s   "
          f"(per-round median: ratio {summary['ours_over_plain_per_round_median']:.3f}, "
          f"diff {summary['overhead_over_plain_per_round_median_s']:+.3f} s)")

    scores = [score for score in (results[n].vmaf_mean for n in METHODS) if score is not None]
    if scores:
        spread = max(scores) - min(scores)
        summary["vmaf_max_difference"] = round(spread, 6)
        same = spread <= 0.001  # the tool rounds its mean to 3 decimals
        summary["vmaf_agree"] = bool(same)
        print(f"  VMAF agreement: max difference {spread:.6f} -> {'same scores' if same else 'SCORES DIFFER'}")
    return summary


def evaluate_goal(name: str, summary: dict[str, Any]) -> dict[str, Any] | None:
    if name == LARGE.name:
        ok = summary["ours_over_plain"] <= LARGE_MAX_RATIO
        goal = f"ours / plain <= {LARGE_MAX_RATIO:.2f} on {name}"
        got = f"{summary['ours_over_plain']:.3f}"
    elif name == SMALL.name:
        ok = summary["overhead_over_plain_s"] <= SMALL_MAX_OVERHEAD_S
        goal = f"ours - plain <= {SMALL_MAX_OVERHEAD_S:.2f} s on {name}"
        got = f"{summary['overhead_over_plain_s']:+.3f} s"
    else:
        return None
    return {"goal": goal, "measured": got, "met": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=None, help="libvmaf threads (default: the cores available)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed rounds per pair (default: {LARGE.default_repeats} for {LARGE.name}, "
                             f"{SMALL.default_repeats} for {SMALL.name})")
    parser.add_argument("--quick", action="store_true", help=f"only the small pair ({SMALL.name}), a smoke check")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where the sample pairs are kept")
    parser.add_argument("--output", type=Path, default=None,
                        help="results JSON (default: benchmarks/results/quality.json, quality-quick.json with --quick)")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")

    # --- untimed set-up: imports, binaries, sample pairs, a first measure() (PyAV import, code paths) ----------------
    t0 = time.perf_counter()
    import quality
    from quality.options import default_threads
    from quality.samples import make_pair
    import_s = time.perf_counter() - t0

    threads = args.threads or default_threads()
    if threads < 1:
        parser.error("--threads must be at least 1")
    ffmpeg = quality.resolve_ffmpeg()
    tool = shutil.which("ffmpeg-quality-metrics", path=str(Path(sys.executable).parent)) \
        or shutil.which("ffmpeg-quality-metrics")
    if tool is None:
        raise SystemExit("ffmpeg-quality-metrics not found: pip install 'ffmpeg-quality-metrics>=3.13,<4'")

    specs = [SMALL] if args.quick else [LARGE, SMALL]
    pairs: dict[str, tuple[Path, Path]] = {}
    t0 = time.perf_counter()
    for spec in (SMALL, *[s for s in specs if s is not SMALL]):
        print(f"sample pair {spec.name} ({spec.size}, {spec.duration:g} s, {spec.bitrate}) in {args.cache_dir} ...",
              flush=True)
        pairs[spec.name] = make_pair(args.cache_dir, size=spec.size, duration=spec.duration, bitrate=spec.bitrate)
    pairs_s = time.perf_counter() - t0

    runners = Runners(ffmpeg, tool, threads)
    t0 = time.perf_counter()
    runners.ours(*pairs[SMALL.name])  # imports PyAV and warms every code path of measure()
    warmup_s = time.perf_counter() - t0

    machine = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores_available": default_threads(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    versions = {
        "ffmpeg": _ffmpeg_version(ffmpeg),
        "quality": quality.__version__,
        "ffmpeg-quality-metrics": metadata.version("ffmpeg-quality-metrics"),
        "av": metadata.version("av"),
    }
    print(f"\nmachine: {machine['cpu']}, {machine['cores_available']} cores available, Python {machine['python']}")
    print(f"ffmpeg:  {ffmpeg}\n         {versions['ffmpeg']}")
    print(f"tool:    {tool} (ffmpeg-quality-metrics {versions['ffmpeg-quality-metrics']})")
    print(f"threads: {threads} (libvmaf n_threads for all three methods)")
    print(f"not timed: `import quality` {import_s:.3f} s, first measure() on {SMALL.name} incl. PyAV import "
          f"{warmup_s:.3f} s; ours is timed warm, in-process")

    results: dict[str, Any] = {}
    goals: dict[str, Any] = {}
    try:
        for spec in specs:
            repeats = args.repeats or spec.default_repeats
            results[spec.name] = bench_pair(runners, spec, *pairs[spec.name], repeats)
            goal = evaluate_goal(spec.name, results[spec.name])
            if goal is not None:
                goals[spec.name] = goal
    finally:
        runners.close()

    print("\n== goals")
    for goal in goals.values():
        print(f"  {'PASS' if goal['met'] else 'MISS'}  {goal['goal']}: measured {goal['measured']}")

    output = args.output or RESULTS_DIR / ("quality-quick.json" if args.quick else "quality.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "quality.measure (VMAF only) vs plain ffmpeg libvmaf vs ffmpeg-quality-metrics",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "threads": threads,
        "machine": machine,
        "versions": versions,
        "ffmpeg": ffmpeg,
        "tool": tool,
        "method": "interleaved rounds (ours, plain, tool), one uncounted warm-up round per pair; "
                  "ours timed warm in-process (import and first call excluded); time.perf_counter wall time",
        "untimed_setup_s": {"import_quality": round(import_s, 4), "sample_pairs": round(pairs_s, 4),
                            "first_measure_with_pyav_import": round(warmup_s, 4)},
        "commands": {
            "plain": runners.plain_cmd(Path("DIST"), Path("REF"), Path("PATH")),
            "tool": runners.tool_cmd(Path("DIST"), Path("REF"), Path("OUT")),
        },
        "pairs": results,
        "goals": goals,
    }
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, output)
    print(f"\nresults written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
