"""``python -m quality DIST REF``: score a pair, write reports, apply a gate.

Exit codes: 0 scored (and every threshold passed), 1 a threshold failed, 2 usage error, 3 input not found,
4 invalid input (not a video, no video stream, zero frames, corrupt or truncated, a .yuv without its format or
not a whole number of frames), 5 the pair cannot be aligned,
6 no usable ffmpeg/libvmaf, 7 ffmpeg failed while scoring, 10 any other quality error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from fractions import Fraction

from quality.errors import QualityError, RawFormatRequired
from quality.gate import evaluate_gate, thresholds_from
from quality.measure import measure, plan_measurement
from quality.options import ALL_METRICS, FFMPEG_ENV, MeasureOptions, default_threads
from quality.progress import ProgressBar
from quality.raw import RAW_EXTENSIONS, RawFormat, RawVideoPath, is_raw_path
from quality.runner import quoted

logger = logging.getLogger("quality")

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m quality",
        description="Score a distorted video against its reference with libvmaf (VMAF, PSNR, SSIM) in one pass.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=f"ffmpeg: ${FFMPEG_ENV} if set, else the imageio-ffmpeg wheel's build. " + (__doc__ or "")
        .split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("distorted", help="the encoded video")
    parser.add_argument("reference", help="the source it was encoded from")

    raw = parser.add_argument_group(
        f"headerless inputs ({', '.join(RAW_EXTENSIONS)}; Y4M needs none of this)",
        "the format of every headerless input given: --width, --height and --pix-fmt are required for them")
    raw.add_argument("--width", type=int, help="frame width in pixels")
    raw.add_argument("--height", type=int, help="frame height in pixels")
    raw.add_argument("--pix-fmt", help="ffmpeg pixel format: yuv420p, yuv422p10le, nv12, gray, ...")
    raw.add_argument("--fps", type=Fraction, help="frame rate (25, 30000/1001); unset: unknown, and frames are "
                                                  "paired by count only")

    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="PATH", help="write the JSON report to PATH ('-' for stdout)")
    out.add_argument("--csv", metavar="PATH", help="write per-frame values as CSV")
    out.add_argument("--plot", metavar="PATH", help="write a PNG plot of per-frame VMAF")
    out.add_argument("-q", "--quiet", action="store_true", help="no summary on stdout")

    scoring = parser.add_argument_group("scoring")
    scoring.add_argument("-m", "--model", action="append", default=None,
                         help="vmaf_v0.6.1 (default; vmaf_4k_v0.6.1 for references of 2160 lines and more), "
                              "neg, phone, any built-in version name, a model .json path, or a raw libvmaf string. "
                              "Repeat to score several models in one pass: the first is 'vmaf' (gated), the others "
                              "extra metrics named vmaf_<alias> (-m neg: vmaf_neg) or by version name")
    scoring.add_argument("--ci", action="store_true",
                         help="also score the bootstrap models (vmaf_b_v0.6.3) and report their mean with a 95%% "
                              "confidence interval")
    scoring.add_argument("--metrics", default=",".join(ALL_METRICS),
                         help="comma-separated subset of vmaf,psnr,ssim (vmaf is always scored)")
    scoring.add_argument("-t", "--threads", type=int, default=default_threads(), help="libvmaf threads")
    scoring.add_argument("-s", "--subsample", type=int, default=1, help="score every Nth frame")
    scoring.add_argument("--scaler", default="bicubic", help="scaler for bringing the distorted video to the "
                                                             "reference resolution")

    align = parser.add_argument_group("alignment")
    align.add_argument("--offset", type=int, default=0,
                       help="known delay in frames: positive if the distorted video starts late")
    align.add_argument("--auto-offset", type=int, default=0, metavar="WINDOW",
                       help="search for the offset within +/-WINDOW frames (0: off)")
    align.add_argument("--on-frame-count-mismatch", choices=("refuse", "truncate"), default="refuse")
    align.add_argument("--on-frame-rate-mismatch", choices=("refuse", "resample"), default="refuse")

    gate = parser.add_argument_group("gate (exit 1 when one fails)")
    gate.add_argument("--min-vmaf", type=float, help="minimum pooled mean VMAF")
    gate.add_argument("--min-harmonic-mean", type=float, help="minimum harmonic-mean VMAF")
    gate.add_argument("--min-p5", type=float, help="minimum 5th-percentile VMAF")
    gate.add_argument("--min-min", type=float, help="minimum per-frame VMAF")
    gate.add_argument("--min-psnr", type=float, help="minimum mean PSNR (average of planes)")
    gate.add_argument("--min-ssim", type=float, help="minimum mean SSIM")
    gate.add_argument("--require-aligned", action="store_true",
                      help="fail the gate when the pair was truncated, resampled or its offset is uncertain")

    parser.add_argument("-n", "--dry-run", action="store_true", help="probe and print the ffmpeg command only")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug (stderr)")
    return parser


def _options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> MeasureOptions:
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    if "vmaf" not in metrics:
        metrics = ("vmaf", *metrics)
    try:
        return MeasureOptions(
            model=args.model[0] if args.model else None, extra_models=tuple(args.model[1:] if args.model else ()),
            confidence_interval=args.ci, metrics=metrics, n_threads=args.threads, subsample=args.subsample,
            scaler=args.scaler, offset=args.offset, auto_offset=args.auto_offset,
            on_frame_count_mismatch=args.on_frame_count_mismatch,
            on_frame_rate_mismatch=args.on_frame_rate_mismatch,
        )
    except ValueError as exc:
        parser.error(str(exc))


_RAW_OPTIONS = (("width", "--width"), ("height", "--height"), ("pix_fmt", "--pix-fmt"))


def _input(path: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """``path``, or for a headerless file a ``RawVideoPath`` carrying the format the options give."""
    if not is_raw_path(path):
        return path
    missing = tuple(flag for name, flag in _RAW_OPTIONS if getattr(args, name) is None)
    if missing:
        raise RawFormatRequired(
            f"headerless video needs {', '.join(missing)} (the format of its frames: nothing in the file says it); "
            "or convert it to Y4M", path=path, missing=missing)
    try:
        return RawVideoPath(path, RawFormat(args.width, args.height, args.pix_fmt, args.fps))
    except ValueError as exc:
        parser.error(str(exc))


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    options = _options(args, parser)
    thresholds = thresholds_from(min_vmaf=args.min_vmaf, min_harmonic_mean=args.min_harmonic_mean,
                                 min_p5=args.min_p5, min_min=args.min_min, min_psnr=args.min_psnr,
                                 min_ssim=args.min_ssim)
    try:
        distorted, reference = _input(args.distorted, args, parser), _input(args.reference, args, parser)
        if args.dry_run:
            plan = plan_measurement(distorted, reference, options)
            print(quoted(plan.command))
            return EXIT_OK
        report = measure(distorted, reference, options, on_progress=ProgressBar())
        if args.json == "-":
            sys.stdout.write(report.to_json())
        elif args.json:
            report.write_json(args.json)
        if args.csv:
            report.write_csv(args.csv)
        if args.plot:
            from quality.plot import plot_vmaf

            plot_vmaf(report, args.plot)
        stream = sys.stderr if args.json == "-" else sys.stdout
        if not args.quiet:
            print(report.summary(), file=stream)
        if not thresholds and not args.require_aligned:
            return EXIT_OK
        result = evaluate_gate(report, thresholds)
        for line in result.lines():
            print(line, file=stream)
        if args.require_aligned and not report.fully_aligned:
            print("FAIL alignment: " + "; ".join(report.warnings or [report.alignment["status"]]), file=stream)
            return EXIT_GATE_FAILED
        return result.exit_code
    except QualityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
