"""Wall time of the engine's one-pass ladder against one ffmpeg process per rendition and a hand-written split.

On a generated 1920x1080 20 s source (testsrc2 + a sine tone) with the same 4-rung H.264 ladder (1080p 5000k,
720p 3000k, 540p 2000k, 360p 1000k; libx264 veryfast, 2 s GOP, no scene cuts; AAC 128k) and CMAF packaging:

* **engine** -- ``worker.engine.transcode`` with ``encoder=cpu`` and quality measurement off: probe, plan, one
  ffmpeg process (decode once, ``split``, 4 scales, 4 encodes, audio once, DASH+HLS over the same segments, a
  poster), master playlist, manifest, publish by rename.
* **naive** -- what a script does first: one ffmpeg process per rendition, each decoding the source again and
  packaging its own HLS fMP4, plus one process for the audio, run one after the other.
* **split** -- a hand-written single ffmpeg command with ``split`` producing the same renditions and packaging
  (no poster, no manifest): the floor.

The runs are interleaved (engine, naive, split, engine, ...) after one uncounted warm-up round, because this
machine drifts by 3-13 % between runs; medians and the spread (min..max) are reported, then the ratios.
Goals: engine at least 1.4x faster than naive; engine within 5 % of split.

    .venv/bin/python benchmarks/bench_engine.py [--repeats 3] [--duration 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import quality
from worker.engine import transcode
from worker.ladder import Profile, Rung
from worker.settings import EngineSettings

HERE = Path(__file__).parent
RUNGS = [(1920, 1080, 5000), (1280, 720, 3000), (960, 540, 2000), (640, 360, 1000)]
GOP_S = 2
SEG_S = 4
PRESET = "veryfast"


def profile() -> Profile:
    return Profile(name="bench", rungs=tuple(Rung(height=h, bitrate_k=b) for _, h, b in RUNGS), gop_seconds=GOP_S,
                   segment_seconds=SEG_S, cpu_preset=PRESET)


def rate_args(i: int | None, bitrate: int) -> list[str]:
    s = f":v:{i}" if i is not None else ":v"
    return [f"-b{s}", f"{bitrate}k", f"-maxrate{s}", f"{int(bitrate * 1.1)}k", f"-bufsize{s}", f"{bitrate * 2}k",
            f"-preset{s}", PRESET, f"-profile{s}", "high", f"-x264-params{s}", "scenecut=0:open_gop=0"]


GOP = ["-g", str(30 * GOP_S), "-keyint_min", str(30 * GOP_S), "-sc_threshold", "0",
       "-force_key_frames", f"expr:gte(t,n_forced*{GOP_S})"]


def naive(ffmpeg: str, src: Path, out: Path) -> None:
    for i, (w, h, b) in enumerate(RUNGS):
        subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0", "-vf",
                        f"scale={w}:{h}:flags=bicubic", "-c:v", "libx264", *rate_args(None, b), *GOP,
                        "-f", "hls", "-hls_time", str(SEG_S), "-hls_playlist_type", "vod", "-hls_segment_type",
                        "fmp4", "-hls_fmp4_init_filename", f"init_{i}.mp4", "-hls_segment_filename",
                        str(out / f"seg_{i}_%05d.m4s"), str(out / f"media_{i}.m3u8")], check=True)
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:a:0", "-c:a", "aac",
                    "-b:a", "128k", "-ac", "2", "-ar", "48000", "-f", "hls", "-hls_time", str(SEG_S),
                    "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename",
                    "init_a.mp4", "-hls_segment_filename", str(out / "seg_a_%05d.m4s"), str(out / "media_a.m3u8")],
                   check=True)


def split(ffmpeg: str, src: Path, out: Path) -> None:
    graph = "[0:v]split=4[s0][s1][s2][s3];" + ";".join(
        f"[s{i}]scale={w}:{h}:flags=bicubic[v{i}]" for i, (w, h, _) in enumerate(RUNGS))
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-filter_complex", graph]
    for i in range(len(RUNGS)):
        cmd += ["-map", f"[v{i}]"]
    cmd += ["-map", "0:a:0"]
    for i, (_, _, b) in enumerate(RUNGS):
        cmd += [f"-c:v:{i}", "libx264", *rate_args(i, b)]
    cmd += [*GOP, "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000",
            "-f", "dash", "-seg_duration", str(SEG_S), "-use_template", "1", "-use_timeline", "1",
            "-hls_playlist", "1", "-adaptation_sets", "id=0,streams=v id=1,streams=a", str(out / "manifest.mpd")]
    subprocess.run(cmd, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--quick", action="store_true", help="2 s source, 1 round: a smoke check of the script")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "engine.json")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeats = 2, 1
    ffmpeg = quality.resolve_ffmpeg()
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    src = cache / f"src_1080p_{args.duration:g}s.mp4"
    if not src.exists():
        print(f"generating {src} ...", file=sys.stderr)
        quality.run_ffmpeg_capture([
            ffmpeg, "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={args.duration}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={args.duration}",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-shortest", str(src)], timeout=1800)
    settings = EngineSettings(encoder="cpu", quality_policy="off")
    prof = profile()
    methods = {
        "engine": lambda out: transcode(src, out / "pkg", profile=prof, settings=settings),
        "naive": lambda out: naive(ffmpeg, src, out),
        "split": lambda out: split(ffmpeg, src, out),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    for round_no in range(args.repeats + 1):
        for name, run in methods.items():
            work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
            try:
                start = time.perf_counter()
                run(work)
                elapsed = time.perf_counter() - start
            finally:
                shutil.rmtree(work, ignore_errors=True)
            label = "warm-up" if round_no == 0 else f"round {round_no}"
            print(f"{label:>8} {name:<6} {elapsed:7.2f} s", file=sys.stderr)
            if round_no:
                times[name].append(elapsed)
    med = {k: statistics.median(v) for k, v in times.items()}
    naive_ratio = med["naive"] / med["engine"]
    split_over = med["engine"] / med["split"] - 1
    print(f"\n1080p {args.duration:g} s source, 4 rungs, libx264 {PRESET}, {args.repeats} interleaved rounds")
    for k, v in times.items():
        print(f"  {k:<6} median {med[k]:7.2f} s  spread {min(v):.2f}..{max(v):.2f} s")
    verdict = "PASS" if naive_ratio >= 1.4 else "MISS"
    print(f"  engine is {naive_ratio:.2f}x faster than naive  (goal >= 1.4x: {verdict})")
    print(f"  engine is {100 * split_over:+.1f}% vs the hand-written split  "
          f"(goal <= +5%: {'PASS' if split_over <= 0.05 else 'MISS'})")
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps({
        "source": {"size": "1920x1080", "duration_s": args.duration}, "rungs": RUNGS, "preset": PRESET,
        "repeats": args.repeats, "times_s": times, "median_s": med, "engine_vs_naive_speedup": naive_ratio,
        "engine_over_split": split_over, "ffmpeg": ffmpeg}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
