"""``python -m worker``: ``run`` (the service), ``status`` (job records), ``healthcheck`` (for container probes),
``transcode`` (one-shot engine run) and ``probe`` (capabilities as JSON)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from worker.errors import PermanentJobError, WorkerError
from worker.settings import EngineSettings, ServiceSettings

RET_OK = 0
RET_FAILED = 1
RET_USAGE = 2
RET_PERMANENT = 3
RET_TRANSIENT = 4
RET_DRAIN_EXPIRED = 5  # the drain time ran out; running jobs were released for another worker
RET_FORCED = 130  # a second signal: exit at once (leased messages reappear when their visibility runs out)

logger = logging.getLogger("worker")


def _settings(overrides: dict[str, Any], kind: type[EngineSettings] = EngineSettings) -> Any:
    try:
        return kind(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            (f"WORKER_{'_'.join(str(x) for x in e['loc']).upper()}: " if e["loc"] else "") + e["msg"]
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


def _dry_run(args: argparse.Namespace, settings: EngineSettings, profile: Any) -> int:
    import quality
    from worker.gpu_models import MODELS
    from worker.planning import assumed_scan, plan_job

    scan = None
    if args.assume_gpu:
        try:
            scan = assumed_scan(args.assume_gpu)
        except ValueError:
            known = ", ".join(m.name for m in MODELS)
            print(f"error: --assume-gpu {args.assume_gpu!r} is not in the GPU table; known models: {known}",
                  file=sys.stderr)
            return RET_USAGE
    job = plan_job(args.input, args.out, profile, settings, gpu_scan=scan,
                   smoke_test=False if args.assume_gpu else None)
    probe = None
    if profile.content_aware is not None:
        from worker.analysis import first_probe_cmd

        probe = first_probe_cmd(job, settings, args.out)
    if args.json:
        print(json.dumps({**job.to_dict(), **({"content_aware_probe_argv": probe} if probe else {})}, indent=2))
        return RET_OK
    if probe:
        print("# content-aware: the analysis chooses the rungs; its first round of probe encodes is:")
        print("# " + quality.quoted(probe))
        print("# the command below is the fixed fallback ladder (a source libvmaf cannot score)")
    print(f"# path: {job.plan.path}; encoder: {job.choice.encoder}"
          + (f"; fallback: {job.choice.reason_text}" if job.choice.reason_text else "")
          + (f"; why: {job.plan.reason}" if job.plan.reason else ""))
    print(quality.quoted(list(job.argv)))
    return RET_OK


def cmd_transcode(args: argparse.Namespace) -> int:
    from worker.engine import transcode
    from worker.ladder import DEFAULT_PROFILE, load_profile

    settings = _settings({"encoder": args.encoder, "quality_policy": args.quality_policy})
    if args.assume_gpu and not args.dry_run:
        print("error: --assume-gpu plans as if that GPU were present; it needs --dry-run", file=sys.stderr)
        return RET_USAGE
    try:
        profile = load_profile(args.profile) if args.profile else DEFAULT_PROFILE
        if args.dry_run:
            return _dry_run(args, settings, profile)
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


def cmd_selftest(args: argparse.Namespace) -> int:
    from worker.selftest import run_selftest

    report = run_selftest(_settings({}), require_gpu=args.require_gpu)
    print(report.to_json() if args.json else "\n".join(report.lines()))
    return RET_OK if report.ok else RET_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    from worker.app import create_worker, ensure_resources, start_health
    from worker.service import EXIT_DRAIN_EXPIRED

    settings: ServiceSettings = _settings({"max_jobs": args.max_jobs}, ServiceSettings)
    _configure_logging(max(1, args.verbose), settings.log_format)
    worker = create_worker(settings)
    if args.create_resources:
        ensure_resources(worker)
    server = start_health(worker)
    signals = {"count": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            logger.warning("second signal (%s): exiting now", signal.Signals(signum).name)
            logging.shutdown()
            os._exit(RET_FORCED)
        logger.info("signal %s: draining (a second signal exits at once)", signal.Signals(signum).name)
        worker.drain()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info("worker %s: queue %s, %d job slot(s), encoder policy %s", worker.records.worker_id,
                settings.jobs_queue, worker.slots, settings.encoder)
    try:
        code = worker.run()
    finally:
        if server is not None:
            server.stop()
    return RET_DRAIN_EXPIRED if code == EXIT_DRAIN_EXPIRED else RET_OK


def cmd_status(args: argparse.Namespace) -> int:
    from worker.clients import make_clients
    from worker.records import REJECTED_PARTITION, JobRecords

    settings: ServiceSettings = _settings({}, ServiceSettings)
    records = JobRecords(make_clients(settings).table, "status")
    rows = [r for r in [records.get(args.job_id)] if r] if args.job_id else records.recent(args.limit, args.state)
    if args.job_id and not rows:
        rejected = records.get(args.job_id, REJECTED_PARTITION)
        if rejected is None:
            print(f"error: no job {args.job_id} in table {settings.jobs_table}", file=sys.stderr)
            return RET_FAILED
        rows = [rejected]
    if args.json:
        print(json.dumps(rows if not args.job_id else rows[0], indent=2, default=str))
        return RET_OK
    if args.job_id:
        for key, value in sorted(rows[0].items()):
            print(f"{key:>18}: {value}")
        return RET_OK
    print(f"{'JOB':<32}  {'STATE':<9} {'PROGRESS':>8}  {'TRIES':>5}  {'UPDATED':<27} SOURCE")
    for r in rows:
        print(f"{r['RowKey']:<32}  {r.get('state', ''):<9} {float(r.get('progress') or 0):>7.0f}%  "
              f"{int(r.get('attempts') or 0):>5}  {str(r.get('updated_at', '')):<27} {r.get('source_name', '')}")
    return RET_OK


def cmd_healthcheck(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    port = args.port or int(os.environ.get("WORKER_HTTP_PORT", "8080"))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{args.path}", timeout=args.timeout) as response:
            ok = bool(response.status == 200)
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return RET_FAILED
    return RET_OK if ok else RET_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m worker", description="GPU/CPU transcoding worker.")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    run_ = sub.add_parser("run", help="the service: lease jobs from the queue until told to stop (WORKER_* settings)")
    run_.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs (WORKER_MAX_JOBS)")
    run_.add_argument("--create-resources", action="store_true",
                      help="create the queues, table and outputs container first (local stacks)")
    run_.set_defaults(func=cmd_run)
    st = sub.add_parser("status", help="show one job record, or the most recent ones")
    st.add_argument("job_id", nargs="?")
    st.add_argument("--limit", type=int, default=20)
    st.add_argument("--state", choices=("queued", "running", "succeeded", "failed", "poisoned"))
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    hc = sub.add_parser("healthcheck", help="exit 0 when the local worker answers 200 on /healthz")
    hc.add_argument("--port", type=int, default=None, help="default: $WORKER_HTTP_PORT or 8080")
    hc.add_argument("--path", default="/healthz", choices=("/healthz", "/readyz"))
    hc.add_argument("--timeout", type=float, default=3.0)
    hc.set_defaults(func=cmd_healthcheck)
    probe = sub.add_parser("probe", help="print GPUs, the ffmpeg build and NVENC test encodes as JSON")
    probe.add_argument("--require-nvenc", action="store_true", help="exit 1 unless some NVENC codec is usable")
    probe.set_defaults(func=cmd_probe)
    stest = sub.add_parser("selftest", help="check this node's GPU, decoders, CUDA filters, encoders and a 1080p "
                                           "ladder; one PASS/FAIL/SKIP line each; exit 1 on any FAIL")
    stest.add_argument("--require-gpu", action="store_true",
                       help="a check skipped for want of a GPU (or a ladder on the CPU path) is a FAIL")
    stest.add_argument("--json", action="store_true")
    stest.set_defaults(func=cmd_selftest)
    tr = sub.add_parser("transcode", help="encode one file into an HLS/DASH package with manifest.json",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument("input")
    tr.add_argument("--out", required=True, help="package folder (replaced atomically)")
    tr.add_argument("--profile", help="ladder profile: a built-in name (default, content-aware) or a YAML or JSON "
                                      "file (default: the built-in H.264 ladder)")
    tr.add_argument("--encoder", choices=("auto", "gpu", "cpu"), default=None,
                    help="auto: NVENC when usable, else CPU with the reason; gpu: fail without NVENC (default: "
                         "$WORKER_ENCODER or auto)")
    tr.add_argument("--quality-policy", choices=("fail", "flag", "off"), default=None)
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.add_argument("-n", "--dry-run", action="store_true",
                    help="probe and plan, print the exact ffmpeg command, run nothing")
    tr.add_argument("--assume-gpu", metavar="MODEL",
                    help="with --dry-run: plan as if one GPU of this model (T4, L4, A10G, H100, ...) were present")
    tr.add_argument("--json", action="store_true",
                    help="with --dry-run: print {video_path, encoder, fallback_reason, argv, encoders} as JSON")
    tr.set_defaults(func=cmd_transcode)
    return parser


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage(), "thread": record.threadName}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _configure_logging(verbose: int, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)], handlers=[handler],
                        force=True)
    logging.getLogger("azure").setLevel(logging.WARNING)


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    code: int = args.func(args)
    return code


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
