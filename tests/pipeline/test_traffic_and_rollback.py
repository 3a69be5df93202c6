"""Blue/green traffic for queue workers (the replica budget split between the slots' KEDA objects) and the rollback
script, in dry-run: the exact kubectl, helm and az commands they would run."""

from __future__ import annotations

import json

import pytest
import traffic  # scripts/deploy/traffic.py: conftest puts scripts/deploy on sys.path

from tests.pipeline.conftest import DATA, commands, run_script, tools_env


def patch(slot: str, cap: int, paused: bool, kind: str = "scaledobject") -> str:
    key = "autoscaling.keda.sh/paused-replicas" if kind == "scaledobject" else "autoscaling.keda.sh/paused"
    value = ('"0"' if kind == "scaledobject" else '"true"') if paused else "null"
    body = f'{{"metadata":{{"annotations":{{"{key}":{value}}}}},"spec":{{"maxReplicaCount":{cap}}}}}'
    return f"kubectl patch {kind} transcoder-{slot} -n media --type merge -p '{body}'"


@pytest.mark.parametrize(("percent", "total", "expected"), [
    (0, 10, (10, 10, True, False)),
    (20, 10, (2, 8, False, False)),
    (50, 10, (5, 5, False, False)),
    (100, 10, (10, 10, False, True)),
    (20, 4, (1, 3, False, False)),  # 0.8 rounds to 1: the new slot always gets a replica
    (5, 10, (1, 9, False, False)),
    (95, 10, (9, 1, False, False)),  # and the old one keeps one until 100%
    (50, 3, (2, 1, False, False)),
])
def test_the_replica_budget_split(percent: int, total: int, expected: tuple[int, int, bool, bool]) -> None:
    plan = traffic.split(percent, total)
    assert (plan.new_max, plan.old_max, plan.new_paused, plan.old_paused) == expected


def test_impossible_splits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        traffic.split(20, 1)
    with pytest.raises(ValueError, match="0-100"):
        traffic.split(120, 10)
    assert traffic.split(20, 1, has_old=False) == traffic.Split(1, 1, new_paused=False, old_paused=False)


@pytest.mark.parametrize(("percent", "expected"), [
    (20, [patch("green", 2, False), patch("blue", 8, False)]),
    (50, [patch("green", 5, False), patch("blue", 5, False)]),
    (100, [patch("green", 10, False), patch("blue", 10, True)]),  # the receiving side opens before the other closes
    (0, [patch("blue", 10, False), patch("green", 10, True)]),
])
def test_shift_prints_the_keda_patches(percent: int, expected: list[str]) -> None:
    result = run_script("traffic.py", "--dry-run", "shift", "--namespace", "media", "--new", "green", "--old", "blue",
                        "--percent", str(percent), "--max-replicas", "10")
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout) == expected


def test_shift_on_scaled_jobs_uses_their_pause_annotation() -> None:
    result = run_script("traffic.py", "shift", "--dry-run", "--new", "blue", "--old", "green", "--percent", "100",
                        "--max-replicas", "4", "--kind", "ScaledJob")
    assert commands(result.stdout) == [patch("blue", 4, False, "scaledjob"), patch("green", 4, True, "scaledjob")]


@pytest.mark.parametrize(("listing", "out"), [
    ("blue-live.json", "live=blue\nidle=green\n"),
    ("green-live-scaledjob.json", "live=green\nidle=blue\n"),
    ("first-deploy.json", "live=\nidle=blue\n"),
])
def test_slots_reads_which_slot_serves(listing: str, out: str) -> None:
    result = run_script("traffic.py", "slots", "--state-file", str(DATA / "traffic" / listing))
    assert result.returncode == 0, result.stderr
    assert result.stdout == out


def test_slots_refuses_a_half_finished_shift() -> None:
    result = run_script("traffic.py", "slots", "--state-file", str(DATA / "traffic" / "mid-shift.json"))
    assert result.returncode == 1 and result.stdout == ""
    assert "both slots take jobs" in result.stderr


def test_the_canary_rollback_puts_the_queue_back_on_the_old_slot() -> None:
    result = run_script("rollback.sh", "--dry-run", "--namespace", "media", "--failed-slot", "green", "--restore-slot",
                        "blue", "--max-replicas", "10", "--functionapp", "func-transcoder-staging",
                        "--resource-group", "rg-transcoder-staging")
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout) == [
        patch("blue", 10, False),
        patch("green", 10, True),
        "az functionapp deployment slot swap --resource-group rg-transcoder-staging --name func-transcoder-staging "
        "--slot staging --target-slot production",
    ]


def test_a_production_rollback_is_a_helm_rollback() -> None:
    result = run_script("rollback.sh", "--namespace", "media", "--helm-release", "transcoder-blue", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout) == [
        "helm rollback transcoder-blue 0 -n media --wait --timeout 20m --cleanup-on-fail"]


def test_dry_run_also_comes_from_the_environment() -> None:
    result = run_script("rollback.sh", "--failed-slot", "blue", "--max-replicas", "6", env=tools_env(DRY_RUN="1"))
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout) == [patch("blue", 6, True)]  # first deploy: nothing to restore, pause only


@pytest.mark.parametrize(("args", "message"), [
    ([], "nothing to roll back"),
    (["--restore-slot", "blue"], "--restore-slot needs --failed-slot"),
    (["--failed-slot", "green"], "--failed-slot needs --max-replicas"),
    (["--failed-slot", "blue", "--restore-slot", "blue", "--max-replicas", "2"], "differ"),
    (["--functionapp", "f"], "--functionapp needs --resource-group"),
    (["--bogus"], "unknown option --bogus"),
])
def test_rollback_refuses_incomplete_orders(args: list[str], message: str) -> None:
    result = run_script("rollback.sh", "--dry-run", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stdout == ""


def test_plan_is_logged_as_json() -> None:
    result = run_script("traffic.py", "-n", "shift", "--new", "green", "--old", "blue", "--percent", "20",
                        "--max-replicas", "10")
    logged = result.stderr.split("traffic: 20% to green: ", 1)[1]
    assert json.loads(logged) == {"new_max": 2, "old_max": 8, "new_paused": False, "old_paused": False}
