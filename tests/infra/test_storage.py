"""The accounts and the names: security settings of both storage accounts, the media account's containers,
queues, versioning, soft delete and lifecycle rules, and names that Azure accepts for every parameter file."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.bicep import Template
from tests.infra.conftest import INFRA
from tests.infra.evaluate import evaluate
from tests.infra.paramfiles import FILES, values

ACCOUNT = "Microsoft.Storage/storageAccounts"
SECURE = {"allowBlobPublicAccess": False, "allowSharedKeyAccess": False, "minimumTlsVersion": "TLS1_2",
          "supportsHttpsTrafficOnly": True, "defaultToOAuthAuthentication": True}
TEST_PREFIXES = ["smoke/", "perf/", "e2e/", "integration/", "loadtest/"]


@pytest.mark.parametrize("module", ["modules/storage-media.bicep", "modules/storage-host.bicep"])
def test_accounts_take_no_keys_no_anonymous_reads_and_tls_1_2(templates: dict[str, Template], module: str) -> None:
    account = [r for r in templates[module].resources if r.type == ACCOUNT][0].body["properties"]
    assert {k: account.get(k) for k in SECURE} == SECURE


def test_media_account_keeps_versions_and_deleted_blobs(templates: dict[str, Template]) -> None:
    blobs = templates["modules/storage-media.bicep"].resource("blobService").body["properties"]
    assert blobs["isVersioningEnabled"] is True
    assert blobs["deleteRetentionPolicy"] == {"enabled": True, "days": "softDeleteDays"}
    assert blobs["containerDeleteRetentionPolicy"] == {"enabled": True, "days": "softDeleteDays"}


def test_media_account_has_the_containers_queues_and_table(templates: dict[str, Template]) -> None:
    media = templates["modules/storage-media.bicep"]
    env = {"uploadsContainer": "uploads", "outputsContainer": "outputs", "deadLetterContainer": "dl",
           "jobsQueue": "transcode-jobs", "triggerPoisonQueue": "webjobs-blobtrigger-poison"}
    containers, queues = media.resource("containers").loop, media.resource("queues").loop
    assert containers is not None and queues is not None
    assert evaluate(containers["detail"]["array_name"], env, media) == ["uploads", "outputs", "dl"]
    assert evaluate(queues["detail"]["array_name"], env, media) == \
        ["transcode-jobs", "transcode-jobs-poison", "webjobs-blobtrigger-poison"]
    table = media.resource("table")
    assert table.body["name"] == "jobsTable" and table.condition == "createJobsTable"
    assert media.resource("containers").body["properties"] == {"publicAccess": "None"}


def test_lifecycle_tiers_outputs_and_deletes_test_blobs(templates: dict[str, Template]) -> None:
    media = templates["modules/storage-media.bicep"]
    env = {"uploadsContainer": "uploads", "outputsContainer": "outputs"}
    rules = {r["name"]: r["definition"] for r in
             evaluate(media.resource("lifecycle").body, env, media)["properties"]["policy"]["rules"]}
    tiering = rules["outputs-to-cool-then-archive"]
    assert tiering["filters"]["prefixMatch"] == ["outputs/"]
    assert tiering["actions"]["baseBlob"] == {
        "tierToCool": {"daysAfterModificationGreaterThan": "outputsCoolAfterDays"},
        "tierToArchive": {"daysAfterModificationGreaterThan": "outputsArchiveAfterDays"}}
    test_blobs = rules["delete-test-blobs"]
    assert test_blobs["filters"]["prefixMatch"] == [f"{c}/{p}" for c in ("uploads", "outputs") for p in TEST_PREFIXES]
    assert test_blobs["actions"]["baseBlob"]["delete"] == \
        {"daysAfterModificationGreaterThan": "testBlobsDeleteAfterDays"}
    assert rules["expire-old-versions"]["actions"]["version"]["delete"] == \
        {"daysAfterCreationGreaterThan": "versionRetentionDays"}


def test_private_endpoints_follow_their_switch(templates: dict[str, Template]) -> None:
    media = templates["modules/storage-media.bicep"]
    endpoints = media.resource("privateEndpoints")
    assert endpoints.condition == "enablePrivateEndpoints"
    assert media.variables["endpointServices"] == ["blob", "queue", "table"]
    acls = media.resource("account").body["properties"]["networkAcls"]
    assert acls["defaultAction"]["operator"]["operands"] == {"condition": "enablePrivateEndpoints",
                                                             "true_value": "Deny", "false_value": "Allow"}


def _main_values(main: Template, given: dict[str, Any]) -> dict[str, Any]:
    defaults = {name: p["default"] for name, p in main.params.items()
                if isinstance(p.get("default"), str | int | bool | list)}
    return {**defaults, **given}


@pytest.mark.parametrize("name", [*FILES, "longest-prefix"])
def test_names_fit_azure_rules_for_every_file(main: Template, name: str) -> None:
    if name == "longest-prefix":
        given = {**values(json.loads((INFRA / "params" / "production-southeastasia.parameters.json").read_text())),
                 "namePrefix": "media-transcoder", "regionShort": "seaa", "functionSlotName": "canary-01"}
    else:
        given = values(json.loads((INFRA / "params" / f"{name}.parameters.json").read_text()))
    env = _main_values(main, given)
    names = evaluate(main.variables["names"], env, main)
    for account in ("media", "host", "registry"):
        limit = 24 if account != "registry" else 50
        assert re.fullmatch(rf"[a-z0-9]{{3,{limit}}}", names[account]), (account, names[account])
    assert names["media"] != names["host"]
    assert len(names["functionApp"]) <= 60 and len(names["cluster"]) <= 63 and len(names["cosmos"]) <= 44
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,38}[a-z0-9]", names["dashboard"]), names["dashboard"]  # 2-40
    for host_id in (evaluate("hostId", env, main), evaluate("slotHostId", env, main)):
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}[a-z0-9]", host_id), host_id
    for queue in evaluate("hostQueues", env, main):
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", queue) and "--" not in queue, queue
