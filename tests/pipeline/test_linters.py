"""The real linters on the pipeline: actionlint (with shellcheck on every `run:`), yamllint, shellcheck and mypy on
the deploy scripts. Each also has a test that it would catch a broken input, so a silent no-op cannot pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.pipeline.conftest import ROOT, SCRIPTS, all_workflows, find_tool, tools_env

YAMLLINT_CONFIG = ROOT / ".github" / "yamllint.yml"


def run(cmd: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=tools_env(), cwd=cwd, timeout=120)


def test_actionlint_passes_on_every_workflow() -> None:
    find_tool("shellcheck")  # actionlint checks each run: script with it when it is on PATH
    result = run([find_tool("actionlint"), *map(str, all_workflows())])
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(all_workflows()) == 2


def test_actionlint_is_the_pinned_kjanat_build() -> None:
    result = run([find_tool("actionlint"), "-version"])
    assert result.returncode == 0 and "1.17." in result.stdout, result.stdout


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  deploy:\n"
        "    needs: [tset]\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ github.shaa }} $UNQUOTED\n"
        "      - run: rm -rf $1/tmp\n")
    result = run([find_tool("actionlint"), str(bad)], cwd=tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert 'job "deploy" needs job "tset" which does not exist' in out, out
    assert "shellcheck reported issue" in out and "SC2086" in out, out


def test_yamllint_passes_on_the_workflows_and_actions() -> None:
    result = run([find_tool("yamllint"), "--strict", "-c", str(YAMLLINT_CONFIG), str(ROOT / ".github")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_would_catch_a_careless_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    runs-on: ubuntu-22.04   \n"
                   "    steps: [{run: 'x'}]\n" + "    # " + "a long comment " * 9 + "\n")
    result = run([find_tool("yamllint"), "--strict", "-c", str(YAMLLINT_CONFIG), str(bad)])
    assert result.returncode == 1
    for rule in ("key-duplicates", "trailing-spaces", "line-length"):
        assert f"({rule})" in result.stdout, result.stdout


def test_shellcheck_passes_on_the_deploy_scripts() -> None:
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert [s.name for s in scripts] == ["dashboard_deploy.sh", "dr-drill.sh", "notify.sh", "rollback.sh"]
    for script in scripts:
        assert script.read_text().splitlines()[:1] == ["#!/usr/bin/env bash"], script.name
        assert "set -euo pipefail" in script.read_text(), script.name
    result = run([find_tool("shellcheck"), "--external-sources", *map(str, scripts)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_python_deploy_scripts_are_strictly_typed() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(SCRIPTS)], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(list(SCRIPTS.glob("*.py")))
    assert f"Success: no issues found in {count} source files" in result.stdout, result.stdout
