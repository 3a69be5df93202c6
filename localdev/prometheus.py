"""A real Prometheus on loopback, scraping the local workers: Debian's ``prometheus`` package unpacked by
``./dev.sh setup`` under ``.tools/prometheus``.

Each target is scraped with the labels a ServiceMonitor target gets on AKS (``service`` is the Helm release's
Service, ``transcoder-<slot>``; ``namespace``), so the canary and the region health gate query it exactly as they
query Azure Monitor managed Prometheus, only without a bearer token (``--prometheus-auth none``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localdev.azurite import free_port

__all__ = ["Prometheus", "PrometheusError", "ScrapeTarget", "find_prometheus"]

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


class PrometheusError(RuntimeError):
    pass


def find_prometheus() -> str:
    """``$PROMETHEUS_BINARY``, the copy ``./dev.sh setup`` unpacks under ``.tools/``, or ``prometheus`` on PATH."""
    for c in (os.environ.get("PROMETHEUS_BINARY"), str(ROOT / ".tools/prometheus/usr/bin/prometheus"),
              shutil.which("prometheus")):
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise PrometheusError("Prometheus is not installed: run ./dev.sh setup (it unpacks Debian's prometheus package "
                          "into .tools/prometheus), or set PROMETHEUS_BINARY")


@dataclass(frozen=True)
class ScrapeTarget:
    address: str  # host:port of the worker's HTTP server (/metrics)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Prometheus:
    location: Path
    targets: list[ScrapeTarget]
    rule_files: list[Path] = field(default_factory=list)
    scrape_interval: str = "1s"
    port: int = 0
    host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def config(self) -> dict[str, Any]:
        return {"global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
                "rule_files": [str(p) for p in self.rule_files],
                "scrape_configs": [{"job_name": "transcoder", "metrics_path": "/metrics",
                                    "static_configs": [{"targets": [t.address], "labels": t.labels}
                                                       for t in self.targets]}]}

    def start(self, timeout: float = 30) -> Prometheus:
        binary = find_prometheus()
        self.location.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config = self.location / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        cmd = [binary, f"--config.file={config}", f"--storage.tsdb.path={self.location / 'data'}",
               f"--web.listen-address={self.host}:{self.port}", "--log.level=warn"]
        log = (self.location / "prometheus.log").open("ab")
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited {self._proc.returncode}: "
                                      f"{(self.location / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise PrometheusError(f"prometheus not ready on {self.url} within {timeout:g} s")

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise PrometheusError(f"{path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
