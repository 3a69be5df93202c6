"""The locust command, built as data, and the one place that starts it."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loadtest.config import RunConfig

__all__ = ["LOCUSTFILE", "USER_CLASSES", "LocustRun", "locust_cmd", "run_locust"]

logger = logging.getLogger(__name__)

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
USER_CLASSES = {"raw": "RawUploadUser", "ingest": "IngestUploadUser", "e2e": "E2EUploadUser"}


@dataclass(frozen=True)
class LocustRun:
    users: int
    spawn_rate: float
    run_time: str  # locust's syntax: 60s, 2m, 1h30m
    csv_prefix: Path
    html: Path
    stop_timeout: float = 30.0  # let in-flight uploads finish: an upload cut short is neither logged nor failed
    processes: int = 1


def locust_cmd(config: RunConfig, run: LocustRun, python: str = sys.executable) -> list[str]:
    """``python -m locust`` headless, with its CSV (stats, history, failures) and HTML reports."""
    cmd = [python, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--users", str(run.users),
           "--spawn-rate", f"{run.spawn_rate:g}", "--run-time", run.run_time, "--stop-timeout", f"{run.stop_timeout:g}",
           "--csv", str(run.csv_prefix), "--csv-full-history", "--html", str(run.html), "--only-summary",
           "--loglevel", "WARNING"]
    if run.processes != 1:
        cmd += ["--processes", str(run.processes)]
    return [*cmd, USER_CLASSES[config.scenario]]


def run_locust(config: RunConfig, run: LocustRun, *, log_path: Path, timeout: float) -> int:
    """Run one scenario; locust's own output goes to ``log_path``. Returns locust's exit code."""
    cmd = locust_cmd(config, run)
    logger.debug("running %s", shlex.join(cmd))
    env = dict(os.environ, LOADTEST_RUN=config.to_json(), PYTHONUNBUFFERED="1")
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        except BaseException:
            proc.terminate()
            proc.wait(30)
            raise
