"""How the sampled gate's error moves with its policy, from full scoring alone.

A window scores exactly the frames full scoring scores (``tests/integration/test_ladder_scoring.py`` shows every
windowed frame equal to the full-scoring value of that frame), less the first frame of a window that starts
mid-title. So the estimate of any window plan can be computed from one full scoring's per-frame values, without
running the windows. For each title that ``bench_quality_stage.py`` left in its cache (``*_pkg`` with a
``manifest.json``), this scores the title in full once (per-frame values cached in ``full_frames.json``), then, for
a grid of (spacing, minimum windows), plans the windows as the engine would and reports the worst error of mean,
harmonic mean and p5 over the renditions, and the share of frames scored.

    .venv/bin/python benchmarks/bench_sampling_sweep.py [--cache-dir benchmarks/.cache/quality_stage]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench_quality_stage import HERE, OPTIONS, ladder_parts, score

from quality.ladder import SamplingPolicy, plan_windows, segment_frame_counts
from quality.results import pool

GRID = [(spacing, minimum) for spacing in (15, 20, 30, 40) for minimum in (8, 15)]


def full_frames(name: str, source: Path, out: Path, manifest: dict[str, Any]) -> dict[str, list[list[float]]]:
    cache = out / "full_frames.json"
    if cache.exists():
        data: dict[str, list[list[float]]] = json.loads(cache.read_text())
        return data
    result, elapsed = score(source, out, manifest, SamplingPolicy(mode="full"))
    print(f"{name}: full scoring {elapsed:.1f}s", flush=True)
    data = {s.name: [[float(r["frame"]), float(r["vmaf"])] for r in s.frames] for s in result.scores}
    cache.write_text(json.dumps(data))
    return data


def estimate(frames: list[list[float]], windows: list[tuple[int, int]]) -> dict[str, float | int]:
    keep = []
    for frame, value in frames:
        for start, count in windows:
            if start <= frame < start + count and not (start > 0 and frame == start):
                keep.append(value)
                break
    return pool(keep)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache" / "quality_stage")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "sampling_sweep.json")
    args = parser.parse_args()
    sources = {p.stem: p for p in args.cache_dir.glob("*.mp4")}
    report: list[dict[str, Any]] = []
    for out in sorted(args.cache_dir.glob("*_pkg")):
        manifest_path = out / "manifest.json"
        name = out.name[: -len("_pkg")]
        source = next((sources[c] for c in (name, name.removesuffix("s_720p"), name.removesuffix("s"))
                       if c in sources), None)
        if not manifest_path.exists() or source is None or name.startswith("stage"):
            continue
        manifest = json.loads(manifest_path.read_text())
        frames = full_frames(name, source, out, manifest)
        parts, rate, _ = ladder_parts(out, manifest)
        smallest = min(parts, key=lambda r: r.width * r.height)
        counts = segment_frame_counts(smallest)
        whole = {r: pool([v for _, v in rows]) for r, rows in frames.items()}
        for spacing, minimum in GRID:
            policy = SamplingPolicy(mode="windows", spacing_s=spacing, min_windows=minimum)
            _, windows = plan_windows(counts, smallest.segments, rate, policy)
            spans = [(w.start_frame, w.frames) for w in windows]
            errors = {"mean": 0.0, "harmonic_mean": 0.0, "p5": 0.0}
            for rendition, rows in frames.items():
                sampled = estimate(rows, spans)
                for key in errors:
                    errors[key] = max(errors[key], abs(float(sampled[key]) - float(whole[rendition][key])))
            share = sum(w.frames for w in windows) / sum(counts)
            row = {"title": name, "duration_s": round(sum(counts) / float(rate)), "spacing_s": spacing,
                   "min_windows": minimum, "windows": len(windows), "share": round(share, 3),
                   **{f"worst_{k}_error": round(v, 3) for k, v in errors.items()}}
            report.append(row)
            print(json.dumps(row), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"subsample": OPTIONS.subsample, "rows": report}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
