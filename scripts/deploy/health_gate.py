#!/usr/bin/env python3
"""Health gate of one region after a deploy: the circuit breaker between regions.

    health_gate.py --state-file eastus.json                                     # recorded state
    health_gate.py --region eastus --release transcoder-blue --prometheus-url URL --bake-seconds 600   # live
    health_gate.py --region local --release transcoder-blue --prometheus-url http://127.0.0.1:9090 \\
        --prometheus-auth none --cluster-file cluster.json         # live metrics, recorded release and pods

The region passes when its Helm release is `deployed`, no worker pod is crash-looping, failing to pull its image or
restarting, every running pod is ready, its targets are scraped and fresh, it finished jobs in the window, and its
error rate over attempts, poisoned messages and CPU fallbacks (an encode that found no NVENC) are within the limits.
Missing data fails: no targets, a target down, a stale scrape, no jobs or no error rate each stop the rollout with
the reason, unless a waiver with a reason is given for that check in that region (`--waive traffic="no uploads
here before launch"`, or the `--waivers` JSON table the workflow keeps per region). Prints a JSON verdict; exits 0
to go on to the next region, 1 to stop the rollout, 2 on bad input or an unreachable Prometheus.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deploylib import (
    Check,
    Prometheus,
    Runner,
    apply_waivers,
    check_window,
    dry_run_env,
    load_json,
    log,
    parse_waivers,
    scalar,
    selector,
    window_since,
)

SIGNAL_NAMES = ["jobs", "error_rate", "poisoned", "fallbacks", "up", "targets", "scrape_age_seconds"]
BAD_WAITING = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
               "CreateContainerError", "InvalidImageName", "RunContainerError"}
EXIT_PASS, EXIT_STOP, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Limits:
    max_error_rate: float = 0.05
    max_poisoned: float = 0
    max_fallbacks: float = 0
    max_restarts: int = 2
    min_jobs: int = 1
    max_scrape_age_s: float = 180


def _ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []))


def check_pods(pods: Mapping[str, Any], limits: Limits) -> list[Check]:
    problems: list[str] = []
    live = [p for p in pods.get("items", []) if not p.get("metadata", {}).get("deletionTimestamp")]
    for pod in live:
        name = pod["metadata"]["name"]
        status = pod.get("status", {})
        if status.get("phase") == "Failed":
            problems.append(f"{name} failed")
        for c in status.get("containerStatuses", []):
            reason = (c.get("state", {}).get("waiting") or {}).get("reason")
            if reason in BAD_WAITING:
                problems.append(f"{name}/{c['name']} {reason}")
            if c.get("restartCount", 0) > limits.max_restarts:
                problems.append(f"{name}/{c['name']} restarted {c['restartCount']} times")
        if status.get("phase") == "Running" and not _ready(pod):
            problems.append(f"{name} running but not ready")
    detail = "; ".join(problems) if problems else f"{len(live)} pod(s) healthy"
    return [Check("pods", not problems, detail)]


def check_metrics(values: Mapping[str, float | None], limits: Limits, *, require_gpu: bool) -> list[Check]:
    """The Prometheus side of the gate; every signal without data fails, with what that means."""
    checks: list[Check] = []
    targets, up, age = values.get("targets"), values.get("up"), values.get("scrape_age_seconds")
    if not targets:
        checks.append(Check("scrape", False, "no scrape targets match: metrics collection is off, the release is "
                            "scaled to zero, or the selector matches nothing"))
    else:
        checks.append(Check("scrape", up is not None and up >= 1.0,
                            f"{_fmt(up)} of {targets:.0f} target(s) answer"))
    checks.append(Check("freshness", age is not None and age <= limits.max_scrape_age_s,
                        "no scrape to date" if age is None else
                        f"newest scrape {age:.0f}s old (limit {limits.max_scrape_age_s:g}s)"))
    jobs, rate = values.get("jobs"), values.get("error_rate")
    if jobs is None:
        checks.append(Check("traffic", False, "no transcoder_jobs_total series: the targets are not the worker"))
    else:
        checks.append(Check("traffic", jobs >= limits.min_jobs,
                            f"{jobs:.0f} attempts at jobs in the window (at least {limits.min_jobs} to judge)"))
    checks.append(Check("error_rate", rate is not None and rate <= limits.max_error_rate,
                        "no error rate: no attempts in the window" if rate is None else
                        f"{rate:.4f} over {jobs or 0:.0f} attempts (limit {limits.max_error_rate})"))
    poisoned, fallbacks = values.get("poisoned"), values.get("fallbacks")
    checks.append(Check("poisoned", poisoned is not None and poisoned <= limits.max_poisoned,
                        "no data" if poisoned is None else
                        f"{poisoned:.0f} poisoned (limit {limits.max_poisoned:g})"))
    checks.append(Check("gpu_fallbacks", not require_gpu or (fallbacks is not None and
                                                             fallbacks <= limits.max_fallbacks),
                        "no data" if fallbacks is None else
                        f"{fallbacks:.0f} jobs encoded on the CPU (limit {limits.max_fallbacks:g})"))
    return checks


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def evaluate(state: Mapping[str, Any], limits: Limits, *, require_gpu: bool = True) -> list[Check]:
    release_status = state["release"].get("info", {}).get("status")
    checks = [Check("release", release_status == "deployed", f"helm status {release_status!r}")]
    checks += check_pods(state["pods"], limits)
    results = state.get("results", {})
    values = {name: scalar(results[name]) if name in results else None for name in SIGNAL_NAMES}
    return checks + check_metrics(values, limits, require_gpu=require_gpu)


def live_state(args: argparse.Namespace, runner: Runner) -> dict[str, Any] | None:
    if args.bake_seconds:
        runner.run(["sleep", str(args.bake_seconds)])
    if args.cluster_file:
        cluster = load_json(args.cluster_file)
        release, pods = cluster["release"], cluster["pods"]
    else:
        status = runner.run(["helm", "status", args.release, "-n", args.namespace, "-o", "json"], capture=True)
        listed = runner.run(["kubectl", "get", "pods", "-n", args.namespace, "-l",
                             f"app.kubernetes.io/instance={args.release}", "-o", "json"], capture=True)
        release, pods = (json.loads(status), json.loads(listed)) if not runner.dry_run else ({}, {})
    window = window_since(args.since, args.window, dry_run=runner.dry_run)
    sel = selector({"service": args.release, "namespace": args.namespace}, args.selector)
    results = Prometheus(args.prometheus_url, runner, auth=args.prometheus_auth).signals(SIGNAL_NAMES, sel, window)
    if runner.dry_run or results is None:
        return None
    state = {"region": args.region, "window": window, "selector": sel, "judged_at": time.time(),
             "release": release, "pods": pods, "results": results}
    if args.record_file:
        args.record_file.parent.mkdir(parents=True, exist_ok=True)
        args.record_file.write_text(json.dumps(state, indent=2) + "\n")
    return state


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--state-file", type=Path, help="recorded state: release, pods and Prometheus results")
    live = p.add_argument_group("live inputs")
    live.add_argument("--region", default="")
    live.add_argument("--release", help="Helm release (also the Service the metrics are scraped through)")
    live.add_argument("--namespace", default="media")
    live.add_argument("--prometheus-url")
    live.add_argument("--prometheus-auth", choices=("azure", "none"), default="azure",
                      help="azure: a bearer token for Azure Monitor managed Prometheus; none: a plain Prometheus")
    live.add_argument("--cluster-file", type=Path,
                      help="the release and pods as recorded JSON ({release, pods}) instead of helm and kubectl")
    live.add_argument("--selector", default="", help='extra PromQL matchers, e.g. cluster="aks-prod-eastus"')
    live.add_argument("--window", default="15m", type=check_window)
    live.add_argument("--since", type=float, help="judge from this epoch second on (the deploy's start), not --window")
    live.add_argument("--bake-seconds", type=int, default=0, help="wait this long before judging")
    live.add_argument("--record-file", type=Path, help="write the state read to this file")
    d = Limits()
    lim = p.add_argument_group("limits")
    lim.add_argument("--max-error-rate", type=float, default=d.max_error_rate)
    lim.add_argument("--max-poisoned", type=float, default=d.max_poisoned)
    lim.add_argument("--max-fallbacks", type=float, default=d.max_fallbacks)
    lim.add_argument("--max-restarts", type=int, default=d.max_restarts)
    lim.add_argument("--min-jobs", type=int, default=d.min_jobs, help="attempts needed in the window to judge")
    lim.add_argument("--max-scrape-age-s", type=float, default=d.max_scrape_age_s,
                     help="older newest scrape: the data is stale")
    lim.add_argument("--no-require-gpu", dest="require_gpu", action="store_false",
                     help="CPU fallbacks do not stop the rollout (the CPU-pool variant)")
    w = p.add_argument_group("waivers (a failed check that is waived passes, and the verdict says why)")
    w.add_argument("--waive", action="append", default=[], metavar="CHECK=REASON")
    w.add_argument("--waivers", default=os.environ.get("HEALTH_GATE_WAIVERS", ""),
                   help='JSON {"<region>" or "*": {"<check>": "<reason>"}} (also $HEALTH_GATE_WAIVERS)')
    p.add_argument("-n", "--dry-run", action="store_true", default=dry_run_env(),
                   help="print the commands and queries instead of running them (also DRY_RUN=1)")
    args = p.parse_args(argv)
    if bool(args.state_file) == bool(args.release):
        p.error("give either --state-file (recorded) or --release with --prometheus-url (live)")
    if args.release and not args.prometheus_url:
        p.error("--release needs --prometheus-url")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limits = Limits(args.max_error_rate, args.max_poisoned, args.max_fallbacks, args.max_restarts, args.min_jobs,
                    args.max_scrape_age_s)
    try:
        if args.state_file:
            state = load_json(args.state_file)
        else:
            state = live_state(args, Runner(args.dry_run))
            if state is None:
                print(json.dumps({"region": args.region, "decision": "dry-run"}))
                return EXIT_PASS
        region = state.get("region") or args.region
        waivers = parse_waivers(args.waive, args.waivers, region)
        checks = apply_waivers(evaluate(state, limits, require_gpu=args.require_gpu), waivers)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        log(f"health gate: cannot read the region's state: {exc}")
        return EXIT_BAD_INPUT
    failed = [c for c in checks if not c.passed]
    for c in checks:
        log(f"{region}: {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}")
    print(json.dumps({"region": region, "decision": "stop" if failed else "pass",
                      "failed": [c.name for c in failed], "waived": {c.name: c.waived for c in checks if c.waived},
                      "checks": [asdict(c) for c in checks]}, indent=2))
    return EXIT_STOP if failed else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
