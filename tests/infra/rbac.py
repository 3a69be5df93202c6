"""Role assignments in the templates: built-in role ids by name, where each may be granted, and the grants.

Azure RBAC assignments (Microsoft.Authorization/roleAssignments) name a built-in role by id and a scope by resource
symbol; the scope must be a container, queue or table, or a named resource narrower than an account (a registry, a
cluster, a namespace in it, an Azure Monitor workspace), never a storage account, group or subscription. The one
exception is ACCOUNT_ONLY_ROLES: a role that exists at the account scope or wider only. Cosmos DB for Table's
data-plane assignments are its own resource type, scoped by a path inside the account.
"""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import Template, scope_symbol

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
COSMOS_TABLE_ASSIGNMENT = "Microsoft.DocumentDB/databaseAccounts/tableRoleAssignments"

# built-in Azure roles by id (az role definition list --name <id>)
BUILT_IN_ROLES = {
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "19e7f393-937e-4f77-808e-94535e297925": "Storage Queue Data Reader",
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": "Storage Queue Data Message Processor",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "4abbcc35-e782-43d8-92c5-2d3f1bd2253f": "Azure Kubernetes Service Cluster User Role",
    "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb": "Azure Kubernetes Service RBAC Writer",
    "b0d8363b-8ddd-447d-831f-62ca05bff136": "Monitoring Data Reader",
    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a": "Storage Blob Delegator",
}

# Cosmos DB for Table's built-in data-plane roles (tableRoleDefinitions of every account)
COSMOS_TABLE_ROLES = {
    "00000000-0000-0000-0000-000000000001": "Cosmos DB Built-in Data Reader",
    "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
}

# the key each template's `roles` variable uses for a role
ROLE_KEYS = {
    "storageBlobDataReader": "Storage Blob Data Reader",
    "storageBlobDataContributor": "Storage Blob Data Contributor",
    "storageBlobDataOwner": "Storage Blob Data Owner",
    "storageQueueDataReader": "Storage Queue Data Reader",
    "storageQueueDataMessageProcessor": "Storage Queue Data Message Processor",
    "storageQueueDataMessageSender": "Storage Queue Data Message Sender",
    "storageQueueDataContributor": "Storage Queue Data Contributor",
    "storageTableDataContributor": "Storage Table Data Contributor",
    "acrPull": "AcrPull",
    "aksClusterUser": "Azure Kubernetes Service Cluster User Role",
    "aksRbacWriter": "Azure Kubernetes Service RBAC Writer",
    "monitoringDataReader": "Monitoring Data Reader",
    "storageBlobDelegator": "Storage Blob Delegator",
    "cosmosTableDataContributor": "Cosmos DB Built-in Data Contributor",
}

_BLOB = {"Storage Blob Data Reader", "Storage Blob Data Contributor", "Storage Blob Data Owner"}
_QUEUE = {"Storage Queue Data Reader", "Storage Queue Data Message Processor", "Storage Queue Data Message Sender",
          "Storage Queue Data Contributor"}
# scope type -> the roles that make sense on it
SCOPES = {
    "Microsoft.Storage/storageAccounts/blobServices/containers": _BLOB,
    "Microsoft.Storage/storageAccounts/queueServices/queues": _QUEUE,
    "Microsoft.Storage/storageAccounts/tableServices/tables": {"Storage Table Data Contributor"},
    "Microsoft.ContainerRegistry/registries": {"AcrPull"},
    "Microsoft.ContainerService/managedClusters": {"Azure Kubernetes Service Cluster User Role"},
    "Microsoft.ContainerService/managedClusters/namespaces": {"Azure Kubernetes Service RBAC Writer"},
    "Microsoft.Monitor/accounts": {"Monitoring Data Reader"},
}

# roles allowed on a storage account, the one scope narrower than none of them, and why
ACCOUNT = "Microsoft.Storage/storageAccounts"
ACCOUNT_ONLY_ROLES = {
    "Storage Blob Delegator": "Get User Delegation Key acts on the account: the role is assignable at the account "
                              "scope or wider only, and grants no data access (a SAS it signs grants at most what its "
                              "signer's data roles on a container allow)",
}


def role_id(t: Template, value: Any) -> str | None:
    """The GUID of ``subscriptionResourceId('Microsoft.Authorization/roleDefinitions', <id>)``."""
    function = value.get("function", {}) if isinstance(value, dict) else {}
    args = function.get("parameters", {})
    if function.get("type") != "subscription_resource_id" or \
            args.get("resource_type") != "Microsoft.Authorization/roleDefinitions":
        return None
    resolved = t.resolve(args.get("resource_name_1"))
    return resolved if isinstance(resolved, str) else None


def role_problems(t: Template) -> list[str]:
    problems = []
    for res in t.resources:
        if res.type != ROLE_ASSIGNMENT:
            continue
        where = f"{t.name}: {res.symbol}"
        props = res.body.get("properties", {})
        guid = role_id(t, props.get("roleDefinitionId"))
        role = BUILT_IN_ROLES.get(guid or "")
        if role is None:
            problems.append(f"{where}: role {guid or props.get('roleDefinitionId')!r} is not a known built-in role")
        symbol = scope_symbol(res.body.get("scope"))
        if symbol is None:
            problems.append(f"{where}: no scope, so the whole resource group")
            continue
        target = [r for r in t.resources if r.symbol == symbol]
        if not target:
            problems.append(f"{where}: scope {symbol!r} is not a resource of {t.name}")
        elif target[0].type == ACCOUNT and role in ACCOUNT_ONLY_ROLES:
            pass
        elif target[0].type not in SCOPES:
            problems.append(f"{where}: scoped to a {target[0].type}, not a container, queue, table or named resource")
        elif role is not None and role not in SCOPES[target[0].type]:
            problems.append(f"{where}: {role} does not belong on a {target[0].type}")
        if not (isinstance(res.body.get("name"), dict) and res.body["name"].get("function", {}).get("type") == "guid"):
            problems.append(f"{where}: the name is not a guid()")
        if props.get("principalType") != "ServicePrincipal":
            problems.append(f"{where}: principalType is not ServicePrincipal")
    return problems


def grants(t: Template) -> set[tuple[str, str, str]]:
    """(scope symbol, role name, principal) of every Azure RBAC assignment in a template."""
    found = set()
    for res in t.resources:
        if res.type == ROLE_ASSIGNMENT:
            props = res.body.get("properties", {})
            role = BUILT_IN_ROLES.get(role_id(t, props.get("roleDefinitionId")) or "", "?")
            principal = props.get("principalId")
            found.add((str(scope_symbol(res.body.get("scope"))), role,
                       principal if isinstance(principal, str) else "<expression>"))
    return found


def cosmos_role_problems(t: Template) -> list[str]:
    """Cosmos DB data-plane assignments: a built-in Table role of the same account, on one table."""
    problems = []
    for res in t.resources:
        if res.type != COSMOS_TABLE_ASSIGNMENT:
            continue
        props = res.body.get("properties", {})
        definition = str(props.get("roleDefinitionId"))
        prefix = "${account.id}/tableRoleDefinitions/"
        if not definition.startswith(prefix):
            problems.append(f"{t.name}: {res.symbol}: role {definition!r} is not one of the account's definitions")
        else:
            ref = definition[len(prefix):]  # a GUID, or ${roles.<name>}
            if ref.startswith("${") and ref.endswith("}") and "." in ref:
                var, key = ref[2:-1].split(".", 1)
                ref = t.resolve({"operator": {"type": "property_accessor",
                                              "operands": {"operand_1": var, "operand_2": key}}})
            if ref not in COSMOS_TABLE_ROLES:
                problems.append(f"{t.name}: {res.symbol}: {ref!r} is not a built-in Cosmos DB Table role")
        if props.get("scope") != "${account.id}/dbs/TablesDB/colls/${jobsTable}":
            problems.append(f"{t.name}: {res.symbol}: scope {props.get('scope')!r} is not the jobs table")
    return problems
