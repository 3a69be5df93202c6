"""The content-aware ladder against the fixed default ladder, on generated and real clips, plus its cost on a long one.

Per clip, three ladders through ``worker.engine.transcode`` (libx264 veryfast, CPU path, the quality gate on,
every frame scored, full title):

* **fixed**: the built-in ``default`` profile as it was before ``worker.ladder_caps`` (switched off for this run
  only): 1080p 5000k, 720p 3000k, 540p 2000k, 360p 1000k, 240p 500k, never upscaled;
* **fixed+caps**: the same profile with the caps and the de-duplication (every job gets these now);
* **content-aware**: the built-in ``content-aware`` profile (targets 93, 87, 81, 75, 69).

Every rung is judged against the content-aware targets by position, top first (the fixed ladder's own gate has
thresholds on its top two rungs only, 90 and 85): *met* (mean VMAF at or above), *source-limited* (the analysis
found the target out of reach within what the source carries or the profile allows: reported, not a miss) or
*miss*. BD-rate (``quality.bdrate``, cubic fit of log rate on VMAF) of each ladder's rungs (measured bitrate, mean
VMAF) against the fixed ladder's, per clip. Then the analysis' wall time as a share of the ladder encode's, on one
long generated source (``--long-minutes``, ``--long-size``; the quality gate off there: it is not part of either).

Corpus: three generated 1280x720 10 s clips (static detailed slides changing every 3.3 s, flat-colour animation,
high-motion noise) and the six real clips of ``../shared/corpus`` (CLIPS.tsv: licences and credits).

Goals: every rung of every clip meets its target where the source allows it; content-aware at least 40 % fewer
total ladder bits than the fixed ladder over the corpus; where the fixed ladder misses a target, the content-aware
one meets it or shows the source cannot; the analysis at most 30 % of the ladder encode's time on a 10-minute source.

    .venv/bin/python benchmarks/bench_content_aware.py [--quick] [--long-minutes 10] [--long-size 1920x1080]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import quality
from quality.bdrate import bd_rate
from worker.engine import transcode
from worker.ladder import CONTENT_AWARE_PROFILE, DEFAULT_PROFILE, Profile
from worker.settings import EngineSettings

HERE = Path(__file__).parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
REAL = ["flower.mp4", "S01_Big_Buck_Bunny_720_10s_1MB.mkv", "Seeking_30_480_1050.mp4", "car-detection.mp4",
        "book.mkv", "bottle-detection.mp4"]
CREDITS = {"S01_Big_Buck_Bunny_720_10s_1MB.mkv": "Big Buck Bunny (c) Blender Foundation, CC-BY-3.0",
           "car-detection.mp4": "Intel sample-videos, CC-BY-4.0", "book.mkv": "Intel sample-videos, CC-BY-4.0",
           "bottle-detection.mp4": "Intel sample-videos, CC-BY-4.0"}
GENERATED = {
    "slides": "mandelbrot=size={size}:rate=0.3,fps=30,trim=duration={d},format=yuv420p",
    "animation": "testsrc2=size={size}:rate=30:duration={d}",
    "noisy": "testsrc2=size={size}:rate=30:duration={d},scroll=h=0.02:v=0.01,noise=alls=12:allf=t+u",
}
TARGETS = CONTENT_AWARE_PROFILE.content_aware.targets if CONTENT_AWARE_PROFILE.content_aware else ()


@contextmanager
def without_caps() -> Iterator[None]:
    """The fixed ladder as it was: ``plan_job`` without ``adjust_ladder``."""
    import worker.planning as planning

    saved = planning.adjust_ladder
    planning.adjust_ladder = lambda rungs, *args, **kwargs: (list(rungs), [])  # type: ignore[assignment]
    try:
        yield
    finally:
        planning.adjust_ladder = saved


def generate(ffmpeg: str, name: str, graph: str, path: Path, crf: int = 18) -> Path:
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr)
        quality.run_ffmpeg_capture([ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-c:v",
                                    "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
                                    str(path)], timeout=7200)
    return path


def run_ladder(clip: Path, profile: Profile, settings: EngineSettings, capped: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-ca-"))
    try:
        started = time.perf_counter()
        if capped:
            manifest = transcode(clip, work / "pkg", profile=profile, settings=settings)
        else:
            with without_caps():
                manifest = transcode(clip, work / "pkg", profile=profile, settings=settings)
        manifest["wall_s"] = time.perf_counter() - started
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def limits(analysis: dict[str, Any] | None) -> dict[float, str]:
    """Targets the analysis found out of reach within the caps, with why: a chosen or dropped point marked
    ``limited`` (or, in manifests from before that field on dropped points, one predicted under its target, which
    the choice gives only to a target out of reach)."""
    analysis = analysis or {}
    out = {c["target_vmaf"]: c["limited"] for c in analysis.get("chosen", []) if c["limited"]}
    for d in analysis.get("dropped", []):
        if d.get("limited") or d["predicted_vmaf"] < d["target_vmaf"]:
            out.setdefault(d["target_vmaf"], d.get("limited") or "out of reach")
    return out


def verdict(target: float | None, mean: float | None, limited: dict[float, str]) -> str:
    if target is None or mean is None:
        return "no-target"
    if mean >= target:
        return "met"
    return "source-limited" if target in limited else "miss"


def rungs_of(manifest: dict[str, Any], aware: dict[str, Any]) -> list[dict[str, Any]]:
    """Each rung with its target and verdict; a target counts as source-limited where the content-aware analysis
    of the same clip found it out of reach."""
    limited = limits(aware.get("analysis"))
    chosen = {c["rung"]: c for c in (manifest.get("analysis") or {}).get("chosen", [])}
    rows = []
    for i, r in enumerate(manifest["renditions"]):
        target = chosen[r["name"]]["target_vmaf"] if r["name"] in chosen else (TARGETS[i] if i < len(TARGETS)
                                                                                  else None)
        vmaf = r["vmaf"] or {}
        mean, p5 = vmaf.get("mean"), vmaf.get("p5")
        rows.append({"name": r["name"], "width": r["width"], "height": r["height"],
                     "target_bitrate": r["target_bitrate"], "measured_bitrate": r["measured_bitrate"],
                     "size_bytes": r["size_bytes"], "vmaf_mean": mean, "vmaf_p5": p5, "target": target,
                     "verdict": verdict(target, mean, limited),
                     "limited": limited.get(target) if target is not None else None})
    return rows


def covered(target: float, aware_rows: list[dict[str, Any]], analysis: dict[str, Any] | None) -> str:
    """Whether the content-aware ladder serves ``target``: a rung scoring at least that, or the source cannot."""
    if any((r["vmaf_mean"] or 0) >= target for r in aware_rows):
        return "met"
    return "source-limited" if target in limits(analysis) else "miss"


def curve(rows: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    rows = [r for r in rows if r["vmaf_mean"] is not None]
    return [float(r["measured_bitrate"]) for r in rows], [float(r["vmaf_mean"]) for r in rows]


def corpus(ffmpeg: str, cache: Path, quick: bool) -> dict[str, Path]:
    size, duration = ("640x360", 2) if quick else ("1280x720", 10)
    clips = {f"{name} (generated)": generate(ffmpeg, name, graph.format(size=size, d=duration),
                                             cache / f"ca_{name}_{size}_{duration}s.mp4")
             for name, graph in GENERATED.items()}
    for name in REAL[: 1 if quick else None]:
        if (CORPUS / name).exists():
            clips[name] = CORPUS / name
    return clips


def long_share(ffmpeg: str, cache: Path, minutes: float, size: str) -> dict[str, Any]:
    seconds = minutes * 60
    graph = f"testsrc2=size={size}:rate=30:duration={seconds:g}"
    src = generate(ffmpeg, "long", graph, cache / f"ca_long_{size}_{minutes:g}min.mp4")
    settings = EngineSettings(encoder="cpu", quality_policy="off")
    manifest = run_ladder(src, CONTENT_AWARE_PROFILE, settings, capped=True)
    analysis, encode = manifest["timings"]["analysis"], manifest["timings"]["encode"]
    a = manifest["analysis"]
    return {"source": {"size": size, "minutes": minutes, "content": graph}, "analysis_s": analysis,
            "encode_s": encode, "share": analysis / encode, "analysed_frames": a["frames"],
            "windows": len(a["windows"]), "probes": len(a["probes"]),
            "rungs": [(r["name"], r["target_bitrate"]) for r in manifest["renditions"]]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small generated clips and one real clip, a 1-minute "
                                                             "long source: a smoke check of the script")
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--long-size", default="1920x1080")
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "content_aware.json")
    parser.add_argument("--from-json", type=Path, help="recompute the verdicts and totals of a saved run and print "
                                                       "its tables (nothing is encoded)")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        summarise(results)
        report(results)
        args.output.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    if args.quick:
        args.long_minutes, args.long_size = 1.0, "640x360"
    ffmpeg = quality.resolve_ffmpeg()
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    settings = EngineSettings(encoder="cpu", quality_policy="flag", vmaf_subsample=1, quality_sampling="full")
    results: dict[str, Any] = {"clips": {}, "targets": list(TARGETS), "machine": {
        "cores": quality.options.default_threads(), "python": platform.python_version(), "ffmpeg": ffmpeg}}
    for name, clip in corpus(ffmpeg, cache, args.quick).items():
        print(f"{name}: fixed, fixed+caps, content-aware ...", file=sys.stderr)
        fixed = run_ladder(clip, DEFAULT_PROFILE, settings, capped=False)
        capped = run_ladder(clip, DEFAULT_PROFILE, settings, capped=True)
        aware = run_ladder(clip, CONTENT_AWARE_PROFILE, settings, capped=True)
        rows = {"fixed": rungs_of(fixed, aware), "fixed+caps": rungs_of(capped, aware),
                "content-aware": rungs_of(aware, aware)}
        entry: dict[str, Any] = {"source": {k: fixed["source"][k] for k in ("width", "height", "duration",
                                                                            "video_bitrate")},
                                 "credit": CREDITS.get(name), "ladders": {}}
        for ladder, manifest in (("fixed", fixed), ("fixed+caps", capped), ("content-aware", aware)):
            total = sum(r["size_bytes"] for r in rows[ladder])
            entry["ladders"][ladder] = {"bytes": total, "rungs": rows[ladder], "timings": manifest["timings"],
                                        "adjustments": manifest["adjustments"]}
        entry["analysis"] = {k: aware["analysis"][k] for k in ("sampling", "frames", "probes", "hull", "chosen",
                                                               "dropped", "searched", "seconds")}
        anchor = curve(rows["fixed"])
        entry["bd_rate"] = {ladder: bd_rate(*anchor, *curve(rows[ladder])) for ladder in ("fixed+caps",
                                                                                          "content-aware")}
        results["clips"][name] = entry
        print(f"  bytes fixed {entry['ladders']['fixed']['bytes']}, capped {entry['ladders']['fixed+caps']['bytes']},"
              f" content-aware {entry['ladders']['content-aware']['bytes']}; BD-rate {entry['bd_rate']}",
              file=sys.stderr)
    summarise(results)
    if not args.skip_long:
        print(f"long source: {args.long_minutes:g} min of {args.long_size} ...", file=sys.stderr)
        results["long"] = long_share(ffmpeg, cache, args.long_minutes, args.long_size)
    report(results)
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def summarise(results: dict[str, Any]) -> None:
    """Verdicts, totals and the goals' figures, from the per-clip results (also re-run on a saved file)."""
    totals = {ladder: 0 for ladder in ("fixed", "fixed+caps", "content-aware")}
    for entry in results["clips"].values():
        limited = limits(entry["analysis"])
        for ladder, data in entry["ladders"].items():
            totals[ladder] += data["bytes"]
            for r in data["rungs"]:
                r["verdict"] = verdict(r["target"], r["vmaf_mean"], limited)
                r["limited"] = limited.get(r["target"]) if r["target"] is not None else None
        aware_rows = entry["ladders"]["content-aware"]["rungs"]
        entry["fixed_misses"] = [{"rung": r["name"], "target": r["target"], "vmaf": r["vmaf_mean"],
                                  "content_aware": covered(r["target"], aware_rows, entry["analysis"])}
                                 for r in entry["ladders"]["fixed"]["rungs"] if r["verdict"] == "miss"]
    results["totals_bytes"] = totals
    results["content_aware_vs_fixed"] = totals["content-aware"] / totals["fixed"] - 1
    results["caps_vs_fixed"] = totals["fixed+caps"] / totals["fixed"] - 1
    all_aware = [r for c in results["clips"].values() for r in c["ladders"]["content-aware"]["rungs"]]
    results["content_aware_verdicts"] = {v: sum(r["verdict"] == v for r in all_aware)
                                         for v in ("met", "source-limited", "miss")}
    fixed_misses = [m for c in results["clips"].values() for m in c["fixed_misses"]]
    results["fixed_under_target"] = sum(r["verdict"] in ("miss", "source-limited") for c in results["clips"].values()
                                        for r in c["ladders"]["fixed"]["rungs"])
    results["fixed_misses"] = len(fixed_misses)
    results["fixed_misses_covered"] = sum(m["content_aware"] != "miss" for m in fixed_misses)


def report(results: dict[str, Any]) -> None:
    print("\n| clip | source | fixed | fixed+caps | content-aware | CA vs fixed | rungs (fixed / CA) "
          "| CA per rung: VMAF mean / p5 vs target | BD-rate CA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, c in results["clips"].items():
        s = c["source"]
        lad = c["ladders"]
        aware = lad["content-aware"]
        per = ", ".join(f"{r['name']} {r['measured_bitrate'] / 1000:.0f}k {r['vmaf_mean']:.1f}/{r['vmaf_p5']:.1f} "
                        f"vs {r['target']:g}{'' if r['verdict'] == 'met' else ' ' + r['verdict']}"
                        for r in aware["rungs"])
        bd = c["bd_rate"]["content-aware"]
        print(f"| {name} | {s['width']}x{s['height']} {(s['video_bitrate'] or 0) / 1000:.0f}k | "
              f"{lad['fixed']['bytes'] / 1e6:.2f} MB | {lad['fixed+caps']['bytes'] / 1e6:.2f} MB | "
              f"{aware['bytes'] / 1e6:.2f} MB | {100 * (aware['bytes'] / lad['fixed']['bytes'] - 1):+.0f}% | "
              f"{len(lad['fixed']['rungs'])} / {len(aware['rungs'])} | {per} | "
              f"{'n/a' if bd is None else f'{bd:+.0f}%'} |")
    t = results["totals_bytes"]
    print(f"\ntotal ladder bytes: fixed {t['fixed'] / 1e6:.2f} MB, fixed+caps {t['fixed+caps'] / 1e6:.2f} MB "
          f"({100 * results['caps_vs_fixed']:+.1f}%), content-aware {t['content-aware'] / 1e6:.2f} MB "
          f"({100 * results['content_aware_vs_fixed']:+.1f}%; goal <= -40%: "
          f"{'PASS' if results['content_aware_vs_fixed'] <= -0.40 else 'MISS'})")
    v = results["content_aware_verdicts"]
    print(f"content-aware rungs: {v['met']} met, {v['source-limited']} source-limited, {v['miss']} missed "
          f"(goal 0 missed: {'PASS' if v['miss'] == 0 else 'MISS'})")
    all_covered = results["fixed_misses_covered"] == results["fixed_misses"]
    print(f"fixed-ladder rungs under their target: {results['fixed_under_target']}, of which "
          f"{results['fixed_under_target'] - results['fixed_misses']} where the analysis shows the source cannot "
          f"reach it; the other {results['fixed_misses']}: content-aware meets or shows the source cannot "
          f"{results['fixed_misses_covered']} ({'PASS' if all_covered else 'MISS'})")
    if "long" in results:
        long = results["long"]
        print(f"long source {long['source']['minutes']:g} min {long['source']['size']}: analysis "
              f"{long['analysis_s']:.1f}s, encode {long['encode_s']:.1f}s, share {100 * long['share']:.1f}% "
              f"(goal <= 30%: {'PASS' if long['share'] <= 0.30 else 'MISS'})")


if __name__ == "__main__":
    sys.exit(main())
