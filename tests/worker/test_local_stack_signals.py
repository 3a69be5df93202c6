"""``python -m localdev --keep-running`` stops everything it started on SIGTERM and SIGHUP, as on Ctrl-C.

It used to die on SIGTERM (or a closed terminal's SIGHUP) and leave Azurite and the workers running, holding their
ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.azurite, pytest.mark.ffmpeg]


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_the_stack_stops_what_it_started(tmp_path: Path, signum: int) -> None:
    log = (tmp_path / "stack.log").open("w+")
    started: set[int] = set()
    proc = subprocess.Popen([sys.executable, "-m", "localdev", "--keep-running", "--out", str(tmp_path / "stack"),
                             "--sample-size", "320x240", "--sample-duration", "1", "--encoder", "cpu"],
                            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 240
        while "the stack is up" not in Path(log.name).read_text():
            assert proc.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()[-3000:]
            time.sleep(0.5)
        started = descendants(proc.pid)
        assert len(started) >= 2, started  # Azurite and a worker at least
        os.kill(proc.pid, signum)
        assert proc.wait(timeout=120) == 0
        time.sleep(0.5)
        assert [pid for pid in started if alive(pid)] == [], Path(log.name).read_text()[-2000:]
        assert "stopping ..." in Path(log.name).read_text()
    finally:
        leftovers = started | descendants(proc.pid)
        if proc.poll() is None:
            proc.kill()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
