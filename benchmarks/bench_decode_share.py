"""How much of the CPU ladder is decoding and scaling: the work the ``gpu-decode`` path moves to NVDEC and
``scale_cuda`` on a GPU without NVENC (H100, H200, A100).

On a generated 1920x1080 source (testsrc2, x264 CRF 16) with the default 5-rung H.264 ladder (libx264 veryfast):

* **ladder** -- the engine's CPU command from ``worker.planning.plan_job``, exactly as a job runs it (decode,
  ``split``, 5 scales, 5 encodes, DASH/HLS packaging, poster).
* **decode+scale** -- the same input and filter graph with every rung sent to the null muxer as
  ``wrapped_avframe``: decoding, splitting and scaling, nothing encoded.

Runs are interleaved after one warm-up round; CPU seconds (user+sys of the ffmpeg process) and wall seconds are
medians. The share ``decode+scale / ladder`` of CPU seconds is the most the ``gpu-decode`` path can free for the
encoders; what it costs on the GPU side (NVDEC, ``scale_cuda``, one ``hwdownload`` per rung over PCIe) needs a GPU
to measure (``python -m worker selftest`` and this script's GPU twin on a lent machine).

    .venv/bin/python benchmarks/bench_decode_share.py [--duration 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import quality
from worker.ladder import DEFAULT_PROFILE
from worker.planning import plan_job
from worker.settings import EngineSettings

HERE = Path(__file__).parent


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def decode_scale_only(argv: list[str], rungs: int) -> list[str]:
    graph = argv[argv.index("-filter_complex") + 1]
    chains = [c for c in graph.split(";") if "[poster]" not in c]
    head = chains[0].replace(f"split={rungs + 1}", f"split={rungs}").replace(f"[s{rungs}]", "")
    graph = ";".join([head, *chains[1:]])
    cmd = argv[: argv.index("-filter_complex")] + ["-filter_complex", graph]
    for i in range(rungs):
        cmd += ["-map", f"[v{i}]"]
    cmd = [a for a in cmd if a not in ("-progress", "pipe:1")]
    return cmd + ["-c:v", "wrapped_avframe", "-f", "null", "-"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ffmpeg = quality.resolve_ffmpeg(None)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mp4"
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i",
                        f"testsrc2=size=1920x1080:rate=30:duration={args.duration}", "-c:v", "libx264", "-preset",
                        "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", str(src)], check=True)
        job = plan_job(src, Path(tmp) / "out", DEFAULT_PROFILE, EngineSettings(encoder="cpu"))
        ladder = list(job.argv)
        only = decode_scale_only(ladder, len(job.rungs))
        Path(tmp, "out").mkdir()
        results: dict[str, list[tuple[float, float]]] = {"ladder": [], "decode+scale": []}
        for round_ in range(args.repeats + 1):
            for name, cmd in (("ladder", ladder), ("decode+scale", only)):
                measured = timed(cmd)
                if round_:
                    results[name].append(measured)
    summary = {name: {"wall_s": statistics.median(w for w, _ in runs), "cpu_s": statistics.median(c for _, c in runs)}
               for name, runs in results.items()}
    share = summary["decode+scale"]["cpu_s"] / summary["ladder"]["cpu_s"]
    for name, s in summary.items():
        print(f"{name:>13}: {s['wall_s']:.2f}s wall, {s['cpu_s']:.2f}s CPU")
    print(f"decode+scale share of the CPU ladder's CPU time: {share:.1%} "
          f"(the most gpu-decode can free for the encoders)")
    out = {"source": {"size": "1920x1080", "duration_s": args.duration}, "rungs": [r.name for r in job.rungs],
           "repeats": args.repeats, "results": summary, "decode_scale_cpu_share": round(share, 4)}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "decode_share.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
