"""The other deploy scripts in dry-run: smoke test (and its judgement of recorded manifests), notification and the
disaster-recovery drill (each of its parts a function of dr-drill.sh)."""

from __future__ import annotations

import json
import re
import time

import pytest
import smoke_test  # scripts/deploy/smoke_test.py: conftest puts scripts/deploy on sys.path

from functions_app.jobs import job_id_for
from tests.pipeline.conftest import DATA, commands, run_script, tools_env

SMOKE = DATA / "smoke"


@pytest.mark.parametrize(("container", "name", "etag"), [
    ("uploads", "smoke/123-000.mp4", '"0x8DC1A2B3C4D5E6F"'),
    ("uploads", "show/ep 1/ä.mov", "0x8DD00000000001"),
])
def test_the_job_id_is_the_functions(container: str, name: str, etag: str) -> None:
    assert smoke_test.job_id_for(container, name, etag) == job_id_for(container, name, etag)


@pytest.mark.parametrize(("name", "require_nvenc", "problems"), [
    ("manifest-nvenc.json", True, []),
    ("manifest-cpu-fallback.json", False, []),
    ("manifest-cpu-fallback.json", True, ["encoded with libx264 (cpu), not NVENC: no-nvenc: NVML found no device"]),
    ("manifest-flagged.json", False, ["renditions under their VMAF threshold: ['720p']"]),
    ("manifest-unmeasured.json", False, ["renditions with a VMAF threshold but no score: ['720p']"]),
])
def test_a_package_is_judged_by_its_manifest(name: str, require_nvenc: bool, problems: list[str]) -> None:
    args = ["--manifest-file", str(SMOKE / name)] + (["--require-nvenc"] if require_nvenc else [])
    result = run_script("smoke_test.py", *args)
    assert json.loads(result.stdout) == {"decision": "fail" if problems else "pass", "problems": problems}
    assert result.returncode == (1 if problems else 0)


def test_the_p95() -> None:
    assert smoke_test.p95([]) is None
    assert smoke_test.p95([5.0]) == 5.0
    assert smoke_test.p95([float(s) for s in range(1, 21)]) == 19.0
    assert smoke_test.p95([float(s) for s in range(1, 101)]) == 95.0


def test_the_smoke_test_uses_the_signed_in_identity() -> None:
    result = run_script("smoke_test.py", "--dry-run", "--account", "transcodestg", "--run-id", "42", "--count", "2",
                        "--sample", "clip.mp4")
    assert result.returncode == 0, result.stderr
    lines = commands(result.stdout)
    assert lines == [
        "az storage blob upload --account-name transcodestg --auth-mode login --container-name uploads --name "
        "smoke/42-000.mp4 --file clip.mp4 --content-type video/mp4 --overwrite --output json",
        "az storage blob exists --account-name transcodestg --auth-mode login --container-name outputs --name "
        "'<job_id>/manifest.json' --query exists --output tsv",
        lines[2],
        *lines[3:],
    ]
    assert len(lines) == 6 and "smoke/42-001.mp4" in lines[3]
    assert all("--auth-mode login" in line for line in lines)
    assert not re.search(r"account-key|sas-token|connection-string", result.stdout)


def test_notify_posts_the_run_without_printing_the_url() -> None:
    env = tools_env(NOTIFY_WEBHOOK_URL="https://hooks.example.invalid/services/T000/B000/XXXX", GITHUB_JOB="security",
                    GITHUB_WORKFLOW="delivery", GITHUB_REPOSITORY="contoso/transcoder", GITHUB_RUN_ID="77",
                    GITHUB_SHA="0123456789abcdef0123456789abcdef01234567", GITHUB_REF="refs/heads/main",
                    GITHUB_SERVER_URL="https://github.com")
    result = run_script("notify.sh", "--dry-run", "failure", "trivy found a critical", env=env)
    assert result.returncode == 0, result.stderr
    assert "hooks.example.invalid" not in result.stdout + result.stderr
    payload = json.loads(result.stdout.split("payload: ", 1)[1])
    assert payload == {
        "status": "failure", "workflow": "delivery", "job": "security", "ref": "refs/heads/main",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "run_url": "https://github.com/contoso/transcoder/actions/runs/77",
        "text": "delivery: job security failure at 0123456789ab - trivy found a critical "
                "(https://github.com/contoso/transcoder/actions/runs/77)"}


def test_notify_without_a_webhook_only_logs() -> None:
    result = run_script("notify.sh", "success", env=tools_env(NOTIFY_WEBHOOK_URL=""))
    assert result.returncode == 0 and result.stdout == ""
    assert "no NOTIFY_WEBHOOK_URL configured" in result.stderr


def test_notify_is_best_effort() -> None:
    # a webhook that refuses the connection: a warning, not a failed step
    env = tools_env(NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/hook")
    result = run_script("notify.sh", "failure", env=env)
    assert result.returncode == 0
    assert "::warning::notify: the webhook did not accept the failure event" in result.stdout


def test_the_drill_measures_recovery_time() -> None:
    now = int(time.time())
    ok = run_script("dr-drill.sh", "rto", "--started", str(now - 1200), "--max-seconds", "3600",
                    env=tools_env(NOW=str(now)))
    assert ok.returncode == 0 and "recovery took 1200s (objective 3600s)" in ok.stdout
    late = run_script("dr-drill.sh", "rto", "--started", str(now - 4000), "--max-seconds", "3600",
                      env=tools_env(NOW=str(now)))
    assert late.returncode == 1 and "RTO objective missed" in late.stderr


def test_the_drill_reads_replication_lag_and_deletes_only_its_own_region() -> None:
    rpo = run_script("dr-drill.sh", "rpo", "--accounts", "prodeus prodweu", "--dry-run")
    assert commands(rpo.stdout) == [
        f"az storage account show --name {a} --expand geoReplicationStats --query geoReplicationStats.lastSyncTime "
        "-o tsv" for a in ("prodeus", "prodweu")]
    down = run_script("dr-drill.sh", "teardown", "--resource-group", "rg-transcoder-dr", "--dry-run")
    assert commands(down.stdout) == ["az group delete --name rg-transcoder-dr --yes --no-wait"]
    refused = run_script("dr-drill.sh", "teardown", "--resource-group", "rg-transcoder-prod-eastus", "--dry-run")
    assert refused.returncode == 2 and refused.stdout == "" and "refusing to delete" in refused.stderr


