"""The disaster-recovery drill's three Azure parts, each a function of scripts/deploy/dr-drill.sh: the exact commands
of their dry runs, and their decisions against a fake `az` (and `curl`) that answers with recorded JSON: a Cosmos DB
point-in-time restore and its table check, the media account's geo-replication check and its failover only when
asked, and a Front Door origin failover that always enables the primary origin again."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import commands, run_script, tools_env

NOW = 1767585600  # 2026-01-05T04:00:00Z
FD = ["--resource-group", "rg-transcoder-dr", "--profile", "afd-transcoder-prod-dr", "--endpoint-host",
      "fde-transcoder-prod-dr.z01.azurefd.net", "--origin-group", "og-transcoder-prod-dr-outputs",
      "--primary-origin", "origin-transcoder-prod-dr-outputs", "--workspace-id",
      "/subscriptions/s/resourceGroups/rg-transcoder-dr/providers/Microsoft.OperationalInsights/workspaces/log"]
ORIGIN = ("--resource-group rg-transcoder-dr --profile-name afd-transcoder-prod-dr "
          "--origin-group-name og-transcoder-prod-dr-outputs")
PRIMARY = "origin-transcoder-prod-dr-outputs"
SECONDARY = "sttranscodprodeusabc123.blob.core.windows.net"


def argv_lines(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in commands(stdout)]


def drill(*args: str, **env: str) -> tuple[int, str, str]:
    result = run_script("dr-drill.sh", *args, env=tools_env(NOW=str(NOW), **env))
    return result.returncode, result.stdout, result.stderr


def test_the_cosmos_restore_in_dry_run() -> None:
    code, out, err = drill("cosmos-restore", "--source-account", "cosmos-transcoder-prod-eus-abc123",
                           "--target-account", "cosmos-drill-77", "--resource-group", "rg-transcoder-dr",
                           "--location", "eastus", "--dry-run")
    assert code == 0, err
    assert argv_lines(out) == [
        ["az", "cosmosdb", "restore", "--account-name", "cosmos-transcoder-prod-eus-abc123",
         "--target-database-account-name", "cosmos-drill-77", "--resource-group", "rg-transcoder-dr",
         "--location", "eastus", "--restore-timestamp", "2026-01-05T03:55:00Z"],  # five minutes before NOW
        ["az", "cosmosdb", "table", "show", "--account-name", "cosmos-drill-77", "--resource-group",
         "rg-transcoder-dr", "--name", "jobs", "--query", "name", "-o", "tsv"]]


def test_the_cosmos_restore_lands_in_the_drill_group_only() -> None:
    code, out, err = drill("cosmos-restore", "--source-account", "a", "--target-account", "b", "--resource-group",
                           "rg-transcoder-prod-eastus", "--location", "eastus", "--dry-run")
    assert code == 2 and out == "" and "refusing to restore into 'rg-transcoder-prod-eastus'" in err


def test_the_storage_check_is_read_only_unless_a_failover_is_asked() -> None:
    show = ["az", "storage", "account", "show", "--name", "sttranscodprodeus", "--resource-group",
            "rg-transcoder-prod-eastus", "--expand", "geoReplicationStats", "--query", "geoReplicationStats", "-o",
            "json"]
    args = ["storage-failover", "--account", "sttranscodprodeus", "--resource-group", "rg-transcoder-prod-eastus",
            "--dry-run"]
    code, out, err = drill(*args)
    assert code == 0, err
    assert argv_lines(out) == [show]
    assert "read-only check only" in out
    code, out, err = drill(*args, "--failover")
    assert code == 0, err
    assert argv_lines(out)[:2] == [show, ["az", "storage", "account", "failover", "--name", "sttranscodprodeus",
                                          "--resource-group", "rg-transcoder-prod-eastus", "--failover-type",
                                          "Planned", "--yes"]]
    assert argv_lines(out)[2][:4] == ["az", "storage", "account", "show"]


def test_the_front_door_failover_in_dry_run() -> None:
    code, out, err = drill("frontdoor-failover", *FD, "--dry-run")
    assert code == 0, err
    lines = commands(out)
    assert [shlex.split(line)[:4] for line in lines] == [
        ["az", "afd", "origin", "list"], ["az", "monitor", "log-analytics", "workspace"],
        ["az", "afd", "origin", "update"], ["curl", "-sS", "-o", "/dev/null"],
        ["az", "monitor", "log-analytics", "query"], ["az", "afd", "origin", "update"]]
    assert lines[0] == f"az afd origin list {ORIGIN} -o json"
    assert lines[2] == f"az afd origin update {ORIGIN} --origin-name {PRIMARY} --enabled-state Disabled -o none"
    assert shlex.split(lines[3])[-1] == "https://fde-transcoder-prod-dr.z01.azurefd.net/"
    query = shlex.split(lines[4])
    assert "FrontDoorAccessLog" in query[query.index("--analytics-query") + 1]
    assert lines[5] == f"az afd origin update {ORIGIN} --origin-name {PRIMARY} --enabled-state Enabled -o none"


# -- decisions against a fake az --------------------------------------------------------------------------------

FAKE_AZ = r"""#!/usr/bin/env bash
echo "az $*" >> "$AZ_LOG"
case "$*" in
  "afd origin list"*) printf '%s' "$AZ_ORIGINS" ;;
  "monitor log-analytics workspace show"*) echo 00000000-1111-2222-3333-444444444444 ;;
  "monitor log-analytics query"*) printf '%s\n' "$AZ_SERVED" ;;
  "storage account show"*"geoReplicationStats"*) printf '%s' "$AZ_GEO" ;;
  "cosmosdb table show"*) [ -n "$AZ_TABLE" ] || { echo "ResourceNotFound" >&2; exit 3; }; echo "$AZ_TABLE" ;;
  *) ;;
esac
"""
FAKE_CURL = "#!/usr/bin/env bash\nprintf 'HTTP/2 403\\r\\nx-azure-ref: 20260105T040000Z-abc\\r\\n\\r\\n'\n"


@pytest.fixture
def fake(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"az": FAKE_AZ, "curl": FAKE_CURL, "sleep": "#!/bin/sh\n"}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = tools_env(NOW=str(int(time.time()) - 60), AZ_LOG=str(tmp_path / "az.log"), PROBE_INTERVAL="0")
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env


def run_fake(env: dict[str, str], *args: str, **extra: str) -> tuple[int, str, list[str]]:
    result = run_script("dr-drill.sh", *args, env={**env, **extra})
    log = Path(env["AZ_LOG"])
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, result.stdout + result.stderr, calls


ORIGINS = json.dumps([
    {"name": PRIMARY, "hostName": "sttranscodprodrxyz789.blob.core.windows.net", "priority": 1,
     "enabledState": "Enabled"},
    {"name": f"{PRIMARY}-secondary", "hostName": SECONDARY, "priority": 2, "enabledState": "Enabled"}])


def test_the_front_door_drill_passes_when_the_secondary_serves(fake: dict[str, str]) -> None:
    code, out, calls = run_fake(fake, "frontdoor-failover", *FD, AZ_ORIGINS=ORIGINS, AZ_SERVED=f"{SECONDARY}:443")
    assert code == 0, out
    assert f"served from {SECONDARY}" in out
    updates = [c for c in calls if c.startswith("az afd origin update")]
    assert [u.split("--enabled-state ")[1].split()[0] for u in updates] == ["Disabled", "Enabled"]
    query = next(c for c in calls if c.startswith("az monitor log-analytics query"))
    assert "--workspace 00000000-1111-2222-3333-444444444444" in query
    assert "trackingReference_s in ('20260105T040000Z-abc')" in query


def test_the_front_door_drill_fails_and_still_enables_the_primary(fake: dict[str, str]) -> None:
    code, out, calls = run_fake(fake, "frontdoor-failover", *FD, "--timeout", "0", AZ_ORIGINS=ORIGINS,
                                AZ_SERVED="sttranscodprodrxyz789.blob.core.windows.net:443")
    assert code == 1 and f"did not serve from {SECONDARY}" in out
    updates = [c for c in calls if c.startswith("az afd origin update")]
    assert [u.split("--enabled-state ")[1].split()[0] for u in updates] == ["Disabled", "Enabled"]


def test_the_front_door_drill_needs_a_secondary_before_it_disables_anything(fake: dict[str, str]) -> None:
    only = json.dumps(json.loads(ORIGINS)[:1])
    code, out, calls = run_fake(fake, "frontdoor-failover", *FD, AZ_ORIGINS=only, AZ_SERVED="")
    assert code == 1 and "no enabled origin besides" in out
    assert not [c for c in calls if c.startswith("az afd origin update")]


@pytest.mark.parametrize(("geo", "failover", "code", "failed_over", "why"), [
    ({"status": "Live", "canFailover": True, "canPlannedFailover": True}, False, 0, False, "read-only check only"),
    ({"status": "Live", "canFailover": True, "canPlannedFailover": True}, True, 0, True, "can fail over: true"),
    ({"status": "Bootstrap", "canFailover": False}, False, 1, False, "is 'Bootstrap', not Live"),
    ({"status": "Live", "canFailover": False, "canPlannedFailover": False}, True, 1, False, "cannot fail over now"),
    (None, False, 1, False, "is 'none', not Live"),  # an LRS account has no geoReplicationStats
])
def test_the_storage_drill_decides_on_the_replication_state(fake: dict[str, str], geo: object, failover: bool,
                                                           code: int, failed_over: bool, why: str) -> None:
    args = ["storage-failover", "--account", "sttranscodprodeus", "--resource-group", "rg-transcoder-prod-eastus"]
    got, out, calls = run_fake(fake, *args, *(["--failover"] if failover else []),
                               AZ_GEO="" if geo is None else json.dumps(geo))
    assert got == code and why in out, out
    assert any(c.startswith("az storage account failover") for c in calls) == failed_over


@pytest.mark.parametrize(("table", "code"), [("jobs", 0), ("", 1)])
def test_the_restored_account_must_have_the_jobs_table(fake: dict[str, str], table: str, code: int) -> None:
    got, out, calls = run_fake(fake, "cosmos-restore", "--source-account", "cosmos-prod", "--target-account",
                               "cosmos-drill-77", "--resource-group", "rg-transcoder-dr", "--location", "eastus",
                               AZ_TABLE=table)
    assert got == code, out
    assert calls[0].startswith("az cosmosdb restore --account-name cosmos-prod")
    if code:
        assert "has no table jobs" in out
