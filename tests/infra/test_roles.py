"""Role assignments: each on one container, queue, table or named resource (never a storage account, group or
subscription, but for the one role that exists at the account scope only: Storage Blob Delegator), each a known
built-in role that belongs on its scope, and exactly the grants the components need: the worker's, the Function's
(its blob trigger and the dashboard API), KEDA's, the pipeline's and the platform's."""

from __future__ import annotations

import pytest

from tests.infra import rbac
from tests.infra.bicep import Template

WORKER, FUNCTION, KEDA, PIPELINE = "workerPrincipalId", "functionPrincipalId", "kedaPrincipalId", "pipelinePrincipalId"
EXPECTED = {
    "modules/media-roles.bicep": {
        ("uploads", "Storage Blob Data Reader", WORKER),
        ("outputs", "Storage Blob Data Contributor", WORKER),
        ("jobs", "Storage Queue Data Message Processor", WORKER),
        ("jobs", "Storage Queue Data Message Sender", WORKER),
        ("poison", "Storage Queue Data Message Sender", WORKER),
        ("records", "Storage Table Data Contributor", WORKER),
        ("uploads", "Storage Blob Data Contributor", FUNCTION),  # the blob trigger reads; the upload SAS writes
        ("outputs", "Storage Blob Data Reader", FUNCTION),  # the read links
        ("media", "Storage Blob Delegator", FUNCTION),  # the user delegation key of every link
        ("poison", "Storage Queue Data Reader", FUNCTION),  # GET /api/poison peeks
        ("jobs", "Storage Queue Data Message Sender", FUNCTION),  # ingest, and POST /api/jobs/{id}/retry
        ("triggerPoison", "Storage Queue Data Contributor", FUNCTION),
        ("records", "Storage Table Data Contributor", FUNCTION),
        ("jobs", "Storage Queue Data Reader", KEDA),
        ("uploads", "Storage Blob Data Contributor", PIPELINE),
        ("outputs", "Storage Blob Data Reader", PIPELINE),
    },
    "modules/host-roles.bicep": {
        ("containers", "Storage Blob Data Owner", FUNCTION),
        ("queues", "Storage Queue Data Contributor", FUNCTION),
    },
    "modules/cluster-access.bicep": {
        ("registry", "AcrPull", "kubeletObjectId"),
        ("cluster", "Azure Kubernetes Service Cluster User Role", PIPELINE),
        ("namespaceScope", "Azure Kubernetes Service RBAC Writer", PIPELINE),
    },
    "modules/cluster-monitoring.bicep": {
        ("monitorWorkspace", "Monitoring Data Reader", PIPELINE),
        ("monitorWorkspace", "Monitoring Data Reader", FUNCTION),  # GET /api/fleet
    },
    "modules/eventgrid.bicep": {("deadLetter", "Storage Blob Data Contributor", "<expression>")},
}
# the existing resource each media scope names, by its name
MEDIA_SCOPES = {"media": "mediaAccountName", "uploads": "uploadsContainer", "outputs": "outputsContainer",
                "jobs": "jobsQueue", "poison": "${jobsQueue}-poison", "triggerPoison": "triggerPoisonQueue",
                "records": "jobsTable"}


def test_every_assignment_is_a_known_role_on_a_narrow_scope(templates: dict[str, Template]) -> None:
    assert [p for t in templates.values() for p in rbac.role_problems(t)] == []


def test_the_grants_are_exactly_the_needed_ones(templates: dict[str, Template]) -> None:
    found = {name: rbac.grants(t) for name, t in templates.items() if rbac.grants(t)}
    assert found == EXPECTED


def test_media_scopes_are_the_named_containers_queues_and_table(templates: dict[str, Template]) -> None:
    roles = templates["modules/media-roles.bicep"]
    for symbol, name in MEDIA_SCOPES.items():
        scope = roles.resource(symbol)
        assert scope.existing and scope.body["name"] == name, (symbol, scope.body)
        assert scope.type in rbac.SCOPES or scope.type == rbac.ACCOUNT


def test_the_role_ids_in_the_templates_are_the_listed_built_in_ones(templates: dict[str, Template]) -> None:
    """Each module's `roles` variable names its ids; the name must be the role the id is."""
    every = {**rbac.BUILT_IN_ROLES, **rbac.COSMOS_TABLE_ROLES}
    seen = set()
    for t in templates.values():
        for key, guid in (t.variables.get("roles") or {}).items():
            assert rbac.ROLE_KEYS.get(key) == every.get(guid), (t.name, key, guid)
            seen.add(guid)
    assert seen == {*rbac.BUILT_IN_ROLES, "00000000-0000-0000-0000-000000000002"}


def test_optional_grants_follow_their_switches(main: Template, templates: dict[str, Template]) -> None:
    media = templates["modules/media-roles.bicep"]
    conditions = {r.symbol: r.condition for r in media.resources if r.type == rbac.ROLE_ASSIGNMENT}
    assert {s for s, c in conditions.items() if c == "withPipeline"} == {"pipelineUploadsContributor",
                                                                         "pipelineOutputsReader"}
    assert {s for s, c in conditions.items() if c == "tableRoles"} == {"workerRecordsContributor",
                                                                       "functionRecordsContributor"}
    modules = {m.symbol: m for m in main.modules}
    assert modules["mediaRoles"].body["params"]["tableRoles"] == {"operator": {"type": "not",
                                                                               "operands": {"bool_value": "useCosmos"}}}
    assert modules["cosmosRoles"].condition == "useCosmos" and modules["cosmos"].condition == "useCosmos"


def test_cosmos_data_plane_roles_are_on_the_jobs_table(main: Template, templates: dict[str, Template]) -> None:
    assert rbac.cosmos_role_problems(templates["modules/cosmos-roles.bicep"]) == []
    writers = {m.symbol: m for m in main.modules}["cosmosRoles"].body["params"]["writerPrincipalIds"]
    assert [w["operator"]["operands"]["operand_2"]["operator"]["operands"]["operand_2"] for w in writers] == \
        ["workerPrincipalId", "functionPrincipalId"]


@pytest.mark.parametrize(("name", "expected"), [
    ("account-scope-role", "scoped to a Microsoft.Storage/storageAccounts, not a container"),
    ("group-scope-role", "no scope, so the whole resource group"),
    ("unknown-role", "'b24988ac-6180-42a0-ab88-20f7382dd24c' is not a known built-in role"),
    ("role-off-its-scope", "AcrPull does not belong on a Microsoft.Storage/storageAccounts/blobServices/containers"),
    ("delegator-on-container",
     "Storage Blob Delegator does not belong on a Microsoft.Storage/storageAccounts/blobServices/containers"),
])
def test_the_scope_and_role_checks_fail_on_samples(sample: dict[str, Template], name: str, expected: str) -> None:
    problems = rbac.role_problems(sample[name])
    assert any(expected in p for p in problems), problems


def test_the_account_scope_is_allowed_for_the_delegator_alone(sample: dict[str, Template],
                                                              templates: dict[str, Template]) -> None:
    """Storage Blob Delegator is the one role on an account (it exists there only); any other role there fails."""
    assert rbac.role_problems(sample["delegator-on-account"]) == []
    assert set(rbac.ACCOUNT_ONLY_ROLES) == {"Storage Blob Delegator"}
    on_accounts = {(t.name, role) for t in templates.values() for scope, role, _ in rbac.grants(t)
                   if any(r.symbol == scope and r.type == rbac.ACCOUNT for r in t.resources)}
    assert on_accounts == {("modules/media-roles.bicep", "Storage Blob Delegator")}


def test_the_cosmos_check_fails_on_an_account_wide_assignment(sample: dict[str, Template]) -> None:
    problems = rbac.cosmos_role_problems(sample["cosmos-account-scope"])
    assert len(problems) == 1 and "writers: scope" in problems[0] and "is not the jobs table" in problems[0]
