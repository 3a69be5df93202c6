"""The main job for now: make a sample pair, score it, write the reports and print the summary and a gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quality.__main__ import run
from quality.samples import make_pair


def main() -> int:
    parser = argparse.ArgumentParser(description="Generate a sample pair and print its quality report.")
    parser.add_argument("--out", default="out/demo", help="where the pair and the reports go")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--bitrate", default="600k", help="bitrate of the distorted encode")
    args = parser.parse_args()
    out = Path(args.out)
    print(f"generating a {args.size} {args.duration:g}s pair in {out} ...", file=sys.stderr)
    dist, ref = make_pair(out, size=args.size, duration=args.duration, bitrate=args.bitrate)
    code = run([str(dist), str(ref), "--json", str(out / "report.json"), "--csv", str(out / "frames.csv"),
                "--plot", str(out / "vmaf.png"), "--min-vmaf", "70", "--min-p5", "60"])
    print(f"\nreports: {out / 'report.json'}, {out / 'frames.csv'}, {out / 'vmaf.png'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
