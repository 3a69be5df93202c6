"""The load of a canary step's bake (scripts/deploy/bake_load.py): sized from the step's share and the canary's
minimum jobs so the new slot gets enough of them, and made, with exactly that many uploads, by the real load test
against a real Azurite with the real ingest path behind it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from localdev.azurite import Azurite
from localdev.stack import LocalStack, StackNames
from tests.pipeline.conftest import ROOT, SCRIPTS, run_script

if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
import bake_load  # noqa: E402


def exact_at_least(n: int, p: float, k: int) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(("percent", "min_jobs", "uploads"), [(20, 20, 175), (50, 20, 64), (100, 20, 20),
                                                              (10, 5, 143)])
def test_the_plan_is_the_smallest_load_that_gives_the_slot_its_jobs(percent: float, min_jobs: int,
                                                                    uploads: int) -> None:
    plan = bake_load.plan(percent, min_jobs, 0.999)
    assert plan.uploads == uploads
    p = percent / 100
    assert exact_at_least(plan.uploads, p, min_jobs) >= 0.999
    assert plan.uploads == min_jobs or exact_at_least(plan.uploads - 1, p, min_jobs) < 0.999
    assert plan.probability == pytest.approx(exact_at_least(plan.uploads, p, min_jobs), abs=1e-6)
    # the naive min_jobs / share would leave the canary short about half the time
    if percent < 100:
        naive = round(min_jobs / p)
        assert exact_at_least(naive, p, min_jobs) < 0.6


@pytest.mark.parametrize(("args", "why"), [
    (["--percent", "0"], "the new slot's share must be in (0, 100]"),
    (["--percent", "20", "--min-jobs", "0"], "--min-jobs must be at least 1"),
    (["--percent", "0.001", "--min-jobs", "500"], "uploads needed"),
])
def test_an_impossible_plan_is_bad_input(args: list[str], why: str) -> None:
    result = run_script("bake_load.py", "plan", *args)
    assert result.returncode == 2 and why in result.stderr, result.stderr


def test_the_run_in_dry_run_prints_the_load_test() -> None:
    result = run_script("bake_load.py", "run", "--percent", "20", "--min-jobs", "20", "--bake-seconds", "900",
                        "--account-url", "https://acct.blob.core.windows.net", "--out", "build/canary/20/load",
                        "--dry-run")
    assert result.returncode == 0, result.stderr
    line = result.stdout.splitlines()[0]
    assert line.endswith("-m loadtest --scenarios ingest --account-url https://acct.blob.core.windows.net "
                         "--uploads-container uploads --jobs-table jobs --users 175 --spawn-rate 0.3889 "
                         "--run-time 460s --wait 0 0 --uploads-per-user 1 --skip-queue-check --drain-timeout 300 "
                         "--max-drain-s 300 --out build/canary/20/load"), line


@pytest.mark.azurite
@pytest.mark.ffmpeg
def test_the_run_makes_exactly_the_planned_uploads_through_the_ingest_path(tmp_path: Path, azurite: Azurite) -> None:
    names = StackNames(uploads="bake-uploads", outputs="bake-outputs", queue="bake-jobs", table="bakejobs",
                       receipts="bakereceipts")
    stack = LocalStack(tmp_path / "stack", names=names, azurite=azurite)
    stack.start_storage()
    import os

    saved = dict(os.environ)
    delivery = stack.start_events(workers=2)
    try:
        result = subprocess.run(
            [sys.executable, str(SCRIPTS / "bake_load.py"), "run", "--percent", "50", "--min-jobs", "3",
             "--confidence", "0.9", "--bake-seconds", "12", "--connection-string", azurite.connection_string,
             "--uploads-container", names.uploads, "--jobs-table", names.table, "--drain-timeout", "60",
             "--out", str(tmp_path / "load"), "--", "--max-enqueue-p95-ms", "30000"],
            capture_output=True, text=True, cwd=ROOT, timeout=300)
    finally:
        delivery.stop()
        os.environ.clear()
        os.environ.update(saved)
    assert result.returncode == 0, result.stderr[-3000:]
    plan = json.loads((tmp_path / "load" / "plan.json").read_text())
    assert plan["uploads"] == bake_load.plan(50, 3, 0.9).uploads == 9
    summary = json.loads((tmp_path / "load" / "summary.json").read_text())
    ingest = summary["scenarios"]["ingest"]
    assert ingest["uploads"]["requests"] == 9 and ingest["uploads"]["failures"] == 0
    assert ingest["accounting"]["lost"] == 0 and ingest["accounting"]["duplicates"] == 0
    assert summary["passed"] is True
