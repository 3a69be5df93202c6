#!/usr/bin/env python3
"""Health gate of one region after a deploy: the circuit breaker between regions.

    health_gate.py --state-file eastus.json                                     # recorded state
    health_gate.py --region eastus --release transcoder-blue --prometheus-url URL --bake-seconds 600   # live

The region passes when its Helm release is `deployed`, no worker pod is crash-looping, failing to pull its image or
restarting, every running pod is ready, and over the window its job error rate, poisoned messages, CPU fallbacks
(an encode that found no NVENC) and unscraped targets are within the limits. Prints a JSON verdict; exits 0 to go
on to the next region, 1 to stop the rollout, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deploylib import Prometheus, Runner, dry_run_env, load_json, log, scalar, selector

SIGNAL_NAMES = ["jobs", "error_rate", "poisoned", "fallbacks", "up"]
BAD_WAITING = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
               "CreateContainerError", "InvalidImageName", "RunContainerError"}
EXIT_PASS, EXIT_STOP, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Limits:
    max_error_rate: float = 0.05
    max_poisoned: float = 0
    max_fallbacks: float = 0
    max_restarts: int = 2


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


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


def evaluate(state: Mapping[str, Any], limits: Limits, *, require_gpu: bool = True) -> list[Check]:
    release_status = state["release"].get("info", {}).get("status")
    checks = [Check("release", release_status == "deployed", f"helm status {release_status!r}")]
    checks += check_pods(state["pods"], limits)
    results = state.get("results", {})
    values = {name: scalar(results[name]) if name in results else None for name in SIGNAL_NAMES}
    jobs = values["jobs"] or 0.0
    rate = values["error_rate"]
    if jobs < 1 or rate is None:
        checks.append(Check("error_rate", True, "no finished jobs in the window"))
    else:
        checks.append(Check("error_rate", rate <= limits.max_error_rate,
                            f"{rate:.4f} over {jobs:.0f} jobs (limit {limits.max_error_rate})"))
    poisoned = values["poisoned"] or 0.0
    checks.append(Check("poisoned", poisoned <= limits.max_poisoned,
                        f"{poisoned:.0f} poisoned (limit {limits.max_poisoned:g})"))
    fallbacks = values["fallbacks"] or 0.0
    checks.append(Check("gpu_fallbacks", not require_gpu or fallbacks <= limits.max_fallbacks,
                        f"{fallbacks:.0f} jobs encoded on the CPU (limit {limits.max_fallbacks:g})"))
    up = values["up"]
    checks.append(Check("scrape", up is None or up >= 1.0,
                        "no targets (scaled to zero)" if up is None else f"{up:.2f} of the targets answer"))
    return checks


def live_state(args: argparse.Namespace, runner: Runner) -> dict[str, Any] | None:
    if args.bake_seconds:
        runner.run(["sleep", str(args.bake_seconds)])
    status = runner.run(["helm", "status", args.release, "-n", args.namespace, "-o", "json"], capture=True)
    pods = runner.run(["kubectl", "get", "pods", "-n", args.namespace, "-l",
                       f"app.kubernetes.io/instance={args.release}", "-o", "json"], capture=True)
    sel = selector({"service": args.release, "namespace": args.namespace}, args.selector)
    results = Prometheus(args.prometheus_url, runner).signals(SIGNAL_NAMES, sel, args.window)
    if runner.dry_run or results is None:
        return None
    state = {"region": args.region, "release": json.loads(status), "pods": json.loads(pods), "results": results}
    if args.record_file:
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
    live.add_argument("--selector", default="", help='extra PromQL matchers, e.g. cluster="aks-prod-eastus"')
    live.add_argument("--window", default="15m")
    live.add_argument("--bake-seconds", type=int, default=0, help="wait this long before judging")
    live.add_argument("--record-file", type=Path, help="write the state read to this file")
    d = Limits()
    lim = p.add_argument_group("limits")
    lim.add_argument("--max-error-rate", type=float, default=d.max_error_rate)
    lim.add_argument("--max-poisoned", type=float, default=d.max_poisoned)
    lim.add_argument("--max-fallbacks", type=float, default=d.max_fallbacks)
    lim.add_argument("--max-restarts", type=int, default=d.max_restarts)
    lim.add_argument("--no-require-gpu", dest="require_gpu", action="store_false",
                     help="CPU fallbacks do not stop the rollout (the CPU-pool variant)")
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
    limits = Limits(args.max_error_rate, args.max_poisoned, args.max_fallbacks, args.max_restarts)
    try:
        if args.state_file:
            state = load_json(args.state_file)
        else:
            state = live_state(args, Runner(args.dry_run))
            if state is None:
                print(json.dumps({"region": args.region, "decision": "dry-run"}))
                return EXIT_PASS
        checks = evaluate(state, limits, require_gpu=args.require_gpu)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        log(f"health gate: cannot read the region's state: {exc}")
        return EXIT_BAD_INPUT
    failed = [c for c in checks if not c.passed]
    region = state.get("region") or args.region
    for c in checks:
        log(f"{region}: {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}")
    print(json.dumps({"region": region, "decision": "stop" if failed else "pass",
                      "failed": [c.name for c in failed], "checks": [asdict(c) for c in checks]}, indent=2))
    return EXIT_STOP if failed else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
