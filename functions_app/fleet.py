"""The fleet as Prometheus sees it: instant queries over the worker's series (``worker/metrics.py``).

Every query is scoped with ``PROMETHEUS_SELECTOR`` (the label matchers of the workers' scrape targets). A figure
with no series (no GPU, no job in the last hour) is ``null``; a Prometheus that does not answer is ``Unavailable``.
Counters are read as their increase over the last hour, a series born within the hour with its whole value (its
first sample is already the first event, which ``increase()`` alone would miss).
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from .web import Unavailable

__all__ = ["PROMETHEUS_SCOPE", "Prometheus", "Sample", "fleet_queries", "fleet_summary"]

PROMETHEUS_SCOPE = "https://prometheus.monitor.azure.com/.default"

Sample = tuple[dict[str, str], float | None]
"""One series of an instant vector: its labels and its value (``None`` for NaN or infinity)."""


class Prometheus:
    """``GET <url>/api/v1/query``; ``token`` gives a bearer token for each call (``None``: no header)."""

    def __init__(self, url: str, *, token: Callable[[], str] | None = None, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def query(self, expr: str) -> list[Sample]:
        request = urllib.request.Request(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}",
                                         headers={"Accept": "application/json"})
        if self._token is not None:
            try:
                request.add_header("Authorization", f"Bearer {self._token()}")
            except Exception as exc:  # azure-identity raises its own types; any of them means no token
                raise Unavailable(f"no token for Prometheus: {type(exc).__name__}: {str(exc)[:200]}") from exc
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                payload: Any = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise Unavailable(f"Prometheus at {self.url} answered {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Unavailable(f"Prometheus at {self.url} is not reachable: {str(exc)[:200]}") from exc
        if not isinstance(payload, dict) or payload.get("status") != "success":
            error = payload.get("error") if isinstance(payload, dict) else None
            raise Unavailable(f"Prometheus at {self.url} refused the query: {error or 'not a success'}")
        data = payload.get("data") or {}
        if data.get("resultType") == "scalar":
            return [({}, _value(data.get("result")))]
        return [(dict(item.get("metric") or {}), _value(item.get("value"))) for item in data.get("result") or []]


def _value(pair: Any) -> float | None:
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def _last_hour(counter: str, sel: str, by: str) -> str:
    s = f"{counter}{{{sel}}}"
    return f"sum by ({by}) (({s} unless {s} offset 1h) or increase({s}[1h]))"


def fleet_queries(selector: str) -> dict[str, str]:
    sel = selector
    return {
        "up": f"up{{{sel}}}",
        "inprogress": f"transcoder_jobs_inprogress{{{sel}}}",
        "slots": f"transcoder_job_slots{{{sel}}}",
        "draining": f"transcoder_draining{{{sel}}}",
        "gpu_utilization": f"avg(transcoder_gpu_utilization_ratio{{{sel}}})",
        "encoder_utilization": f"avg(transcoder_gpu_encoder_utilization_ratio{{{sel}}})",
        "nvenc_sessions": f"sum(transcoder_gpu_encoder_sessions{{{sel}}})",
        "queue_depth": f"max(transcoder_queue_depth{{{sel}}})",
        "fallbacks": _last_hour("transcoder_encoder_fallbacks_total", sel, "reason"),
        "jobs": _last_hour("transcoder_jobs_total", sel, "outcome"),
    }


def _one(samples: list[Sample]) -> float | None:
    return samples[0][1] if samples else None


def _by(samples: list[Sample], label: str) -> dict[str, int]:
    return {s[0].get(label, ""): round(s[1]) for s in samples if s[1] is not None}


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


def fleet_summary(prometheus: Prometheus, selector: str) -> dict[str, Any]:
    """The ``GET /api/fleet`` body. The queries run in parallel; the first that fails fails the whole answer."""
    queries = fleet_queries(selector)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(queries)) as pool:
        futures = {key: pool.submit(prometheus.query, expr) for key, expr in queries.items()}
        results = {key: future.result() for key, future in futures.items()}
    per_instance: dict[str, dict[str, float | None]] = {}
    for key in ("inprogress", "slots", "draining"):
        for labels, value in results[key]:
            per_instance.setdefault(labels.get("instance", ""), {})[key] = value
    workers = []
    for labels, value in sorted(results["up"], key=lambda s: s[0].get("instance", "")):
        instance = labels.get("instance", "")
        own = per_instance.get(instance, {})
        draining = own.get("draining")
        workers.append({"instance": instance, "service": labels.get("service") or labels.get("job"),
                        "up": value == 1, "jobs_inprogress": _int(own.get("inprogress")),
                        "slots": _int(own.get("slots")), "draining": None if draining is None else draining >= 1})
    return {
        "workers": workers,
        "gpu_utilization": _one(results["gpu_utilization"]),
        "encoder_utilization": _one(results["encoder_utilization"]),
        "nvenc_sessions": _int(_one(results["nvenc_sessions"])),
        "fallbacks": _by(results["fallbacks"], "reason"),
        "queue_depth": _int(_one(results["queue_depth"])),
        "jobs_last_hour": _by(results["jobs"], "outcome"),
    }
