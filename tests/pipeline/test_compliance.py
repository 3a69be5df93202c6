"""The compliance check of the deployed production stacks (scripts/deploy/compliance.py) on recorded az output
(tests/pipeline/data/compliance): a compliant region passes, and each kind of drift (storage hardening undone,
data roles granted too wide, diagnostics missing, private endpoints missing) fails with a sentence per violation
that names the resource. Also its dry run's az commands, and where the workflow runs it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import compliance  # scripts/deploy/compliance.py: conftest puts scripts/deploy on sys.path
import pytest

from tests.pipeline.conftest import DATA, DELIVERY, ROOT, commands, load_yaml, run_script

STATES = DATA / "compliance"
SUB = "/subscriptions/00000000-0000-0000-0000-00000000aaaa"


def check(name: str | Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    path = name if isinstance(name, Path) else STATES / name
    result = run_script("compliance.py", "--state-file", str(path), *extra)
    verdict = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, verdict, result.stderr


def test_a_compliant_region_passes() -> None:
    code, verdict, log = check("eastus-compliant.json")
    assert code == 0, log
    assert verdict == {"resourceGroup": "rg-transcoder-prod-eastus", "decision": "pass", "violations": []}
    assert "rg-transcoder-prod-eastus: compliant" in log


def test_weakened_storage_fails_naming_each_setting() -> None:
    code, verdict, log = check("westeurope-storage-weakened.json")
    assert code == 1 and verdict["decision"] == "fail"
    assert verdict["violations"] == [
        "storage sttranscodprodweuk3x9q2: shared key access is allowed (True)",
        "storage sttranscodprodweuk3x9q2: minimum TLS version is TLS1_0, not TLS1_2",
        "storage sttranscodprodweuk3x9q2: public blob access is allowed (True)",
        "storage fntranscodprodweuk3x9q2: encryption is not on (blob: True, off: ['queue'])",
        "storage fntranscodprodweuk3x9q2: shared key access is allowed (None)",  # unset means allowed
    ]
    assert "rg-transcoder-prod-westeurope: VIOLATION storage sttranscodprodweuk3x9q2: shared key" in log


def test_data_roles_wider_than_one_container_queue_or_table_fail() -> None:
    code, verdict, _ = check("southeastasia-wide-data-roles.json")
    assert code == 1
    account = f"{SUB}/resourceGroups/rg-transcoder-prod-southeastasia/providers/Microsoft.Storage/storageAccounts/" \
              "sttranscodprodseak3x9q2"
    tail = "is wider than one container, queue or table of the media account sttranscodprodseak3x9q2"
    assert verdict["violations"] == [
        f"role: Storage Blob Data Contributor for id-transcoder-prod-sea-worker at {account} {tail}",
        f"role: Storage Queue Data Contributor for id-transcoder-prod-sea-func at {SUB}/resourceGroups/"
        f"rg-transcoder-prod-southeastasia {tail}",
        f"role: Storage Table Data Reader for ops-readers at {SUB} {tail}",
        f"role: Storage Blob Data Reader for id-transcoder-prod-sea-keda at {account}/blobServices/default {tail}",
    ]
    # the same state holds the container- and queue-scoped grants the templates make, and Owner on the group:
    # neither is a violation
    state = json.loads((STATES / "southeastasia-wide-data-roles.json").read_text())
    scopes = {a["scope"].split("/")[-1] for a in state["roleAssignments"]}
    assert {"uploads", "transcode-jobs", "rg-transcoder-prod-southeastasia"} <= scopes


def test_missing_diagnostics_fail_for_each_resource() -> None:
    code, verdict, _ = check("eastus-diagnostics-missing.json")
    assert code == 1
    assert verdict["violations"] == [
        f"diagnostics: the {what} has no diagnostic setting sending logs or metrics" for what in [
            "queue service of the media account sttranscodprodeusk3x9q2",  # no setting
            "Function app func-transcoder-prod-eus-k3x9q2",  # no setting
            "AKS cluster aks-transcoder-prod-eus",  # a setting without a destination
            "Cosmos DB account cosmos-transcoder-prod-eus-k3x9q2",  # no setting
            "Front Door profile afd-transcoder-prod-eus",  # an empty list
            "registry crtranscodprodeusk3x9q2",  # a setting with every log and metric off
        ]]


def test_private_endpoints_are_required_where_the_parameters_enable_them() -> None:
    code, verdict, _ = check("eastus-private-endpoints-incomplete.json")
    assert code == 1
    assert verdict["violations"] == [  # blob approved; queue only pending; table none
        "private endpoint: the media account sttranscodprodeusk3x9q2 has no approved private endpoint for its queue "
        "service",
        "private endpoint: the media account sttranscodprodeusk3x9q2 has no approved private endpoint for its table "
        "service"]


def test_private_endpoints_are_not_required_where_the_parameters_leave_them_off(tmp_path: Path) -> None:
    state = json.loads((STATES / "eastus-private-endpoints-incomplete.json").read_text())
    state["parameters"]["enablePrivateEndpoints"] = False
    (tmp_path / "s.json").write_text(json.dumps(state))
    assert check(tmp_path / "s.json")[0] == 0


def test_cosmos_diagnostics_are_required_only_where_the_records_are_in_cosmos(tmp_path: Path) -> None:
    state = json.loads((STATES / "eastus-diagnostics-missing.json").read_text())
    state["outputs"]["recordsStore"]["value"] = "table"
    state["outputs"]["cosmosAccountName"]["value"] = ""
    (tmp_path / "s.json").write_text(json.dumps(state))
    _, verdict, _ = check(tmp_path / "s.json")
    assert not [v for v in verdict["violations"] if "Cosmos" in v] and len(verdict["violations"]) == 5


def test_a_region_without_the_deployment_fails_unless_allowed() -> None:
    code, verdict, _ = check("southeastasia-undeployed.json")
    assert code == 1 and verdict["violations"] == [
        "no deployment transcoder-production-southeastasia in rg-transcoder-prod-southeastasia"]
    code, verdict, log = check("southeastasia-undeployed.json", "--allow-undeployed")
    assert code == 0 and verdict["decision"] == "not-deployed" and "nothing deployed to check" in log


@pytest.mark.parametrize(("scope", "wide"), [
    ("/providers/Microsoft.Management/managementGroups/contoso", True),
    ("/", True),
    (f"{SUB}/resourceGroups/rg-other", False),  # another group: not this account
    (f"{SUB}/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/stother", False),
    (f"{SUB}/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/st1/tableServices/default/tables/jobs",
     False),
    (f"{SUB}/resourceGroups/RG-A/providers/Microsoft.Storage/storageAccounts/ST1", True),  # ids are case-blind
    (f"{SUB}/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/st1/queueServices/default", True),
])
def test_the_role_scopes(scope: str, wide: bool) -> None:
    media_id = f"{SUB}/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/st1"
    data = [{"roleDefinitionName": "Storage Queue Data Contributor", "scope": scope, "principalName": "x"}]
    assert bool(compliance.role_violations("st1", media_id, data)) is wide
    management = [{"roleDefinitionName": "Contributor", "scope": scope, "principalName": "x"}]
    assert compliance.role_violations("st1", media_id, management) == []


def test_bad_input_exits_2(tmp_path: Path) -> None:
    assert check("nowhere.json")[0] == 2
    state = json.loads((STATES / "eastus-compliant.json").read_text())
    state["storageAccounts"] = {}
    (tmp_path / "s.json").write_text(json.dumps(state))
    code, _, log = check(tmp_path / "s.json")
    assert code == 2 and "no storage account sttranscodprodeusk3x9q2" in log
    result = run_script("compliance.py", "--resource-group", "rg-x")
    assert result.returncode == 2 and "--resource-group needs --env" in result.stderr


def test_the_live_reads_in_dry_run(tmp_path: Path) -> None:
    result = run_script("compliance.py", "--env", "production-eastus", "--resource-group", "rg-transcoder-prod-eastus",
                        "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = [shlex.split(line) for line in commands(result.stdout)]
    group = "/subscriptions/<subscription>/resourceGroups/rg-transcoder-prod-eastus/providers"
    media = f"{group}/Microsoft.Storage/storageAccounts/<mediaStorageAccountName>"
    assert lines == [
        ["az", "deployment", "group", "show", "--resource-group", "rg-transcoder-prod-eastus", "--name",
         "transcoder-production-eastus", "--query", "properties.outputs", "--output", "json"],
        ["az", "storage", "account", "show", "--resource-group", "rg-transcoder-prod-eastus", "--name",
         "<mediaStorageAccountName>", "--output", "json"],
        ["az", "storage", "account", "show", "--resource-group", "rg-transcoder-prod-eastus", "--name",
         "<hostStorageAccountName>", "--output", "json"],
        ["az", "role", "assignment", "list", "--scope", media, "--include-inherited", "--output", "json"],
        *[["az", "role", "assignment", "list", "--scope", f"{media}/{s}Services/default", "--output", "json"]
          for s in ("blob", "queue", "table")],
        *[["az", "monitor", "diagnostic-settings", "list", "--resource", rid, "--output", "json"] for rid in [
            f"{media}/blobServices/default", f"{media}/queueServices/default", f"{media}/tableServices/default",
            f"{group}/Microsoft.Web/sites/<functionAppName>",
            f"{group}/Microsoft.ContainerService/managedClusters/<aksName>",
            f"{group}/Microsoft.DocumentDB/databaseAccounts/<cosmosAccountName>",  # production: recordsStore cosmos
            f"{group}/Microsoft.Cdn/profiles/<frontDoorProfileName>",
            f"{group}/Microsoft.ContainerRegistry/registries/<registryName>"]],
    ]
    assert json.loads(result.stdout.splitlines()[-1]) == {"resourceGroup": "rg-transcoder-prod-eastus",
                                                          "decision": "dry-run"}
    # private endpoints are listed only where the parameter file enables them
    params = tmp_path / "params"
    params.mkdir()
    doc = json.loads((ROOT / "infra" / "params" / "production-eastus.parameters.json").read_text())
    doc["parameters"]["enablePrivateEndpoints"] = {"value": True}
    (params / "production-eastus.parameters.json").write_text(json.dumps(doc))
    result = run_script("compliance.py", "--env", "production-eastus", "--resource-group", "rg-p", "--params-dir",
                        str(params), "--dry-run")
    assert "+ az network private-endpoint list --resource-group rg-p --output json" in result.stdout


def test_the_workflow_checks_every_production_region_before_and_after_its_deploy() -> None:
    jobs = load_yaml(DELIVERY)["jobs"]
    before = next(s for s in jobs["compliance-validation"]["steps"] if "compliance.py" in s.get("run", ""))
    run = before["run"]
    assert "for region in eastus westeurope southeastasia; do" in run
    assert '--env "production-$region"' in run and '--resource-group "rg-$RESOURCE_PREFIX-$region"' in run
    assert "--allow-undeployed" in run and 'exit "$bad"' in run  # every region checked, any violation fails
    upload = next(s for s in jobs["compliance-validation"]["steps"] if s.get("with", {}).get("name") == "compliance")
    assert "build/compliance-*.json" in upload["with"]["path"]
    steps = jobs["deploy-production"]["steps"]
    at = {name: next(i for i, s in enumerate(steps) if name in s.get("run", "")) for name in
          ("infra_deploy.py --env", "compliance.py", "helm upgrade")}
    assert at["infra_deploy.py --env"] < at["compliance.py"] < at["helm upgrade"]
    strict = steps[at["compliance.py"]]["run"]
    assert '--env "production-$REGION" --resource-group "$RESOURCE_GROUP"' in strict
    assert "--allow-undeployed" not in strict and "||" not in strict
