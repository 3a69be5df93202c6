"""``python -m loadtest``: concurrent uploads, end to end, with a pass/fail.

Runs the scenarios one after the other in one command (so their throughputs compare), against the local stack on
Azurite (started here, with the blob-created event delivery to the real Function) or a Storage account. Writes
locust's CSV and HTML per scenario, ``summary.json`` and ``loadtest.png`` under ``--out``, prints the figures and
exits 1 naming every threshold crossed (2 when the run could not be made).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any, cast

from loadtest.config import RunConfig, Scenario
from loadtest.gates import Gates, run_breaches
from loadtest.payload import make_clip, make_payload, parse_size
from loadtest.runner import LocustRun, locust_cmd
from loadtest.scenarios import Names, Options, ScenarioResult, Session, parse_run_time
from loadtest.target import Target, TargetError, parse_connection_string

RET_OK, RET_FAILED, RET_ERROR = 0, 1, 2
SCENARIOS: tuple[Scenario, ...] = ("raw", "ingest", "e2e")

logger = logging.getLogger("loadtest")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--scenarios", default="raw,ingest", help="comma-separated, in order: raw, ingest, e2e")
    p.add_argument("--out", type=Path, default=Path("out/loadtest"), help="reports, logs and the local stack's data")
    p.add_argument("-n", "--dry-run", action="store_true", help="print the locust commands and exit")
    p.add_argument("-v", "--verbose", action="store_true")
    t = p.add_argument_group("target (default: the local stack on Azurite, started here)")
    t.add_argument("--connection-string", default=os.environ.get("LOADTEST_CONNECTION_STRING"),
                   help="a Storage connection string (or $LOADTEST_CONNECTION_STRING)")
    t.add_argument("--account-url", help="https://ACCOUNT.blob.core.windows.net; signs in with DefaultAzureCredential "
                   "unless --sas is given")
    t.add_argument("--sas", default=os.environ.get("LOADTEST_SAS"), help="an account SAS for blob, queue and table "
                   "(or $LOADTEST_SAS)")
    t.add_argument("--uploads-container", default="uploads", help="the container whose uploads become jobs")
    t.add_argument("--raw-container", default="loadtest-raw", help="the raw scenario's container (created if missing)")
    t.add_argument("--jobs-queue", default="transcode-jobs")
    t.add_argument("--jobs-table", default="jobs")
    load = p.add_argument_group("load")
    load.add_argument("-u", "--users", type=int, default=1000, help="concurrent users, per scenario")
    load.add_argument("-r", "--spawn-rate", type=float, default=200, help="users started per second")
    load.add_argument("-t", "--run-time", default="60s", help="per scenario (locust syntax: 60s, 2m)")
    load.add_argument("--wait", type=float, nargs=2, default=(10.0, 18.0), metavar=("MIN", "MAX"),
                      help="seconds a user waits between uploads (uniform); 0 0 uploads back to back")
    load.add_argument("--uploads-per-user", type=int, default=0,
                      help="each user stops after this many uploads (0: uploads until the run time ends); with "
                      "--wait 0 0 and users arriving at --spawn-rate, -u N --uploads-per-user 1 makes exactly N "
                      "uploads spread over N / spawn-rate seconds")
    load.add_argument("--processes", type=int, default=1, help="locust processes (-1: one per core)")
    load.add_argument("--upload-size", type=parse_size, default=parse_size("64KiB"),
                      help="bytes per upload: a small MP4 padded to this size")
    load.add_argument("--payload", type=Path, help="upload this file instead of a generated one")
    ing = p.add_argument_group("ingest and accounting")
    ing.add_argument("--delivery-workers", type=int, default=8, help="local event delivery threads")
    ing.add_argument("--drain-timeout", type=float, default=120, help="longest wait for the jobs after the uploads")
    ing.add_argument("--skip-queue-check", action="store_true", help="count job records only (workers consume the "
                     "queue while the test runs)")
    ing.add_argument("--delete-messages", action="store_true", help="delete this run's job messages once counted")
    e2e = p.add_argument_group("e2e (local stack)")
    e2e.add_argument("--e2e-clips", type=int, default=2)
    e2e.add_argument("--e2e-workers", type=int, default=1)
    e2e.add_argument("--e2e-timeout", type=float, default=300)
    e2e.add_argument("--e2e-quality", choices=("off", "flag", "fail"), default="off", help="the worker's VMAF policy")
    g = p.add_argument_group("thresholds (the run exits 1 when one is crossed)")
    d = Gates()
    g.add_argument("--max-fail-ratio", type=float, default=d.max_fail_ratio)
    g.add_argument("--max-upload-p95-ms", type=float, default=d.max_upload_p95_ms)
    g.add_argument("--max-enqueue-p95-ms", type=float, default=d.max_enqueue_p95_ms)
    g.add_argument("--max-lost", type=int, default=d.max_lost)
    g.add_argument("--max-duplicates", type=int, default=d.max_duplicates)
    g.add_argument("--min-throughput-ratio", type=float, default=d.min_throughput_ratio,
                   help="ingest uploads/s over raw uploads/s")
    g.add_argument("--max-drain-s", type=float, default=d.max_drain_s,
                   help="from the last upload until every job is enqueued")
    return p


def _scenarios(text: str) -> list[Scenario]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SCENARIOS]
    if bad or not names:
        raise ValueError(f"unknown scenario(s) {bad or text!r}: choose from {', '.join(SCENARIOS)}")
    return cast(list[Scenario], names)


def _remote_target(args: argparse.Namespace) -> Target | None:
    if args.connection_string:
        return parse_connection_string(args.connection_string)
    if args.account_url:
        return Target.from_account_url(args.account_url, sas=args.sas)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        scenarios = _scenarios(args.scenarios)
        remote = _remote_target(args)
        parse_run_time(args.run_time)
    except (ValueError, TargetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return RET_ERROR
    gates = Gates(args.max_fail_ratio, args.max_upload_p95_ms, args.max_enqueue_p95_ms, args.max_lost,
                  args.max_duplicates, args.min_throughput_ratio, args.max_drain_s)
    options = Options(users=args.users, spawn_rate=args.spawn_rate, run_time=args.run_time, wait=tuple(args.wait),
                      uploads_per_user=args.uploads_per_user, processes=args.processes,
                      drain_timeout=args.drain_timeout,
                      delivery_workers=args.delivery_workers, check_queue=not args.skip_queue_check,
                      delete_messages=args.delete_messages, e2e_clips=args.e2e_clips, e2e_workers=args.e2e_workers,
                      e2e_timeout=args.e2e_timeout, e2e_quality=args.e2e_quality, gates=gates)
    names = Names(args.uploads_container, args.raw_container, args.jobs_queue, args.jobs_table)
    out: Path = args.out.resolve()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    if args.dry_run:
        target = remote or parse_connection_string("UseDevelopmentStorage=true")
        for sc in scenarios:
            config = RunConfig(scenario=sc, target=target, container=names.raw if sc == "raw" else names.uploads,
                               prefix=f"loadtest/{run_id}/{sc}/", payload=str(out / "payload.mp4"),
                               uploads_log=str(out / "uploads" / sc), summary_path=str(out / f"{sc}_uploads.json"),
                               gates=gates, wait=options.wait, uploads_per_user=options.uploads_per_user)
            run = LocustRun(args.users, args.spawn_rate, args.run_time, out / sc, out / f"{sc}.html",
                            processes=args.processes)
            print(shlex.join(locust_cmd(config, run)))
        return RET_OK
    return _run(scenarios, remote, names, options, out, run_id, args)


def _run(scenarios: list[Scenario], remote: Target | None, names: Names, options: Options, out: Path, run_id: str,
         args: argparse.Namespace) -> int:
    from azure.core.exceptions import ResourceExistsError

    from loadtest.report import format_report, plot, summarize
    from loadtest.storage import clients_for
    from localdev.stack import LocalStack, StackNames

    out.mkdir(parents=True, exist_ok=True)
    stack: LocalStack | None = None
    results: dict[str, ScenarioResult] = {}
    try:
        if remote is None:
            shutil.rmtree(out / "stack", ignore_errors=True)  # a fresh Azurite every run
            print(f"starting Azurite and the local stack under {out / 'stack'} ...", file=sys.stderr)
            stack = LocalStack(out / "stack", names=StackNames(uploads=names.uploads, queue=names.queue,
                                                              table=names.table))
            stack.start_storage()
            target = parse_connection_string(stack.connection_string)
        else:
            if "e2e" in scenarios:
                print("error: the e2e scenario runs on the local stack only", file=sys.stderr)
                return RET_ERROR
            target = remote
        clients = clients_for(target)
        if "raw" in scenarios:
            try:
                clients.blobs.create_container(names.raw)
            except ResourceExistsError:
                pass
        payload = args.payload or make_payload(out / "payload.mp4", args.upload_size)
        clip = make_clip(out / "e2e-clip.mp4") if "e2e" in scenarios else None
        session = Session(out=out, target=target, clients=clients, names=names, options=options, run_id=run_id,
                          payload=Path(payload), clip=clip, stack=stack)
        for sc in scenarios:
            print(f"{sc}: {options.users if sc != 'e2e' else options.e2e_clips} users for "
                  f"{options.run_time if sc != 'e2e' else 'one clip each'} ...", file=sys.stderr)
            results[sc] = session.run(sc)
    except Exception as exc:  # the run could not be made (Azurite, ffmpeg, storage, locust): say so, exit 2
        logger.info("the run failed", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return RET_ERROR
    finally:
        if stack is not None:
            stack.stop()
    settings: dict[str, Any] = {
        "run_id": run_id, "scenarios": scenarios, "target": "local Azurite" if remote is None else target.blob_endpoint,
        "users": options.users, "spawn_rate": options.spawn_rate, "run_time": options.run_time,
        "wait_s": list(options.wait), "upload_bytes": Path(payload).stat().st_size, "processes": options.processes,
        "delivery_workers": options.delivery_workers, "cpus": os.cpu_count(), "gates": vars(options.gates),
        "command": shlex.join(["python", "-m", "loadtest", *args.argv]),
    }
    summary = summarize(results, settings)
    summary["breaches"] = run_breaches(summary, options.gates)
    summary["passed"] = not summary["breaches"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot(results, out / "loadtest.png", f"{options.users} users, {options.run_time} per scenario ({run_id})")
    print(format_report(summary))
    print(f"reports: {out}/summary.json, {out}/loadtest.png, {out}/<scenario>.html and _stats*.csv", file=sys.stderr)
    return RET_OK if summary["passed"] else RET_FAILED


if __name__ == "__main__":
    sys.exit(main())
