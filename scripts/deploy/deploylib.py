"""What the deploy scripts share: a dry-run aware command runner, Prometheus instant queries and their recorded
results, the worker's signals as PromQL, and the checks the gates print, with their waivers.

Every script here reads ``--dry-run`` or ``DRY_RUN=1``: commands are printed to stdout as ``+ <shell-quoted argv>``
instead of being run, so the workflow's decisions can be replayed offline on recorded inputs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["PROMETHEUS_RESOURCE", "SIGNALS", "Check", "Prometheus", "Runner", "apply_waivers", "check_window",
           "dry_run_env", "load_json", "log", "parse_waivers", "promql", "scalar", "selector", "window_since"]

# The token audience of Azure Monitor managed Prometheus query endpoints.
PROMETHEUS_RESOURCE = "https://prometheus.monitor.azure.com"

# Outcomes of one attempt at a job on one worker (worker/service.py). `retried` is an attempt that failed with a
# transient error and went back to the queue: another slot may finish the job, so a slot whose every attempt fails
# transiently would look clean if only final outcomes counted. `skipped` (a duplicate message) and `released` (a
# drain) are not attempts.
ATTEMPTS = "succeeded|failed|poisoned|retried"
ERRORS = "failed|poisoned|retried"

def _new_or_increase(counter: str) -> str:
    """Events of a counter labelled by reason. Its series per reason appears at the first event, already at 1, and
    increase() cannot count what came before a series' first sample: the first poisoned message of a slot would
    read as none. A series that is new within the window counts with its whole value, an older one with its
    increase; 0 when the slot's targets are scraped and no series exists."""
    s = f"{counter}{{{{{{sel}}}}}}"
    return (f"sum(({s} unless {s} offset {{window}}) or increase({s}[{{window}}]))"
            " or (0 * sum(up{{{sel}}}))")


# The worker's signals, per slot: {sel} is a label matcher list, {window} a range such as 15m. A signal with no
# data is None, and every gate treats None as a failure with its reason, never as a pass.
SIGNALS: dict[str, str] = {
    # attempts at jobs that ended on the slot in the window
    "jobs": f'sum(increase(transcoder_jobs_total{{{{{{sel}},outcome=~"{ATTEMPTS}"}}}}[{{window}}]))',
    # share of those attempts that failed, were poisoned or were retried; no data (NaN) without attempts
    "error_rate": (f'sum(increase(transcoder_jobs_total{{{{{{sel}},outcome=~"{ERRORS}"}}}}[{{window}}]))'
                   f' / sum(increase(transcoder_jobs_total{{{{{{sel}},outcome=~"{ATTEMPTS}"}}}}[{{window}}]))'),
    # GPU busy ratio and NVENC busy ratio (0-1); absent when NVML sees no GPU
    "gpu_utilization": "avg(avg_over_time(transcoder_gpu_utilization_ratio{{{sel}}}[{window}]))",
    "encoder_utilization": "avg(avg_over_time(transcoder_gpu_encoder_utilization_ratio{{{sel}}}[{window}]))",
    # p95 of the time a job holds its queue message, lease to delete (succeeded jobs)
    "queue_latency_p95_seconds": ('histogram_quantile(0.95, sum by (le) (rate(transcoder_job_duration_seconds_bucket'
                                  '{{{sel},outcome="succeeded"}}[{window}])))'),
    # poisoned messages and CPU fallbacks in the window (see _new_or_increase); 0 while the slot's targets are
    # scraped and none happened, no data when nothing is scraped
    "poisoned": _new_or_increase("transcoder_poisoned_total"),
    "fallbacks": _new_or_increase("transcoder_encoder_fallbacks_total"),
    # scraped targets that answered, 0-1; how many targets; seconds since the newest scrape (stale data)
    "up": "avg(up{{{sel}}})",
    "targets": "count(up{{{sel}}})",
    "scrape_age_seconds": "time() - max(timestamp(up{{{sel}}}))",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dry_run_env() -> bool:
    """DRY_RUN=1 (or true/yes) in the environment."""
    return os.environ.get("DRY_RUN", "").strip().lower() in {"1", "true", "yes"}


@dataclass
class Runner:
    """Runs argv lists (never a shell); in dry-run mode prints them instead, to stdout unless ``to_stderr`` (for
    commands whose stdout is data, such as `traffic.py slots` feeding $GITHUB_OUTPUT)."""

    dry_run: bool
    commands: list[list[str]] = field(default_factory=list)
    to_stderr: bool = False

    def run(self, argv: list[str], *, capture: bool = False, secret_output: bool = False) -> str:
        """Run ``argv``; its stdout when ``capture`` (empty in dry-run). ``secret_output``: never echo stdout."""
        self.commands.append(argv)
        line = shlex.join(argv)
        if self.dry_run:
            print(f"+ {line}", flush=True, file=sys.stderr if self.to_stderr else sys.stdout)
            return ""
        log(f"+ {line}")
        result = subprocess.run(argv, check=False, text=True, capture_output=capture)
        if result.returncode != 0:
            detail = "" if secret_output or not capture else f": {result.stderr.strip()[-2000:]}"
            raise RuntimeError(f"{argv[0]} exited {result.returncode}{detail}")
        return result.stdout if capture else ""


@dataclass(frozen=True)
class Check:
    """One line of a gate's verdict."""

    name: str
    passed: bool
    detail: str
    waived: str = ""


def parse_waivers(items: Iterable[str], table: str = "", scope: str = "") -> dict[str, str]:
    """Waivers by check name, from ``--waive CHECK=REASON`` items and a JSON table ``{"scope": {"check": "reason"}}``
    (``scope`` a region or a slot; ``"*"`` for all). A waiver without a reason is refused."""
    waivers: dict[str, str] = {}
    if table.strip():
        parsed = json.loads(table)
        if not isinstance(parsed, dict):
            raise ValueError("the waivers table must be a JSON object of {scope: {check: reason}}")
        for key in ("*", scope):
            entry = parsed.get(key) or {}
            if not isinstance(entry, dict):
                raise ValueError(f"waivers for {key!r} must be an object of {{check: reason}}")
            waivers.update({str(k): str(v) for k, v in entry.items()})
    for item in items:
        name, sep, reason = item.partition("=")
        waivers[name.strip()] = reason.strip() if sep else ""
    empty = sorted(name for name, reason in waivers.items() if not reason.strip())
    if empty:
        raise ValueError(f"a waiver needs a reason (CHECK=REASON): {', '.join(empty)}")
    return waivers


def apply_waivers(checks: list[Check], waivers: Mapping[str, str]) -> list[Check]:
    """A failed check with a waiver passes, and says so; a waiver for a check that does not exist is an error (a
    typo must not leave the check it meant to waive failing unnoticed, nor waive nothing silently)."""
    unknown = sorted(set(waivers) - {c.name for c in checks})
    if unknown:
        raise ValueError(f"waivers for unknown checks {unknown}; checks: {[c.name for c in checks]}")
    out = []
    for c in checks:
        reason = waivers.get(c.name)
        if reason and not c.passed:
            c = replace(c, passed=True, waived=reason, detail=f"WAIVED ({reason}): {c.detail}")
        out.append(c)
    return out


_DURATION = re.compile(r"^(\d+)([smhd])$")


def window_since(since: float | None, window: str, *, dry_run: bool = False, now: float | None = None) -> str:
    """The range a gate judges: ``window``, or with ``since`` (epoch seconds, the deploy's or the bake's start)
    everything from then until now, at least one minute (``window`` in dry-run, where nothing was waited for)."""
    if since is None or dry_run:
        return window
    elapsed = (time.time() if now is None else now) - since
    if elapsed <= 0:
        raise ValueError(f"--since {since:.0f} is in the future")
    return f"{max(60, math.ceil(elapsed))}s"


def check_window(window: str) -> str:
    if not _DURATION.match(window):
        raise ValueError(f"window {window!r}: give a number and a unit, e.g. 15m or 900s")
    return window


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def selector(labels: Mapping[str, str], extra: str = "") -> str:
    """A PromQL label matcher list: ``service="transcoder-green",cluster="aks-1"``."""
    parts = [f'{k}="{v}"' for k, v in labels.items()]
    if extra.strip():
        parts.append(extra.strip())
    return ",".join(parts)


def promql(signal: str, sel: str, window: str) -> str:
    return SIGNALS[signal].format(sel=sel, window=window)


def scalar(response: Mapping[str, Any]) -> float | None:
    """The one value of a Prometheus instant-query response (HTTP API JSON); None for no data or NaN."""
    if response.get("status") != "success":
        raise ValueError(f"query failed: {response.get('errorType')}: {response.get('error')}")
    data = response["data"]
    kind = data["resultType"]
    if kind == "scalar":
        raw = data["result"][1]
    elif kind == "vector":
        series = data["result"]
        if not series:
            return None
        if len(series) > 1:
            raise ValueError(f"expected one series, got {len(series)}: aggregate the query")
        raw = series[0]["value"][1]
    else:
        raise ValueError(f"unexpected result type {kind!r}")
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


@dataclass
class Prometheus:
    """Instant queries against a Prometheus HTTP API. ``auth="azure"``: Azure Monitor managed Prometheus, a bearer
    token for PROMETHEUS_RESOURCE from the signed-in Azure CLI; ``"none"``: a plain Prometheus (loopback, tests)."""

    url: str
    runner: Runner
    auth: str = "azure"
    timeout_s: float = 30
    _token: str | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._bearer()}"} if self.auth == "azure" else {}

    def _bearer(self) -> str:
        if self._token is None:
            self._token = self.runner.run(["az", "account", "get-access-token", "--resource", PROMETHEUS_RESOURCE,
                                           "--query", "accessToken", "-o", "tsv"],
                                          capture=True, secret_output=True).strip()
        return self._token

    def query(self, expr: str) -> dict[str, Any] | None:
        """The response JSON; None in dry-run (the query is printed instead)."""
        endpoint = self.url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        if self.runner.dry_run:
            self._headers()
            print(f"+ GET {self.url.rstrip('/')}/api/v1/query query={expr}", flush=True)
            return None
        request = urllib.request.Request(endpoint, headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                result: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")[:500]
            raise RuntimeError(f"Prometheus at {self.url} answered {exc.code} to {expr!r}: {body}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise RuntimeError(f"Prometheus at {self.url} cannot be queried: {exc}") from exc
        return result

    def signals(self, names: list[str], sel: str, window: str) -> dict[str, Any] | None:
        """Responses by signal name (the recorded-file format); None in dry-run."""
        results = {name: self.query(promql(name, sel, window)) for name in names}
        if self.runner.dry_run:
            return None
        return results
