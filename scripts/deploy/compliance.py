#!/usr/bin/env python3
"""Compliance of one deployed regional stack, read back from Azure (what is there, not what the templates say).

    compliance.py --env production-eastus --resource-group rg-transcoder-prod-eastus --record-file eastus.json
    compliance.py --state-file eastus.json                                       # recorded state

The names come from the outputs of the stack's deployment (`transcoder-ENV`, scripts/deploy/infra_deploy.py); the
parameter file `infra/params/ENV.parameters.json` says whether private endpoints are expected. A violation is:

- a storage account of the stack (media, Function host) without encryption, with shared keys allowed, with a TLS
  minimum under 1.2, allowing public blob access or plain HTTP;
- private endpoints enabled in the parameter file, and the media account's blob, queue or table service without an
  approved one;
- a data role (Storage Blob/Queue/Table/File Data ...) that reaches the media account from anything wider than one
  container, queue or table: the account, a service, the resource group, the subscription, a management group;
- no diagnostic setting (to a destination, with a log or metric enabled) on the media account's blob, queue or
  table service, the Function app, the AKS cluster, the Cosmos DB account (when the records are there), the Front
  Door profile or the registry.

Prints a JSON verdict; exits 0 when compliant, 1 naming each violation, 2 on bad input or a failed query.
`--allow-undeployed`: a group without the deployment (before the first release) is reported, not failed.
--dry-run (or DRY_RUN=1) prints the az commands instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deploylib import Runner, dry_run_env, load_json, log

EXIT_PASS, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2
TLS_OK = {"TLS1_2", "TLS1_3"}
DATA_ROLE = re.compile(r"^Storage (Blob|Queue|Table|File) Data\b")
NARROW = re.compile(r"^/(blobServices/default/containers|queueServices/default/queues|tableServices/default/tables)"
                    r"/[^/]+$", re.I)
SERVICES = ("blob", "queue", "table")


def _outputs(state: Mapping[str, Any]) -> dict[str, str]:
    raw = state.get("outputs") or {}
    return {k: str(v.get("value", "") if isinstance(v, dict) else v) for k, v in raw.items()}


def group_id(account_id: str) -> str:
    """/subscriptions/S/resourceGroups/G from a resource id in that group."""
    head, sep, _ = account_id.partition("/providers/")
    if not sep:
        raise ValueError(f"not a resource id: {account_id!r}")
    return head


def watched_resources(outputs: Mapping[str, str], media_id: str) -> dict[str, str]:
    """The resources that must have a diagnostic setting, by label -> resource id."""
    base = group_id(media_id)
    media = media_id.rsplit("/", 1)[-1]
    found = {f"{s} service of the media account {media}": f"{media_id}/{s}Services/default" for s in SERVICES}
    named = {"Function app": ("Microsoft.Web/sites", outputs["functionAppName"]),
             "AKS cluster": ("Microsoft.ContainerService/managedClusters", outputs["aksName"])}
    if outputs.get("recordsStore") == "cosmos" or outputs.get("cosmosAccountName"):
        named["Cosmos DB account"] = ("Microsoft.DocumentDB/databaseAccounts", outputs.get("cosmosAccountName", ""))
    named["Front Door profile"] = ("Microsoft.Cdn/profiles", outputs["frontDoorProfileName"])
    registry = outputs.get("registryName") or outputs.get("acrLoginServer", "").split(".")[0]
    named["registry"] = ("Microsoft.ContainerRegistry/registries", registry)
    for label, (kind, name) in named.items():
        found[f"{label} {name}"] = f"{base}/providers/{kind}/{name}"
    return found


def storage_violations(name: str, account: Mapping[str, Any]) -> list[str]:
    problems = []
    services = (account.get("encryption") or {}).get("services") or {}
    blob = services.get("blob") or {}
    off = sorted(s for s, v in services.items() if isinstance(v, dict) and v.get("enabled") is False)
    if blob.get("enabled") is not True or off:
        problems.append(f"storage {name}: encryption is not on (blob: {blob.get('enabled')}, off: {off})")
    if account.get("allowSharedKeyAccess") is not False:
        problems.append(f"storage {name}: shared key access is allowed ({account.get('allowSharedKeyAccess')})")
    if account.get("minimumTlsVersion") not in TLS_OK:
        problems.append(f"storage {name}: minimum TLS version is {account.get('minimumTlsVersion')}, not TLS1_2")
    if account.get("allowBlobPublicAccess") is not False:
        problems.append(f"storage {name}: public blob access is allowed ({account.get('allowBlobPublicAccess')})")
    if account.get("enableHttpsTrafficOnly") is not True:
        problems.append(f"storage {name}: plain HTTP is accepted")
    return problems


def endpoint_violations(media: str, media_id: str, endpoints: list[Mapping[str, Any]]) -> list[str]:
    approved: set[str] = set()
    for endpoint in endpoints:
        connections = [*(endpoint.get("privateLinkServiceConnections") or []),
                       *(endpoint.get("manualPrivateLinkServiceConnections") or [])]
        for c in connections:
            props = c.get("properties") or c  # az flattens properties; ARM does not
            target = str(props.get("privateLinkServiceId", "")).lower()
            status = (props.get("privateLinkServiceConnectionState") or {}).get("status")
            if target == media_id.lower() and status == "Approved":
                approved |= {str(g).lower() for g in props.get("groupIds") or []}
    return [f"private endpoint: the media account {media} has no approved private endpoint for its {s} service"
            for s in SERVICES if s not in approved]


def covers(scope: str, resource_id: str) -> bool:
    """Whether an assignment at ``scope`` reaches the resource: the resource itself or anything above it."""
    s, r = scope.rstrip("/").lower(), resource_id.lower()
    return s == "" or r == s or r.startswith(s + "/") or s.startswith("/providers/microsoft.management/")


def role_violations(media: str, media_id: str, assignments: list[Mapping[str, Any]]) -> list[str]:
    problems = []
    for a in assignments:
        role = str(a.get("roleDefinitionName") or "")
        if not DATA_ROLE.match(role):
            continue
        scope = str(a.get("scope") or "")
        who = a.get("principalName") or a.get("principalId") or "?"
        below = scope.lower().startswith(media_id.lower() + "/")
        if below and NARROW.match(scope[len(media_id):]):
            continue  # one container, queue or table: what the templates grant
        if below or covers(scope, media_id):
            problems.append(f"role: {role} for {who} at {scope or '/'} is wider than one container, queue or "
                            f"table of the media account {media}")
    return problems


def _settings(listed: Any) -> list[Mapping[str, Any]]:
    if isinstance(listed, dict):  # older az: {"value": [...]}
        listed = listed.get("value", [])
    return [s for s in listed or [] if isinstance(s, dict)]


def sends_somewhere(setting: Mapping[str, Any]) -> bool:
    props = setting.get("properties") or setting
    target = any(props.get(k) for k in ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId",
                                        "marketplacePartnerId"))
    enabled = any(entry.get("enabled") for entry in [*(props.get("logs") or []), *(props.get("metrics") or [])])
    return bool(target and enabled)


def diagnostics_violations(watched: Mapping[str, str], settings: Mapping[str, Any]) -> list[str]:
    by_id = {k.lower(): v for k, v in settings.items()}
    return [f"diagnostics: the {label} has no diagnostic setting sending logs or metrics"
            for label, rid in watched.items()
            if not any(sends_somewhere(s) for s in _settings(by_id.get(rid.lower())))]


def evaluate(state: Mapping[str, Any]) -> list[str]:
    """Every violation of the recorded state, as a sentence that names the resource."""
    if not state.get("deployed", True):
        return [f"no deployment {state.get('deployment')} in {state.get('resourceGroup')}"]
    outputs = _outputs(state)
    accounts = state.get("storageAccounts") or {}
    media = outputs["mediaStorageAccountName"]
    if media not in accounts:
        raise ValueError(f"the state has no storage account {media}")
    media_id = str(accounts[media]["id"])
    problems: list[str] = []
    for name in (media, outputs.get("hostStorageAccountName", "")):
        if name:
            if name not in accounts:
                problems.append(f"storage {name}: not found in the resource group")
            else:
                problems += storage_violations(name, accounts[name])
    if (state.get("parameters") or {}).get("enablePrivateEndpoints"):
        problems += endpoint_violations(media, media_id, state.get("privateEndpoints") or [])
    problems += role_violations(media, media_id, state.get("roleAssignments") or [])
    problems += diagnostics_violations(watched_resources(outputs, media_id), state.get("diagnosticSettings") or {})
    return problems


def az_json(runner: Runner, argv: list[str]) -> Any:
    out = runner.run(argv, capture=True)
    return None if runner.dry_run else json.loads(out or "null")


def live_state(args: argparse.Namespace, runner: Runner) -> dict[str, Any]:
    group, deployment = args.resource_group, args.deployment
    params_file = args.params_dir / f"{args.env}.parameters.json"
    parameters = {k: v.get("value") for k, v in
                  json.loads(params_file.read_text(encoding="utf-8")).get("parameters", {}).items()}
    state: dict[str, Any] = {"resourceGroup": group, "env": args.env, "deployment": deployment,
                             "parameters": parameters}
    try:
        outputs = az_json(runner, ["az", "deployment", "group", "show", "--resource-group", group, "--name",
                                   deployment, "--query", "properties.outputs", "--output", "json"])
    except RuntimeError as exc:
        if "NotFound" not in str(exc):
            raise
        return {**state, "deployed": False}
    if runner.dry_run:
        outputs = {n: {"value": f"<{n}>"} for n in ("mediaStorageAccountName", "hostStorageAccountName",
                                                     "functionAppName", "aksName", "cosmosAccountName",
                                                     "frontDoorProfileName", "registryName")}
        outputs["recordsStore"] = {"value": str(parameters.get("recordsStore", "table"))}
    state["outputs"] = outputs
    names = _outputs(state)
    accounts: dict[str, Any] = {}
    for key in ("mediaStorageAccountName", "hostStorageAccountName"):
        name = names.get(key, "")
        if name:
            accounts[name] = az_json(runner, ["az", "storage", "account", "show", "--resource-group", group,
                                              "--name", name, "--output", "json"]) or {
                "id": f"/subscriptions/<subscription>/resourceGroups/{group}/providers/Microsoft.Storage/"
                      f"storageAccounts/{name}"}
    state["storageAccounts"] = accounts
    media_id = str(accounts[names["mediaStorageAccountName"]]["id"])
    if parameters.get("enablePrivateEndpoints"):
        state["privateEndpoints"] = az_json(runner, ["az", "network", "private-endpoint", "list",
                                                     "--resource-group", group, "--output", "json"]) or []
    # the account and everything above it (group, subscription, management groups), then each service: narrower
    # assignments (one container, queue or table) are the compliant ones and need no listing
    assignments = az_json(runner, ["az", "role", "assignment", "list", "--scope", media_id, "--include-inherited",
                                   "--output", "json"]) or []
    for service in SERVICES:
        assignments += az_json(runner, ["az", "role", "assignment", "list", "--scope",
                                        f"{media_id}/{service}Services/default", "--output", "json"]) or []
    state["roleAssignments"] = assignments
    state["diagnosticSettings"] = {
        rid: az_json(runner, ["az", "monitor", "diagnostic-settings", "list", "--resource", rid,
                              "--output", "json"]) or []
        for rid in watched_resources(names, media_id).values()}
    return state


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--state-file", type=Path, help="recorded state (what --record-file wrote)")
    p.add_argument("--env", help="parameter file infra/params/ENV.parameters.json (production-eastus, ...)")
    p.add_argument("--resource-group", help="the stack's resource group")
    p.add_argument("--deployment", help="deployment whose outputs name the resources (default: transcoder-ENV)")
    p.add_argument("--params-dir", type=Path, default=Path("infra/params"))
    p.add_argument("--record-file", type=Path, help="write the state read to this file")
    p.add_argument("--allow-undeployed", action="store_true",
                   help="a group without the deployment passes with a notice (nothing deployed yet)")
    p.add_argument("-n", "--dry-run", action="store_true", default=dry_run_env(),
                   help="print the az commands instead of running them (also DRY_RUN=1)")
    args = p.parse_args(argv)
    if bool(args.state_file) == bool(args.resource_group):
        p.error("give either --state-file (recorded) or --env with --resource-group (live)")
    if args.resource_group and not args.env:
        p.error("--resource-group needs --env")
    args.deployment = args.deployment or (f"transcoder-{args.env}" if args.env else "")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.state_file:
            state = load_json(args.state_file)
        else:
            runner = Runner(args.dry_run)
            state = live_state(args, runner)
            if args.dry_run:
                print(json.dumps({"resourceGroup": args.resource_group, "decision": "dry-run"}))
                return EXIT_PASS
            if args.record_file:
                args.record_file.parent.mkdir(parents=True, exist_ok=True)
                args.record_file.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        group = state.get("resourceGroup", "?")
        if not state.get("deployed", True) and args.allow_undeployed:
            log(f"::notice::{group}: no deployment {state.get('deployment')} yet: nothing deployed to check")
            print(json.dumps({"resourceGroup": group, "decision": "not-deployed", "violations": []}))
            return EXIT_PASS
        violations = evaluate(state)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        log(f"compliance: cannot read the deployed state: {exc}")
        return EXIT_BAD_INPUT
    for v in violations:
        log(f"{group}: VIOLATION {v}")
    if not violations:
        log(f"{group}: compliant")
    print(json.dumps({"resourceGroup": group, "decision": "fail" if violations else "pass",
                      "violations": violations}, indent=2))
    return EXIT_VIOLATIONS if violations else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
