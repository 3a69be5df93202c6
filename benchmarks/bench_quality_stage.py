"""The engine's quality stage against its encode, and sampled scoring against full scoring.

Three parts, each printing its ratio or its error and writing ``benchmarks/results/quality_stage.json``:

* **stage** -- a generated 1920x1080 20 s source (testsrc2 and a sine tone, as in bench_engine), the default ladder
  on the CPU. Per round, interleaved: ``worker.engine.transcode`` with the quality gate on (its manifest's
  ``timings`` give the encode and the quality stage), then the obvious alternative on the same package: one
  ``quality.measure`` per rendition on a copy of the rendition (init + segments), which is what the engine did
  before, each decoding the source again. Goal: quality stage at most 0.5x the encode.
* **long** -- a generated 10-minute 1280x720 source of varied content (see ``varied_source``), the default ladder
  on the CPU, encoded once with the gate off (its encode time), then scored in full and with the default sampled
  windows. Goals: windows at most 0.15x the encode; window mean within 0.5 and p5 within 2 of full scoring.
* **sampling** -- the estimate's error on a varied set: the 10-minute title, the real clips of
  ``../shared/corpus`` joined (scene changes, real camera noise and animation), a calm 3-minute title, and a
  3-minute title whose middle 20 s is noise at the same bitrates (a quality drop confined to one part). For each
  rendition: full vs windows, on mean, harmonic mean, p5 and min.

    .venv/bin/python benchmarks/bench_quality_stage.py [--parts stage,long,sampling] [--repeats 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import quality
from quality.ladder import RenditionParts, SamplingPolicy
from quality.ladder_scoring import LadderResult, plan_scoring, score_ladder
from quality.runner import run_ffmpeg_capture
from worker.engine import transcode
from worker.ladder import DEFAULT_PROFILE
from worker.package import collect_renditions
from worker.settings import EngineSettings

HERE = Path(__file__).parent
CORPUS = HERE.parent.parent / "shared" / "corpus"


def ff(*args: str) -> None:
    run_ffmpeg_capture([quality.resolve_ffmpeg(), "-nostdin", "-v", "error", "-y", *args], timeout=3600)


def stage_source(path: Path, size: str, seconds: int) -> Path:
    """The engine benchmark's source (testsrc2 and a tone), as a mezzanine: x264 CRF 18 (about 4 Mbit/s)."""
    if not path.exists():
        ff("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


# each part: (lavfi source, seconds); every one is scaled to 1280x720 at 30 fps
SCENES = [
    ("testsrc2=size=1280x720:rate=30", 1),
    ("mandelbrot=size=1280x720:rate=30", 1),
    ("cellauto=size=1280x720:rate=30:rule=110,scale=1280:720", 1),
    ("life=size=320x180:rate=30:mold=10:ratio=0.3,scale=1280:720:flags=neighbor", 1),
    ("testsrc2=size=1280x720:rate=30,noise=alls=25:allf=t", 1),
    ("smptehdbars=size=1280x720:rate=30,noise=alls=6:allf=t", 1),
    ("gradients=size=1280x720:rate=30:speed=0.05", 1),
]


def varied_source(path: Path, seconds: int, tmp: Path, *, drop_at: float | None = None) -> Path:
    """Scenes of different complexity in turn (a cut every ``seconds / 20``); ``drop_at`` puts 20 s of heavy
    noise there, which the fixed-bitrate rungs cannot keep up with: a quality drop confined to one part."""
    if path.exists():
        return path
    parts = []
    scene_s = max(2, seconds // 20)
    t = 0
    i = 0
    while t < seconds:
        length = min(scene_s, seconds - t)
        spec = SCENES[i % len(SCENES)][0]
        if drop_at is not None and drop_at <= t < drop_at + 20:
            spec, length = "testsrc2=size=1280x720:rate=30,noise=alls=60:allf=t+u", min(20, seconds - t)
        part = tmp / f"part_{i:03d}.mp4"
        ff("-f", "lavfi", "-i", f"{spec},format=yuv420p", "-t", str(length), "-c:v", "libx264", "-preset",
           "veryfast", "-crf", "16", "-g", "60", str(part))
        parts.append(part)
        t += length
        i += 1
    join(parts, path, tmp)
    return path


def join(parts: list[Path], path: Path, tmp: Path) -> None:
    """One encode of the parts in turn. Not ``-c copy``: a file joined that way (parts of 25 Mbit/s) makes libvmaf's
    two-input graph stop at 45 s of 60 even against itself, a hazard of such files and not of the gate."""
    listing = tmp / f"{path.stem}.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    ff("-f", "concat", "-safe", "0", "-i", str(listing), "-c:v", "libx264", "-preset", "veryfast", "-crf", "17",
       "-g", "60", "-pix_fmt", "yuv420p", str(path))


def corpus_source(path: Path, tmp: Path) -> Path | None:
    clips = sorted(p for p in CORPUS.glob("*") if p.suffix in (".mp4", ".mkv"))
    if not clips:
        return None
    if not path.exists():
        parts = []
        for n, clip in enumerate(clips * 2):
            part = tmp / f"corpus_{n:02d}.mp4"
            ff("-i", str(clip), "-an", "-vf", "scale=1280:720,setsar=1,fps=30,format=yuv420p", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", "16", str(part))
            parts.append(part)
        join(parts, path, tmp)
    return path


def ladder_parts(out: Path, manifest: dict[str, Any]) -> tuple[list[RenditionParts], Fraction, tuple[int, int]]:
    files = collect_renditions(out, len(manifest["renditions"]) + (1 if manifest["audio"] else 0),
                               duration=manifest["source"]["duration"], segment_seconds=manifest["segment_seconds"])
    parts = [RenditionParts(r["name"], out, f.init, f.segments, r["width"], r["height"])
             for r, f in zip(manifest["renditions"], files, strict=False)]
    return parts, Fraction(manifest["renditions"][0]["frame_rate"]), (manifest["source"]["width"],
                                                                      manifest["source"]["height"])


OPTIONS = quality.MeasureOptions(metrics=("vmaf",), subsample=EngineSettings().vmaf_subsample)


def score(source: Path, out: Path, manifest: dict[str, Any], policy: SamplingPolicy) -> tuple[LadderResult, float]:
    parts, rate, size = ladder_parts(out, manifest)
    started = time.perf_counter()
    plan = plan_scoring(parts, rate=rate, display_size=size, options=OPTIONS, policy=policy)
    result = score_ladder(source, parts, plan, OPTIONS, out.parent / "scratch", reference_size=size)
    return result, time.perf_counter() - started


def old_path(source: Path, out: Path, manifest: dict[str, Any]) -> float:
    """Before: one quality.measure per rendition, each on a whole copy of the rendition in $TMPDIR."""
    parts, _, _ = ladder_parts(out, manifest)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            joined = Path(tmp) / f"{part.name}.mp4"
            with joined.open("wb") as sink:
                for name in (part.init, *part.segments):
                    sink.write((out / name).read_bytes())
            quality.measure(joined, source, OPTIONS)
    return time.perf_counter() - started


def part_stage(work: Path, repeats: int, quick: bool) -> dict[str, Any]:
    seconds = 6 if quick else 20
    source = stage_source(work / f"stage_{seconds}.mp4", "1920x1080", seconds)
    settings = EngineSettings(encoder="cpu", quality_policy="flag", quality_sampling="full")
    rounds = []
    for r in range(repeats + 1):
        out = work / "stage_pkg"
        shutil.rmtree(out, ignore_errors=True)
        manifest = transcode(source, out, profile=DEFAULT_PROFILE, settings=settings)
        before = old_path(source, out, manifest)
        row = {"encode_s": manifest["timings"]["encode"], "quality_s": manifest["timings"]["quality"],
               "old_quality_s": round(before, 3)}
        print(f"  stage round {r}{' (warm-up, not counted)' if r == 0 else ''}: {row}", flush=True)
        if r:
            rounds.append(row)
    sweep = []
    base = None
    for subsample in (5, 10, 15):
        options = quality.MeasureOptions(metrics=("vmaf",), subsample=subsample)
        parts, rate, size = ladder_parts(out, manifest)
        started = time.perf_counter()
        plan = plan_scoring(parts, rate=rate, display_size=size, options=options, policy=SamplingPolicy(mode="full"))
        result = score_ladder(source, parts, plan, options, work / "scratch", reference_size=size)
        elapsed = time.perf_counter() - started
        pooled = [(s.pooled["vmaf"]["mean"], s.pooled["vmaf"]["p5"]) for s in result.scores]
        base = base or pooled
        sweep.append({"subsample": subsample, "quality_s": round(elapsed, 2),
                      "worst_mean_shift": round(max(abs(a[0] - b[0]) for a, b in zip(pooled, base, strict=True)), 3),
                      "worst_p5_shift": round(max(abs(a[1] - b[1]) for a, b in zip(pooled, base, strict=True)), 3)})
        print(f"  subsample {subsample}: {sweep[-1]}", flush=True)
    encode = statistics.median(r["encode_s"] for r in rounds)
    stage = statistics.median(r["quality_s"] for r in rounds)
    old = statistics.median(r["old_quality_s"] for r in rounds)
    summary = {"source": f"1920x1080 {seconds}s", "rounds": rounds, "encode_s": encode, "quality_s": stage,
               "old_quality_s": old, "quality_over_encode": round(stage / encode, 3),
               "old_quality_over_encode": round(old / encode, 3), "old_over_new": round(old / stage, 2),
               "goal_quality_over_encode": 0.5, "subsample_sweep": sweep}
    print(f"stage: quality {stage:.2f}s / encode {encode:.2f}s = {stage / encode:.3f}x (goal <= 0.5); the old "
          f"per-rendition path {old:.2f}s = {old / encode:.3f}x, {old / stage:.2f}x the new", flush=True)
    return summary


def compare(full: LadderResult, sampled: LadderResult) -> list[dict[str, Any]]:
    rows = []
    for whole, part in zip(full.scores, sampled.scores, strict=True):
        row: dict[str, Any] = {"rendition": whole.name}
        for key in ("mean", "harmonic_mean", "p5", "min"):
            row[f"full_{key}"] = round(float(whole.pooled["vmaf"][key]), 3)
            row[f"windows_{key}"] = round(float(part.pooled["vmaf"][key]), 3)
            row[f"error_{key}"] = round(float(part.pooled["vmaf"][key]) - float(whole.pooled["vmaf"][key]), 3)
        rows.append(row)
    return rows


def title(name: str, source: Path, work: Path) -> dict[str, Any]:
    out = work / f"{name}_pkg"
    manifest_path = out / "manifest.json"
    started = time.perf_counter()
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    else:
        manifest = transcode(source, out, profile=DEFAULT_PROFILE,
                             settings=EngineSettings(encoder="cpu", quality_policy="off"))
    encode_wall = time.perf_counter() - started
    full, full_s = score(source, out, manifest, SamplingPolicy(mode="full"))
    sampled, sampled_s = score(source, out, manifest, EngineSettings().sampling_policy())
    rows = compare(full, sampled)
    worst = {key: max(abs(r[f"error_{key}"]) for r in rows) for key in ("mean", "harmonic_mean", "p5", "min")}
    result = {"title": name, "duration_s": manifest["source"]["duration"], "encode_s": manifest["timings"]["encode"],
              "encode_wall_s": round(encode_wall, 1), "full_s": round(full_s, 2), "windows_s": round(sampled_s, 2),
              "windows": len(sampled.plan.windows), "frames_compared": sampled.plan.frames_compared,
              "frames_total": sampled.plan.total_frames, "renditions": rows, "worst_error": worst}
    print(f"{name}: {manifest['source']['duration']:.0f}s, encode {manifest['timings']['encode']:.1f}s, full "
          f"{full_s:.1f}s ({full_s / manifest['timings']['encode']:.3f}x), windows {sampled_s:.1f}s "
          f"({sampled_s / manifest['timings']['encode']:.3f}x, {len(sampled.plan.windows)} windows, "
          f"{sampled.plan.frames_compared}/{sampled.plan.total_frames} frames); worst error {worst}", flush=True)
    for row in rows:
        print(f"    {row['rendition']}: mean {row['full_mean']:.2f} vs {row['windows_mean']:.2f}, p5 "
              f"{row['full_p5']:.2f} vs {row['windows_p5']:.2f}, min {row['full_min']:.2f} vs "
              f"{row['windows_min']:.2f}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="stage,long,sampling")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="short sources: a smoke check, not a measurement")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache" / "quality_stage")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "quality_stage.json")
    args = parser.parse_args()
    work = args.cache_dir
    work.mkdir(parents=True, exist_ok=True)
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {"threads": quality.options.default_threads(), "subsample": OPTIONS.subsample,
                               "policy": EngineSettings().sampling_policy().__dict__}
    if "stage" in parts:
        results["stage"] = part_stage(work, args.repeats, args.quick)
    long_s = 60 if args.quick else 600
    if "long" in parts or "sampling" in parts:
        src = varied_source(work / f"varied_{long_s}.mp4", long_s, Path(tempfile.mkdtemp(dir=work)))
        results["long"] = title(f"varied_{long_s}s_720p", src, work)
        results["long"]["goals"] = {"windows_over_encode": 0.15, "mean_error": 0.5, "p5_error": 2}
    if "sampling" in parts:
        titles = []
        short = 40 if args.quick else 180
        scratch = Path(tempfile.mkdtemp(dir=work))
        corpus = corpus_source(work / "corpus_joined.mp4", scratch)
        if corpus is not None:
            titles.append(title("corpus_joined", corpus, work))
        calm = work / f"calm_{short}.mp4"
        if not calm.exists():
            ff("-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={short}", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", str(calm))
        titles.append(title(f"calm_{short}s", calm, work))
        drop = varied_source(work / f"drop_{short}.mp4", short, Path(tempfile.mkdtemp(dir=work)), drop_at=short / 2)
        titles.append(title(f"drop_{short}s", drop, work))
        results["sampling"] = titles
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
