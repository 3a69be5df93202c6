#!/usr/bin/env python3
"""Load for one canary step's bake, sized so the new slot finishes enough jobs to be judged.

    bake_load.py plan --percent 20 --min-jobs 20                       # how many uploads, and why
    bake_load.py run --percent 20 --min-jobs 20 --bake-seconds 900 --account-url URL --out build/canary/20/load

Both slots consume one queue, and a slot's share of it is its share of the consumers (traffic.py), so each job lands
on the new slot with probability p = percent / 100: the jobs it gets out of N uploads are binomial (N, p). `plan`
finds the smallest N for which the new slot gets at least `--min-jobs` with probability `--confidence` (20 % and 20
jobs at 0.999: 175 uploads, not the 100 that p x N = 20 suggests; 64 at 50 %). `run` makes exactly N uploads with
`python -m loadtest` (scenario ingest against the staging account, one upload per user, users arriving evenly over
the first `--spread` of the bake, so their jobs finish inside it), then waits out the rest of the bake. The load
test's own gates (upload failures, upload and enqueue latency, lost jobs) decide its exit code, and this one's: 0
when the load was made and passed them, 1 when a gate failed, 2 on bad input. `--dry-run` prints the command.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deploylib import Runner, dry_run_env, log

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
MAX_UPLOADS = 100_000


@dataclass(frozen=True)
class Plan:
    percent: float
    min_jobs: int
    confidence: float
    uploads: int
    expected_jobs: float
    probability: float  # that the new slot gets at least min_jobs of the uploads


def at_least(n: int, p: float, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (no overflow for large n)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    below = 0.0
    for i in range(k):
        below += math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p
                          + (n - i) * log_q)
    return max(0.0, 1.0 - below)


def plan(percent: float, min_jobs: int, confidence: float = 0.999) -> Plan:
    if not 0 < percent <= 100:
        raise ValueError(f"--percent {percent:g}: the new slot's share must be in (0, 100]")
    if min_jobs < 1:
        raise ValueError("--min-jobs must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("--confidence must be in (0, 1)")
    p = percent / 100
    n = max(min_jobs, math.floor(min_jobs / p))
    while at_least(n, p, min_jobs) < confidence:
        n += max(1, n // 100)
        if n > MAX_UPLOADS:
            raise ValueError(f"more than {MAX_UPLOADS} uploads needed for {min_jobs} jobs at {percent:g} %")
    # the step above may overshoot by up to 1 %: walk back to the smallest n that still meets the confidence
    while n > min_jobs and at_least(n - 1, p, min_jobs) >= confidence:
        n -= 1
    return Plan(percent, min_jobs, confidence, n, round(n * p, 1), round(at_least(n, p, min_jobs), 6))


def loadtest_argv(args: argparse.Namespace, uploads: int, spread_s: float) -> list[str]:
    rate = uploads / spread_s
    target = ["--account-url", args.account_url] if args.account_url else ["--connection-string",
                                                                           args.connection_string]
    argv = [args.python, "-m", "loadtest", "--scenarios", "ingest", *target,
            "--uploads-container", args.uploads_container, "--jobs-table", args.jobs_table,
            "--users", str(uploads), "--spawn-rate", f"{rate:.4f}", "--run-time", f"{math.ceil(spread_s) + 10}s",
            "--wait", "0", "0", "--uploads-per-user", "1", "--skip-queue-check",
            "--drain-timeout", str(args.drain_timeout), "--max-drain-s", str(args.drain_timeout),
            "--out", str(args.out)]
    if args.payload:
        argv += ["--payload", str(args.payload)]
    extra: list[str] = args.loadtest_args
    return argv + extra


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("plan", "run"):
        s = sub.add_parser(name, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        s.add_argument("--percent", type=float, required=True, help="the new slot's share of the queue")
        s.add_argument("--min-jobs", type=int, default=20, help="attempts the canary needs on the new slot")
        s.add_argument("--confidence", type=float, default=0.999)
        if name == "run":
            s.add_argument("--bake-seconds", type=int, required=True, help="the whole bake; the canary judges it")
            s.add_argument("--spread", type=float, default=0.5,
                           help="share of the bake the uploads are spread over; the rest lets their jobs finish")
            where = s.add_mutually_exclusive_group(required=True)
            where.add_argument("--account-url", help="https://ACCOUNT.blob.core.windows.net (signed in with "
                               "DefaultAzureCredential: the Azure CLI's login in the workflow)")
            where.add_argument("--connection-string", help="a Storage connection string (Azurite in the tests); "
                               "it appears in the printed command, so not for real accounts")
            s.add_argument("--uploads-container", default="uploads")
            s.add_argument("--jobs-table", default="jobs")
            s.add_argument("--drain-timeout", type=float, default=300,
                           help="longest wait for every upload's job record (the Event Grid path)")
            s.add_argument("--payload", type=Path, help="the clip to upload (default: the load test's own)")
            s.add_argument("--out", type=Path, required=True, help="the load test's reports and plan.json")
            s.add_argument("--python", default=sys.executable)
            s.add_argument("loadtest_args", nargs="*", help="more `python -m loadtest` options, after --")
            s.add_argument("-n", "--dry-run", action="store_true", default=dry_run_env(),
                           help="print the load test's command instead of running it (also DRY_RUN=1)")
    args = p.parse_args(argv)
    if args.command == "run" and not 0 < args.spread <= 1:
        p.error("--spread must be in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        step = plan(args.percent, args.min_jobs, args.confidence)
    except ValueError as exc:
        log(f"bake load: {exc}")
        return EXIT_BAD_INPUT
    log(f"bake load: {step.uploads} uploads give the {step.percent:g} % slot at least {step.min_jobs} jobs with "
        f"probability {step.probability:.4f} (expected {step.expected_jobs:g})")
    if args.command == "plan":
        print(json.dumps(asdict(step), indent=2))
        return EXIT_OK
    spread_s = args.bake_seconds * args.spread
    argv_ = loadtest_argv(args, step.uploads, spread_s)
    runner = Runner(args.dry_run)
    if args.dry_run:
        print("+ " + shlex.join(argv_))
        print(f"+ sleep until {args.bake_seconds}s after the start")
        return EXIT_OK
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    (args.out / "plan.json").write_text(json.dumps(asdict(step) | {"bake_seconds": args.bake_seconds,
                                                                   "spread_s": spread_s, "command": argv_},
                                                   indent=2) + "\n")
    try:
        runner.run(argv_)
        code = EXIT_OK
    except RuntimeError as exc:
        log(f"bake load: the load test failed its gates or could not run ({exc}); see {args.out}/summary.json")
        code = EXIT_FAILED
    rest = args.bake_seconds - (time.monotonic() - started)
    if code == EXIT_OK and rest > 0:
        log(f"bake load: {step.uploads} uploads made; the bake goes on for {rest:.0f}s")
        time.sleep(rest)
    return code


if __name__ == "__main__":
    sys.exit(main())
