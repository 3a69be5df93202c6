"""Rules every template under infra/ follows, as functions that list what breaks them (an empty list: none).

Each takes parsed templates (bicep.Template) or their text, so that the tests run them on infra/ (expecting
nothing) and on small broken samples (expecting the breach named).
"""

from __future__ import annotations

import re

from tests.infra.bicep import Template, scope_symbol

TAG_KEYS = {"environment", "service", "owner", "costCenter"}

# child and extension resources that take no tags (their parent or scope carries them), and the two cost resources
UNTAGGED_TYPES = {
    "Microsoft.Storage/storageAccounts/blobServices", "Microsoft.Storage/storageAccounts/queueServices",
    "Microsoft.Storage/storageAccounts/tableServices", "Microsoft.Storage/storageAccounts/blobServices/containers",
    "Microsoft.Storage/storageAccounts/queueServices/queues", "Microsoft.Storage/storageAccounts/tableServices/tables",
    "Microsoft.Storage/storageAccounts/managementPolicies", "Microsoft.Insights/diagnosticSettings",
    "Microsoft.Authorization/roleAssignments", "Microsoft.Insights/dataCollectionRuleAssociations",
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials", "Microsoft.Web/sites/config",
    "Microsoft.EventGrid/systemTopics/eventSubscriptions", "Microsoft.Cdn/profiles/originGroups",
    "Microsoft.Cdn/profiles/originGroups/origins", "Microsoft.Cdn/profiles/afdEndpoints/routes",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "Microsoft.Web/sites/slots/config",
    "Microsoft.Web/staticSites/linkedBackends",
    "Microsoft.DocumentDB/databaseAccounts/tableRoleAssignments",
    "Microsoft.Consumption/budgets", "Microsoft.CostManagement/scheduledActions",
}

# resource type -> whether it must have a diagnostic setting (True), or why not (a reason)
DIAGNOSTICS: dict[str, bool | str] = {
    "Microsoft.Storage/storageAccounts": True,
    "Microsoft.Storage/storageAccounts/blobServices": True,
    "Microsoft.Storage/storageAccounts/queueServices": True,
    "Microsoft.Storage/storageAccounts/tableServices": True,
    "Microsoft.Web/sites": True,
    "Microsoft.Web/sites/slots": True,
    "Microsoft.ContainerService/managedClusters": True,
    "Microsoft.DocumentDB/databaseAccounts": True,
    "Microsoft.Cdn/profiles": True,
    "Microsoft.ContainerRegistry/registries": True,
    "Microsoft.EventGrid/systemTopics": True,
    "Microsoft.Web/staticSites": True,
    "Microsoft.Web/serverfarms": "platform metrics only, read without a setting",
    "Microsoft.OperationalInsights/workspaces": "the destination of the settings",
    "Microsoft.Insights/components": "writes into the workspace itself (workspace-based)",
    "Microsoft.Monitor/accounts": "the Prometheus metrics store; no resource logs",
    "Microsoft.Insights/actionGroups": "no resource logs",
    "Microsoft.Insights/dataCollectionEndpoints": "no resource logs",
    "Microsoft.Insights/dataCollectionRules": "no resource logs",
    "Microsoft.AlertsManagement/prometheusRuleGroups": "no resource logs; fired alerts are in the activity log",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "sign-ins are in Entra ID's logs",
    "Microsoft.Network/privateEndpoints": "platform metrics only",
    "Microsoft.DocumentDB/databaseAccounts/tables": "logged by its account's setting",
    "Microsoft.Cdn/profiles/afdEndpoints": "logged by its profile's setting",
    **{t: "a child or extension resource, logged by its parent's setting" for t in UNTAGGED_TYPES},
}

# names Azure fixes: the one service or zone-group child ('default'), the cluster's data collection endpoint
# association, the slot-sticky settings and the authentication settings of a site or slot
FIXED_NAMES = {"default", "configurationAccessEndpoint", "slotConfigNames", "authsettingsV2"}

REGIONS = [
    "eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus", "southcentralus",
    "westcentralus", "canadacentral", "canadaeast", "brazilsouth", "northeurope", "westeurope", "uksouth", "ukwest",
    "francecentral", "germanywestcentral", "norwayeast", "swedencentral", "switzerlandnorth", "polandcentral",
    "italynorth", "spaincentral", "eastasia", "southeastasia", "japaneast", "japanwest", "koreacentral",
    "australiaeast", "australiasoutheast", "centralindia", "southindia", "uaenorth", "southafricanorth",
    "qatarcentral", "israelcentral", "mexicocentral", "newzealandnorth", "indonesiacentral", "malaysiawest",
]
_REGION = re.compile(r"\b(" + "|".join(sorted(REGIONS, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def tag_problems(t: Template) -> list[str]:
    """Every taggable resource is tagged with the `tags` object the file is given (never a literal)."""
    problems = []
    for res in t.resources:
        if res.existing or res.type in UNTAGGED_TYPES:
            continue
        tags = res.body.get("tags")
        if tags != "tags" or "tags" not in {*t.params, *t.variables}:
            problems.append(f"{t.name}: {res.symbol} ({res.type}) is not tagged with `tags` (tags: {tags!r})")
    return problems


def main_tag_problems(main: Template, templates: dict[str, Template]) -> list[str]:
    """main builds `tags` once, with the four tags from parameters, and hands it to every module that takes it."""
    problems = []
    tags = main.variables.get("tags")
    if not isinstance(tags, dict) or set(tags) != TAG_KEYS:
        problems.append(f"{main.name}: var tags has keys {sorted(tags) if isinstance(tags, dict) else tags}, "
                        f"not {sorted(TAG_KEYS)}")
    elif not all(isinstance(v, str) and v in main.params for v in tags.values()):
        problems.append(f"{main.name}: var tags takes a value that is not a parameter: {tags}")
    for mod in main.modules:
        takes_tags = mod.path in templates and "tags" in templates[mod.path].params
        if takes_tags and mod.body.get("params", {}).get("tags") != "tags":
            problems.append(f"{main.name}: module {mod.symbol} is not given tags: tags")
    return problems


def location_problems(t: Template) -> list[str]:
    """A resource's location is the `location` parameter, or 'global' for the global services."""
    problems = []
    for res in t.resources:
        if "location" not in res.body:
            continue
        location = res.body["location"]
        if location not in ("location", "global") or location == "location" and "location" not in t.params:
            problems.append(f"{t.name}: {res.symbol} has location {location!r}, not the location parameter")
    return problems


def region_literal_problems(name: str, text: str) -> list[str]:
    """No Azure region is named in a template, not even in a comment: regions come from parameters."""
    return [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: names the region {m.group(0)!r}"
            for m in _REGION.finditer(text)]


def literal_name_problems(t: Template) -> list[str]:
    """Every resource's name comes from a parameter, a variable or a function of them; only FIXED_NAMES are
    literal."""
    problems = []
    for res in t.resources:
        name = res.body.get("name")
        if isinstance(name, str) and "${" not in name and not t.is_reference(name) and name not in FIXED_NAMES:
            problems.append(f"{t.name}: {res.symbol} ({res.type}) has the literal name {name!r}")
        if isinstance(name, str) and "${" in name and not re.search(r"\$\{[^}]*[A-Za-z_]", name):
            problems.append(f"{t.name}: {res.symbol} has a name with nothing interpolated: {name!r}")
    return problems


def diagnostics_problems(t: Template) -> list[str]:
    """Each resource of a type that has resource logs has a diagnostic setting to the Log Analytics workspace;
    every type is classified (a new type fails until DIAGNOSTICS says which it is)."""
    settings = {}
    for res in t.resources:
        if res.type == "Microsoft.Insights/diagnosticSettings":
            settings[scope_symbol(res.body.get("scope"))] = res.body.get("properties", {})
    problems = []
    for res in t.resources:
        if res.existing or res.type == "Microsoft.Insights/diagnosticSettings":
            continue
        need = DIAGNOSTICS.get(res.type)
        if need is None:
            problems.append(f"{t.name}: {res.symbol} has type {res.type}, which DIAGNOSTICS does not classify")
        elif need is True:
            props = settings.get(res.symbol)
            if props is None:
                problems.append(f"{t.name}: {res.symbol} ({res.type}) has no diagnostic setting")
            elif props.get("workspaceId") != "logAnalyticsWorkspaceId" or \
                    not (props.get("logs") or props.get("metrics")):
                problems.append(f"{t.name}: the diagnostic setting of {res.symbol} sends nothing to the workspace")
    return problems


def description_problems(t: Template) -> list[str]:
    """Every parameter says what it is for (@description)."""
    return [f"{t.name}: param {name} has no @description" for name in t.params
            if not str(t.decorators(name).get("description") or "").strip()]


def wiring_problems(main: Template, modules: dict[str, Template]) -> list[str]:
    """What a compiler would catch: main calls existing files, passes each module every parameter it lacks a
    default for and no other, and reads only outputs the module declares."""
    problems = []
    symbols = {}
    for mod in main.modules:
        target = modules.get(mod.path)
        if target is None:
            problems.append(f"{main.name}: module {mod.symbol} calls {mod.path}, which is not a template here")
            continue
        symbols[mod.symbol] = target
        given = set(mod.body.get("params", {}))
        required = {n for n, p in target.params.items() if p.get("default") is None}
        for missing in sorted(required - given):
            problems.append(f"{main.name}: module {mod.symbol} does not pass {missing} to {mod.path}")
        for unknown in sorted(given - set(target.params)):
            problems.append(f"{main.name}: module {mod.symbol} passes {unknown}, which {mod.path} does not declare")
        if target.scope != "resourceGroup" and not mod.body.get("scope"):
            problems.append(f"{main.name}: module {mod.symbol} ({target.scope} scope) has no scope")
    for symbol, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", main.text):
        if symbol in symbols and output not in symbols[symbol].outputs:
            problems.append(f"{main.name}: {symbol}.outputs.{output} is not an output of {symbols[symbol].name}")
    return problems
