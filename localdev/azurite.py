"""A real Azurite (blob, queue and table) on free local ports, installed from npm by ``./dev.sh setup``.

Started with telemetry off and its data in a folder of ours, so a stop and a restart on the same ports keep every
blob, message and entity (what the crash-safety tests rely on).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AZURITE_VERSION", "Azurite", "AzuriteError", "find_azurite", "free_port"]

logger = logging.getLogger(__name__)

AZURITE_VERSION = "3.35.0"  # the newest that runs on Node 20
ROOT = Path(__file__).resolve().parent.parent
# Azurite's documented development account (public, the same in every Azurite install)
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    pass


def find_azurite() -> str:
    """``$AZURITE_BINARY``, the copy ``./dev.sh setup`` installs under ``.tools/``, or ``azurite`` on PATH."""
    candidates = [os.environ.get("AZURITE_BINARY"), str(ROOT / ".tools/azurite/node_modules/.bin/azurite"),
                  shutil.which("azurite")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise AzuriteError("Azurite is not installed: run ./dev.sh setup (it runs "
                       f"`npm install --prefix .tools/azurite azurite@{AZURITE_VERSION}`), or set AZURITE_BINARY")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Azurite:
    location: Path
    blob_port: int = 0
    queue_port: int = 0
    table_port: int = 0
    host: str = "127.0.0.1"
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        base = f"http://{self.host}"
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={base}:{self.blob_port}/{ACCOUNT};QueueEndpoint={base}:{self.queue_port}/{ACCOUNT};"
                f"TableEndpoint={base}:{self.table_port}/{ACCOUNT};")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60) -> Azurite:
        binary = find_azurite()
        self.location.mkdir(parents=True, exist_ok=True)
        self.blob_port = self.blob_port or free_port()
        self.queue_port = self.queue_port or free_port()
        self.table_port = self.table_port or free_port()
        cmd = [binary, "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--location", str(self.location),
               "--blobHost", self.host, "--blobPort", str(self.blob_port), "--queueHost", self.host,
               "--queuePort", str(self.queue_port), "--tableHost", self.host, "--tablePort", str(self.table_port)]
        log = (self.log_path or self.location / "azurite.log").open("ab")
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        ports = (self.blob_port, self.queue_port, self.table_port)
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AzuriteError(f"Azurite exited with code {self._proc.returncode}; see {log.name}")
            if all(_listening(self.host, p) for p in ports):
                logger.info("Azurite %s on ports %s (data in %s)", AZURITE_VERSION, ports, self.location)
                return self
            time.sleep(0.1)
        self.stop()
        raise AzuriteError(f"Azurite did not listen on {ports} within {timeout:.0f}s; see {log.name}")

    def stop(self, timeout: float = 10) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # the ports must be free again before a restart binds them
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_listening(self.host, p) for p in
                                                  (self.blob_port, self.queue_port, self.table_port)):
            time.sleep(0.05)

    def restart(self) -> Azurite:
        self.stop()
        return self.start()

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
