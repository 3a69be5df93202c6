#!/usr/bin/env python3
"""Canary analysis: the new slot's error rate, CPU fallbacks, GPU utilisation and queue latency against the
current slot's.

    canary.py --metrics-file current.json --baseline-file baseline.json           # recorded results
    canary.py --prometheus-url URL --new-slot green --old-slot blue --window 15m  # live, optionally --record-dir

Prints a JSON verdict on stdout and exits 0 to promote, 1 to roll back, 2 on bad input or an unreachable
Prometheus. The new slot fails when its targets are not scraped or their data is stale, when it made too few
attempts at jobs to judge, when its error rate over attempts (failed, poisoned or retried) is over the limit or over
the baseline's by more than the allowed increase, when it fell back to CPU encoders more often than the baseline,
when its GPU or NVENC utilisation collapsed against the baseline (or its GPU series vanished: the worker found no
GPU), or when its p95 queue latency (lease to delete) regressed past both the ratio and the slack. Missing data is
a failure; so is a named baseline slot without data (nothing to compare with), unless waived with a reason.
"""

from __future__ import annotations

import argparse
import json
import sys
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

SIGNAL_NAMES = ["jobs", "error_rate", "gpu_utilization", "encoder_utilization", "queue_latency_p95_seconds",
                "fallbacks", "up", "targets", "scrape_age_seconds"]
GPU_SIGNALS = ("gpu_utilization", "encoder_utilization")
EXIT_PROMOTE, EXIT_ROLLBACK, EXIT_BAD_INPUT = 0, 1, 2

Signals = dict[str, float | None]


@dataclass(frozen=True)
class Thresholds:
    min_jobs: int = 20
    max_error_rate: float = 0.05
    max_error_rate_increase: float = 0.02
    min_gpu_ratio: float = 0.5
    gpu_floor: float = 0.05
    max_latency_ratio: float = 1.5
    latency_slack_s: float = 30.0
    require_gpu: bool = True
    max_fallback_rate_increase: float = 0.0
    max_scrape_age_s: float = 180.0


def signals_from(recorded: Mapping[str, Any]) -> Signals:
    """Signal values from a recorded file: {"results": {signal: Prometheus response}}."""
    results = recorded.get("results")
    if not isinstance(results, Mapping):
        raise ValueError("a recorded metrics file needs a 'results' object of Prometheus responses")
    unknown = set(results) - set(SIGNAL_NAMES)
    if unknown:
        raise ValueError(f"unknown signals {sorted(unknown)}; known: {SIGNAL_NAMES}")
    return {name: scalar(results[name]) if name in results else None for name in SIGNAL_NAMES}


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


def _scraped(name: str, slot: str, s: Signals, t: Thresholds) -> Check:
    """The slot's targets answer and their newest scrape is fresh."""
    targets, up, age = s.get("targets"), s.get("up"), s.get("scrape_age_seconds")
    if not targets:
        return Check(name, False, f"{slot}: no scrape targets match (metrics collection off, scaled to zero, or "
                     "the selector matches nothing)")
    if up is None or up < 1.0:
        return Check(name, False, f"{slot}: {_fmt(up)} of {targets:.0f} target(s) answer")
    if age is None or age > t.max_scrape_age_s:
        return Check(name, False, f"{slot}: newest scrape {_fmt(age)}s old (limit {t.max_scrape_age_s:g}s): stale")
    return Check(name, True, f"{slot}: {targets:.0f} target(s) answer, newest scrape {age:.0f}s old")


def _fallback_check(canary: Signals, baseline: Signals | None, t: Thresholds) -> Check:
    fallbacks, jobs = canary.get("fallbacks"), canary.get("jobs") or 0.0
    if fallbacks is None:
        return Check("gpu_fallbacks", not t.require_gpu, "no fallback series on the new slot (no data)")
    rate = fallbacks / jobs if jobs else 0.0
    base_rate = 0.0
    if baseline and baseline.get("fallbacks") is not None and baseline.get("jobs"):
        base_rate = (baseline["fallbacks"] or 0.0) / (baseline["jobs"] or 1.0)
    limit = base_rate + t.max_fallback_rate_increase
    passed = not t.require_gpu or rate <= limit
    return Check("gpu_fallbacks", passed, f"{fallbacks:.0f} CPU fallbacks in {jobs:.0f} attempts ({rate:.3f}) "
                 f"against limit {limit:.3f} (baseline {base_rate:.3f})")


def evaluate(canary: Signals, baseline: Signals | None, t: Thresholds) -> list[Check]:
    """``baseline`` None: no baseline slot was named (a first deploy). A named baseline is judged for data too."""
    checks: list[Check] = [_scraped("scrape", "new slot", canary, t)]
    if baseline is not None:
        checks.append(_scraped("baseline_scrape", "baseline slot", baseline, t))
    jobs = canary.get("jobs") or 0.0
    checks.append(Check("traffic", jobs >= t.min_jobs,
                        f"{jobs:.0f} attempts at jobs on the new slot (at least {t.min_jobs} to judge)"
                        if canary.get("jobs") is not None else "no transcoder_jobs_total series on the new slot"))

    rate = canary.get("error_rate")
    base_rate = baseline.get("error_rate") if baseline else None
    if rate is None:
        checks.append(Check("error_rate", False, "no error rate for the new slot"))
    else:
        limit = t.max_error_rate
        if base_rate is not None:
            limit = min(limit, base_rate + t.max_error_rate_increase)
        checks.append(Check("error_rate", rate <= limit,
                            f"{rate:.4f} against limit {limit:.4f} (baseline {_fmt(base_rate)})"))

    for name in GPU_SIGNALS:
        value = canary.get(name)
        base = baseline.get(name) if baseline else None
        busy_base = base is not None and base >= t.gpu_floor
        if value is None:
            lost = busy_base or (name == "gpu_utilization" and t.require_gpu)
            checks.append(Check(name, not lost, f"no series on the new slot (baseline {_fmt(base)})"
                                + (": the worker sees no GPU" if lost else "")))
            continue
        if base is None or not busy_base:
            checks.append(Check(name, True, f"{value:.3f}; no busy baseline to compare (baseline {_fmt(base)})"))
            continue
        floor = base * t.min_gpu_ratio
        checks.append(Check(name, value >= floor,
                            f"{value:.3f} against at least {floor:.3f} ({t.min_gpu_ratio:g} x baseline {base:.3f})"))
    checks.append(_fallback_check(canary, baseline, t))

    latency = canary.get("queue_latency_p95_seconds")
    base_latency = baseline.get("queue_latency_p95_seconds") if baseline else None
    if latency is None:
        checks.append(Check("queue_latency", False, "no succeeded jobs: no latency for the new slot"))
    elif base_latency is None:
        checks.append(Check("queue_latency", True, f"p95 {latency:.1f}s; no baseline to compare"))
    else:
        limit = max(base_latency * t.max_latency_ratio, base_latency + t.latency_slack_s)
        checks.append(Check("queue_latency", latency <= limit,
                            f"p95 {latency:.1f}s against limit {limit:.1f}s (baseline {base_latency:.1f}s)"))
    return checks


def _live(args: argparse.Namespace, runner: Runner) -> tuple[Signals | None, Signals | None]:
    prom = Prometheus(args.prometheus_url, runner, auth=args.prometheus_auth)
    window = window_since(args.since, args.window, dry_run=runner.dry_run)
    out: list[Signals | None] = []
    for slot, name in ((args.new_slot, "current"), (args.old_slot, "baseline")):
        if not slot:
            out.append(None)
            continue
        sel = selector({"service": f"{args.release_prefix}-{slot}", "namespace": args.namespace}, args.selector)
        results = prom.signals(SIGNAL_NAMES, sel, window)
        if results is None:
            out.append(None)
            continue
        recorded = {"slot": slot, "window": window, "selector": sel, "results": results}
        if args.record_dir:
            args.record_dir.mkdir(parents=True, exist_ok=True)
            (args.record_dir / f"{name}.json").write_text(json.dumps(recorded, indent=2) + "\n")
        out.append(signals_from(recorded))
    return out[0], out[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("recorded inputs")
    src.add_argument("--metrics-file", type=Path, help="the new slot's recorded results (current)")
    src.add_argument("--baseline-file", type=Path, help="the current slot's recorded results (baseline)")
    live = p.add_argument_group("live inputs")
    live.add_argument("--prometheus-url", help="Prometheus query endpoint (Azure Monitor workspace)")
    live.add_argument("--prometheus-auth", choices=("azure", "none"), default="azure",
                      help="azure: a bearer token for Azure Monitor managed Prometheus; none: a plain Prometheus")
    live.add_argument("--new-slot", choices=("blue", "green"))
    live.add_argument("--old-slot", choices=("blue", "green", ""), default="", help="empty: no baseline")
    live.add_argument("--namespace", default="media")
    live.add_argument("--release-prefix", default="transcoder", help="releases are <prefix>-<slot>")
    live.add_argument("--selector", default="", help='extra PromQL matchers, e.g. cluster="aks-staging"')
    live.add_argument("--window", default="15m", type=check_window)
    live.add_argument("--since", type=float, help="judge from this epoch second on (the bake's start), not --window")
    live.add_argument("--record-dir", type=Path, help="write current.json and baseline.json here")
    t = p.add_argument_group("thresholds")
    d = Thresholds()
    t.add_argument("--min-jobs", type=int, default=d.min_jobs)
    t.add_argument("--max-error-rate", type=float, default=d.max_error_rate)
    t.add_argument("--max-error-rate-increase", type=float, default=d.max_error_rate_increase)
    t.add_argument("--min-gpu-ratio", type=float, default=d.min_gpu_ratio)
    t.add_argument("--gpu-floor", type=float, default=d.gpu_floor)
    t.add_argument("--max-latency-ratio", type=float, default=d.max_latency_ratio)
    t.add_argument("--latency-slack-s", type=float, default=d.latency_slack_s)
    t.add_argument("--max-fallback-rate-increase", type=float, default=d.max_fallback_rate_increase,
                   help="CPU fallbacks per attempt allowed above the baseline's")
    t.add_argument("--max-scrape-age-s", type=float, default=d.max_scrape_age_s)
    t.add_argument("--no-require-gpu", dest="require_gpu", action="store_false",
                   help="a slot without GPU series, or falling back to CPU encoders, passes (the CPU-pool variant)")
    t.add_argument("--waive", action="append", default=[], metavar="CHECK=REASON",
                   help="a failed check that is waived passes, and the verdict says why")
    p.add_argument("-n", "--dry-run", action="store_true", default=dry_run_env(),
                   help="print the queries instead of running them (also DRY_RUN=1)")
    args = p.parse_args(argv)
    if bool(args.metrics_file) == bool(args.prometheus_url):
        p.error("give either --metrics-file (recorded) or --prometheus-url (live)")
    if args.prometheus_url and not args.new_slot:
        p.error("--prometheus-url needs --new-slot")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    thresholds = Thresholds(args.min_jobs, args.max_error_rate, args.max_error_rate_increase, args.min_gpu_ratio,
                            args.gpu_floor, args.max_latency_ratio, args.latency_slack_s, args.require_gpu,
                            args.max_fallback_rate_increase, args.max_scrape_age_s)
    canary: Signals | None
    baseline: Signals | None
    try:
        if args.metrics_file:
            canary = signals_from(load_json(args.metrics_file))
            baseline = signals_from(load_json(args.baseline_file)) if args.baseline_file else None
        else:
            runner = Runner(args.dry_run)
            canary, baseline = _live(args, runner)
        if canary is None:
            print(json.dumps({"decision": "dry-run"}))
            return EXIT_PROMOTE
        checks = apply_waivers(evaluate(canary, baseline, thresholds), parse_waivers(args.waive))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        log(f"canary: cannot read the metrics: {exc}")
        return EXIT_BAD_INPUT
    failed = [c for c in checks if not c.passed]
    for c in checks:
        log(f"{'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}")
    decision = "rollback" if failed else "promote"
    print(json.dumps({"decision": decision, "failed": [c.name for c in failed],
                      "waived": {c.name: c.waived for c in checks if c.waived}, "checks": [asdict(c) for c in checks],
                      "canary": canary, "baseline": baseline}, indent=2))
    return EXIT_ROLLBACK if failed else EXIT_PROMOTE


if __name__ == "__main__":
    sys.exit(main())
