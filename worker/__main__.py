"""``python -m worker``: ``transcode`` (one-shot engine run) and ``probe`` (capabilities as JSON)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from worker.errors import PermanentJobError, WorkerError
from worker.settings import EngineSettings

RET_OK = 0
RET_FAILED = 1
RET_USAGE = 2
RET_PERMANENT = 3
RET_TRANSIENT = 4

logger = logging.getLogger("worker")


def _settings(overrides: dict[str, Any]) -> EngineSettings:
    try:
        return EngineSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"WORKER_{'_'.join(str(x) for x in e['loc']).upper()}: {e['msg']}"
                             for e in exc.errors())
        raise SystemExit(f"error: invalid settings: {problems}") from None


def cmd_probe(args: argparse.Namespace) -> int:
    import quality
    from worker.capabilities import NVENC_ENCODERS, ffmpeg_build, nvenc_smoke_test
    from worker.gpu import scan_gpus

    settings = _settings({})
    ffmpeg = quality.resolve_ffmpeg(settings.ffmpeg_binary)
    build = ffmpeg_build(ffmpeg)
    scan = scan_gpus()
    nvenc = {}
    for codec, encoder in NVENC_ENCODERS.items():
        listed = encoder in build.encoders
        usable, detail = nvenc_smoke_test(ffmpeg, encoder) if listed else (False, "not in this ffmpeg build")
        nvenc[codec] = {"encoder": encoder, "listed": listed, "usable": usable, "detail": detail}
    data = {"gpus": [g.to_dict() for g in scan.gpus], "nvml_error": scan.error, "ffmpeg": build.to_dict(),
            "nvenc": nvenc}
    print(json.dumps(data, indent=2))
    return RET_OK if any(v["usable"] for v in nvenc.values()) or not args.require_nvenc else RET_FAILED


class _Bar:
    def __init__(self) -> None:
        self.last = (-1, "")

    def __call__(self, p: Any) -> None:
        pct = int(p.percent)
        if (pct, p.stage) <= (self.last[0], self.last[1]) and p.stage == self.last[1]:
            return  # same or lower figure for the same stage (the last -progress block has no time)
        self.last = (pct, p.stage)
        extra = f" {p.fps:.0f} fps, {p.speed:.2f}x, eta {p.eta_s:.0f}s" if p.fps and p.speed and p.eta_s else ""
        end = "\n" if p.stage == "done" else ""
        filled = pct * 30 // 100
        sys.stderr.write(f"\r{p.stage:<8}[{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%{extra}   {end}")
        sys.stderr.flush()


def cmd_transcode(args: argparse.Namespace) -> int:
    from worker.engine import transcode
    from worker.ladder import DEFAULT_PROFILE, load_profile

    settings = _settings({"encoder": args.encoder, "quality_policy": args.quality_policy})
    try:
        profile = load_profile(args.profile) if args.profile else DEFAULT_PROFILE
        manifest = transcode(args.input, args.out, profile=profile, settings=settings,
                             on_progress=None if args.quiet else _Bar())
    except WorkerError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return RET_PERMANENT if isinstance(exc, PermanentJobError) else RET_TRANSIENT
    print(f"encoder: {manifest['encoder']}" + (f" (fallback: {manifest['fallback_reason']})"
                                               if manifest["fallback_reason"] else ""))
    for r in manifest["renditions"]:
        vmaf = f"VMAF {r['vmaf']['mean']:.2f}" if r["vmaf"] else "VMAF -"
        print(f"  {r['name']:>6} {r['width']}x{r['height']} {r['measured_bitrate'] / 1000:.0f} kb/s {vmaf} "
              f"{r['quality']}")
    print(f"package: {args.out}/{manifest['hls']} and {manifest['dash']}")
    return RET_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m worker", description="GPU/CPU transcoding worker.")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    probe = sub.add_parser("probe", help="print GPUs, the ffmpeg build and NVENC test encodes as JSON")
    probe.add_argument("--require-nvenc", action="store_true", help="exit 1 unless some NVENC codec is usable")
    probe.set_defaults(func=cmd_probe)
    tr = sub.add_parser("transcode", help="encode one file into an HLS/DASH package with manifest.json",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument("input")
    tr.add_argument("--out", required=True, help="package folder (replaced atomically)")
    tr.add_argument("--profile", help="ladder profile, YAML or JSON (default: the built-in H.264 ladder)")
    tr.add_argument("--encoder", choices=("auto", "gpu", "cpu"), default=None,
                    help="auto: NVENC when usable, else CPU with the reason; gpu: fail without NVENC (default: "
                         "$WORKER_ENCODER or auto)")
    tr.add_argument("--quality-policy", choices=("fail", "flag", "off"), default=None)
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=cmd_transcode)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    code: int = args.func(args)
    return code


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
