"""What the deploy scripts share: a dry-run aware command runner, Prometheus instant queries and their recorded
results, and the worker's signals as PromQL.

Every script here reads ``--dry-run`` or ``DRY_RUN=1``: commands are printed to stdout as ``+ <shell-quoted argv>``
instead of being run, so the workflow's decisions can be replayed offline on recorded inputs.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PROMETHEUS_RESOURCE", "SIGNALS", "Prometheus", "Runner", "dry_run_env", "load_json", "log",
           "promql", "scalar", "selector"]

# The token audience of Azure Monitor managed Prometheus query endpoints.
PROMETHEUS_RESOURCE = "https://prometheus.monitor.azure.com"

# The worker's signals, per slot: {sel} is a label matcher list, {window} a range such as 15m.
SIGNALS: dict[str, str] = {
    # finished jobs (retries and skips are not outcomes of a job)
    "jobs": 'sum(increase(transcoder_jobs_total{{{sel},outcome=~"succeeded|failed|poisoned"}}[{window}]))',
    # share of finished jobs that failed or were poisoned
    "error_rate": ('sum(increase(transcoder_jobs_total{{{sel},outcome=~"failed|poisoned"}}[{window}]))'
                   ' / clamp_min(sum(increase(transcoder_jobs_total{{{sel},outcome=~"succeeded|failed|poisoned"}}'
                   '[{window}])), 1)'),
    # GPU busy ratio and NVENC busy ratio (0-1); absent when NVML sees no GPU
    "gpu_utilization": "avg(avg_over_time(transcoder_gpu_utilization_ratio{{{sel}}}[{window}]))",
    "encoder_utilization": "avg(avg_over_time(transcoder_gpu_encoder_utilization_ratio{{{sel}}}[{window}]))",
    # p95 of the time a job holds its queue message, lease to delete (succeeded jobs)
    "queue_latency_p95_seconds": ('histogram_quantile(0.95, sum by (le) (rate(transcoder_job_duration_seconds_bucket'
                                  '{{{sel},outcome="succeeded"}}[{window}])))'),
    "poisoned": "sum(increase(transcoder_poisoned_total{{{sel}}}[{window}]))",
    "fallbacks": "sum(increase(transcoder_encoder_fallbacks_total{{{sel}}}[{window}]))",
    # scraped targets that answered, 0-1
    "up": "avg(up{{{sel}}})",
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
    """Instant queries against a Prometheus HTTP API (Azure Monitor managed Prometheus: a bearer token for
    PROMETHEUS_RESOURCE from the signed-in Azure CLI)."""

    url: str
    runner: Runner
    timeout_s: float = 30
    _token: str | None = None

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
            self._bearer()
            print(f"+ GET {self.url.rstrip('/')}/api/v1/query query={expr}", flush=True)
            return None
        request = urllib.request.Request(endpoint, headers={"Authorization": f"Bearer {self._bearer()}"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            result: dict[str, Any] = json.load(response)
        return result

    def signals(self, names: list[str], sel: str, window: str) -> dict[str, Any] | None:
        """Responses by signal name (the recorded-file format); None in dry-run."""
        results = {name: self.query(promql(name, sel, window)) for name in names}
        if self.runner.dry_run:
            return None
        return results
