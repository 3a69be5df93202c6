#!/usr/bin/env python3
"""Traffic between the blue and green worker slots, which consume one jobs queue.

    traffic.py slots --namespace media                       # live=blue / idle=green, for $GITHUB_OUTPUT
    traffic.py shift --namespace media --new green --old blue --percent 20 --max-replicas 10

Queue workers take no routed requests: a slot's share of the traffic is its share of the consumers. `shift` splits
the replica budget (`--max-replicas`, the chart's `scaling.maxReplicas`) between the slots by patching their KEDA
objects: at 20% of 10 the new slot may scale to 2 replicas and the old one to 8. Under load both scale to their
caps, so the new slot takes about 20% of the messages. At 0% the new slot is paused (KEDA holds it at zero), at
100% the old one is, and its running jobs finish within the drain period. The patch is a merge patch: applying the
same step twice changes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deploylib import Runner, dry_run_env, load_json, log

SLOTS = ("blue", "green")
# the annotation that pauses each kind, as the chart writes it (templates/scaledobject.yaml, scaledjob.yaml)
PAUSE = {"ScaledObject": ("autoscaling.keda.sh/paused-replicas", "0"),
         "ScaledJob": ("autoscaling.keda.sh/paused", "true")}


@dataclass(frozen=True)
class Split:
    new_max: int
    old_max: int
    new_paused: bool
    old_paused: bool


def split(percent: int, total: int, *, has_old: bool = True) -> Split:
    """The replica caps of the new and the old slot for ``percent`` of the traffic on the new one."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be 0-100, got {percent}")
    if total < 1:
        raise ValueError(f"max replicas must be at least 1, got {total}")
    if percent == 0:
        return Split(total, total, new_paused=True, old_paused=False)
    if percent == 100 or not has_old:
        return Split(total, total, new_paused=False, old_paused=has_old)
    if total < 2:
        raise ValueError("a split between two slots needs max replicas of at least 2")
    new = min(max(math.floor(total * percent / 100 + 0.5), 1), total - 1)
    return Split(new, total - new, new_paused=False, old_paused=False)


def patch_body(kind: str, max_replicas: int, paused: bool) -> str:
    key, value = PAUSE[kind]
    return json.dumps({"metadata": {"annotations": {key: value if paused else None}},
                       "spec": {"maxReplicaCount": max_replicas}}, separators=(",", ":"))


def shift_commands(args: argparse.Namespace, plan: Split) -> list[list[str]]:
    resource = args.kind.lower()
    steps = [(args.new, plan.new_max, plan.new_paused)]
    if args.old:
        steps.append((args.old, plan.old_max, plan.old_paused))
    # open the receiving side first, close the giving side last: capacity never dips below the budget
    steps.sort(key=lambda s: s[2])
    return [["kubectl", "patch", resource, f"{args.release_prefix}-{slot}", "-n", args.namespace, "--type", "merge",
             "-p", patch_body(args.kind, cap, paused)] for slot, cap, paused in steps]


def _paused(item: Mapping[str, Any]) -> bool:
    annotations = item.get("metadata", {}).get("annotations") or {}
    key, value = PAUSE.get(item.get("kind", "ScaledObject"), PAUSE["ScaledObject"])
    return bool(annotations.get(key) == value)


def slots_from(listing: Mapping[str, Any]) -> tuple[str, str]:
    """(live, idle) from the slots' KEDA objects; live is empty when no slot takes jobs."""
    active = sorted({item["metadata"]["labels"]["slot"] for item in listing.get("items", [])
                     if item.get("metadata", {}).get("labels", {}).get("slot") in SLOTS and not _paused(item)})
    if len(active) > 1:
        raise ValueError("both slots take jobs: a shift is in progress; finish it or roll it back first")
    if not active:
        return "", "blue"
    live = active[0]
    return live, "green" if live == "blue" else "blue"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-n", "--dry-run", action="store_true", default=dry_run_env(),
                   help="print the commands instead of running them (also DRY_RUN=1)")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("slots", "shift"):
        s = sub.add_parser(name, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        s.add_argument("--namespace", default="media")
        s.add_argument("--release-prefix", default="transcoder", help="releases and objects are <prefix>-<slot>")
        s.add_argument("-n", "--dry-run", action="store_true", default=argparse.SUPPRESS)
    slots = sub.choices["slots"]
    slots.add_argument("--state-file", type=Path, help="recorded `kubectl get scaledobjects,scaledjobs -o json`")
    shift = sub.choices["shift"]
    shift.add_argument("--new", required=True, choices=SLOTS, help="the slot that receives the traffic")
    shift.add_argument("--old", default="", choices=(*SLOTS, ""), help="the slot that gives it up; empty: none")
    shift.add_argument("--percent", required=True, type=int, help="share of the consumers on the new slot")
    shift.add_argument("--max-replicas", required=True, type=int, help="replica budget of both slots together")
    shift.add_argument("--kind", choices=tuple(PAUSE), default="ScaledObject", help="the chart's scaling.kind")
    args = p.parse_args(argv)
    if args.command == "shift" and args.old == args.new:
        p.error("--new and --old must differ")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runner = Runner(args.dry_run, to_stderr=args.command == "slots")
    try:
        if args.command == "slots":
            if args.state_file:
                listing = load_json(args.state_file)
            else:
                text = runner.run(["kubectl", "get", "scaledobjects.keda.sh,scaledjobs.keda.sh", "-n", args.namespace,
                                   "-l", "app.kubernetes.io/name=transcoder", "-o", "json"], capture=True)
                listing = json.loads(text) if text else {"items": []}
            live, idle = slots_from(listing)
            print(f"live={live}\nidle={idle}")
            return 0
        plan = split(args.percent, args.max_replicas, has_old=bool(args.old))
        log(f"traffic: {args.percent}% to {args.new}: " + json.dumps(asdict(plan)))
        for cmd in shift_commands(args, plan):
            runner.run(cmd)
    except (OSError, ValueError, RuntimeError) as exc:
        log(f"traffic: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
